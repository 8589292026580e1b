"""The agreed backup and patch schedules: parameters Azure would refuse, or that cannot keep the promise, are named
before anything runs (file, field, fix)."""

import pytest
import yaml

from runbook.customer import params as P


def with_sections(params_dir, **sections) -> None:
    data = yaml.safe_load((params_dir / "demo.yml").read_text())
    data.update(sections)
    (params_dir / "demo.yml").write_text(yaml.safe_dump(data))


def refused(params_dir, said: str, field: str, **sections) -> None:
    with_sections(params_dir, **sections)
    with pytest.raises(P.ParameterError) as exc:
        P.load("demo")
    text = str(exc.value)
    assert "demo.yml" in text and field in text and said in text, text


def test_the_demo_schedule_reads_as_words(params_dir):
    p = P.load("demo")
    assert p.backup is not None and p.patching is not None
    assert p.backup.words().startswith("Back up every day at 23:00 (W. Europe Standard Time)")
    (window,) = p.patching.schedule()
    assert window.duration() == "03:00" and "every Sunday at 02:00" in window.words()


@pytest.mark.parametrize(
    ("sections", "said", "field"),
    [
        ({"patching": {"windows": [{"name": "short", "duration_hours": 1}]}}, "outside what Azure allows", "patching"),
        ({"patching": {"day": "Sunday", "duration_hours": 5}}, "outside what Azure allows", "patching"),
        (
            {"patching": {"windows": [{"name": "w", "time_zone": "Mars/Olympus"}]}},
            "not a Windows time zone",
            "patching",
        ),
        ({"patching": {"windows": [{"name": "w", "start": "25:00"}]}}, "not a time of day", "patching"),
        ({"backup": {"time": "23:15"}}, "on the hour or the half hour", "backup"),
        ({"backup": {"time_zone": "Europe/Amsterdam"}}, "not a Windows time zone", "backup"),
        ({"backup": {"frequency": "Weekly", "days": ["Sunday"], "rpo_hours": 24}}, "cannot be met", "backup"),
        ({"backup": {"retention_days": 3}}, "greater than or equal to 7", "backup"),
    ],
)
def test_a_schedule_azure_refuses_or_cannot_keep_is_named(params_dir, sections, said, field):
    refused(params_dir, said, field, **sections)


def test_weekly_backups_on_several_days_meet_the_rpo_of_their_longest_gap(params_dir):
    with_sections(params_dir, backup={"frequency": "Weekly", "days": ["Monday", "Thursday"], "rpo_hours": 96})
    assert P.load("demo").backup.rpo_hours == 96
    refused(
        params_dir,
        "up to 96 h",
        "backup",
        backup={"frequency": "Weekly", "days": ["Monday", "Thursday"], "rpo_hours": 72},
    )


def test_the_agreed_schedule_shows_only_what_the_tier_deploys(params_dir):
    """Issue 28: a Premium customer's Stage 3 printed Full Stack's backup and patch schedules."""
    from runbook.customer import params as P
    from runbook.customer.schedule import AgreedSchedule

    full = AgreedSchedule(P.load("demo"))
    assert any("backup" in r["what"] for r in full.rows()) and any("patch" in r["what"] for r in full.rows())
    text = (params_dir / "demo.yml").read_text().replace("tier: Full Stack", "tier: Premium")
    (params_dir / "demo.yml").write_text(text)
    premium = AgreedSchedule(P.load("demo"))
    assert premium.rows() == [] and premium.sentences() == [
        "The Premium tier deploys no backup or patch schedule (the parameters' ones are not used)."
    ]
