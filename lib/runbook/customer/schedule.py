"""The agreed backup and patch schedule of a customer, in words and as a table (Stage 3 notebook, evidence)."""

from __future__ import annotations

from html import escape

from . import catalogue
from .params import Parameters

#: the items that deploy what the schedule says (a tier without them shows no schedule of theirs)
BACKUP_ITEM, PATCHING_ITEM = "s3-backup-deployed", "s3-patching-deployed"


class AgreedSchedule:
    """What was agreed with the customer (`backup`, `patching`), shown before the items that deploy it; only what the
    customer's tier deploys (a Premium customer's file may hold a schedule its tier does not get)."""

    def __init__(self, params: Parameters) -> None:
        self.params = params
        items = catalogue.load()
        self.backup = params.backup if items.item(BACKUP_ITEM).applies_to(params.tier) else None
        self.patching = params.patching if items.item(PATCHING_ITEM).applies_to(params.tier) else None

    def sentences(self) -> list[str]:
        p = self.params
        out = []
        if self.backup is not None:
            out.append(self.backup.words())
        if self.patching is not None:
            out += [f"Patch window {w.words()}" for w in self.patching.schedule()]
        if not out and (p.backup is not None or p.patching is not None):
            return [f"The {p.tier} tier deploys no backup or patch schedule (the parameters' ones are not used)."]
        return out or [f"No backup or patch schedule in parameters/{p.customer}.yml (tier {p.tier})."]

    def rows(self) -> list[dict[str, str]]:
        p = self.params
        rows = []
        if self.backup is not None:
            b = self.backup
            kept = ", ".join(
                f"{n} {unit}"
                for n, unit in (
                    (b.retention_days, "days"),
                    (b.retention_weeks, "weeks"),
                    (b.retention_months, "months"),
                    (b.retention_years, "years"),
                )
                if n
            )
            when = "daily" if b.frequency == "Daily" else "weekly on " + ", ".join(b.days)
            rows.append(
                {
                    "what": "backup",
                    "when": f"{when} at {b.time}",
                    "time zone": b.time_zone,
                    "lasts / keeps": kept,
                    "applies to": "every managed VM",
                    "other": f"RPO {b.rpo_hours} h, RTO {b.rto_hours} h, {b.redundancy}",
                }
            )
        if self.patching is not None:
            for w in self.patching.schedule():
                who = (
                    f"{self.patching.tag_key}={w.tag_value}"
                    if w.tag_value
                    else f"{p.managed_tag.key}={p.managed_tag.value}"
                )
                rows.append(
                    {
                        "what": f"patch window {w.name}",
                        "when": f"{', '.join(w.days)} at {w.start}",
                        "time zone": w.time_zone,
                        "lasts / keeps": w.duration(),
                        "applies to": f"VMs tagged {who}",
                        "other": f"reboot {w.reboot}; Windows {'/'.join(w.windows_classifications)}; Linux {'/'.join(w.linux_classifications)}",
                    }
                )
        return rows

    def _repr_html_(self) -> str:
        text = "".join(f"<p>{escape(s)}</p>" for s in self.sentences())
        rows = self.rows()
        if not rows:
            return text
        head = "".join(f"<th>{escape(k)}</th>" for k in rows[0])
        body = "".join("<tr>" + "".join(f"<td>{escape(v)}</td>" for v in r.values()) + "</tr>" for r in rows)
        return f"<h4>Agreed schedule</h4>{text}<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"

    def __repr__(self) -> str:
        lines = ["Agreed schedule:"] + [f"  {s}" for s in self.sentences()]
        for r in self.rows():
            lines.append("  | " + " | ".join(r.values()))
        return "\n".join(lines)
