"""Stage 3: the credentials needed to maintain the customer are in the MSP's stores (names and metadata only)."""

from __future__ import annotations

from datetime import date

from ..adapters.secrets import SecretRef
from ..errors import SecretError
from .base import Context, Observation, Step, Verdict


class CredentialsStored(Step):
    """Every credential the parameters list, and the app registration's client secret, exists where its reference
    says; the person attests that the list is complete (kind `both`)."""

    item_id = "s3-credentials-stored"

    def wanted(self, ctx: Context) -> list[tuple[str, SecretRef]]:
        p = ctx.params
        out = [(c.name, c.store) for c in p.credentials]
        if p.app_registration is not None:
            out.insert(0, (f"client secret of {p.app_registration.display_name}", p.app_registration.secret_store))
        return out

    def inspect(self, ctx: Context) -> Observation:
        rows = []
        today = f"{date.today():%Y-%m-%d}"
        for name, ref in self.wanted(ctx):
            try:
                versions = ctx.secrets.versions(ref)
            except SecretError as exc:  # this store refused; the others are still checked
                rows.append({"credential": name, "store": ref.describe(), "state": f"failed: {exc}"})
                continue
            latest = versions[0] if versions else None
            if latest is None:
                state = "missing"
            elif latest.expires and latest.expires < today:
                state = f"expired {latest.expires}"
            else:
                state = "stored" + (f", version {latest.version}" if latest.version else "")
                state += f", expires {latest.expires}" if latest.expires else ""
            rows.append({"credential": name, "store": ref.describe(), "state": state})
        return Observation(rows)

    def judge(self, ctx: Context, obs: Observation, pending: list, applied: list) -> Verdict:
        bad = [
            f"{r['credential']} ({r['store']}): {r['state']}" for r in obs.rows if not r["state"].startswith("stored")
        ]
        if not obs.rows:
            return Verdict("open", "The parameters list no credential to look up (add `credentials`).")
        if bad:
            status = "failed" if any(": failed:" in b for b in bad) else "open"
            return Verdict(status, f"{len(obs.rows) - len(bad)} of {len(obs.rows)} credential(s) stored.", bad)
        return Verdict("fulfilled", f"All {len(obs.rows)} credential(s) are in the MSP's stores.")
