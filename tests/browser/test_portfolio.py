"""The portfolio page (`runbook portfolio`) in a real browser: Debian's chromium through Playwright opens the static
page from disk, as someone who was sent the evidence folder would; sorting by a header, filtering by text, tier and
status, and following a customer's link to its evidence HTML."""

from __future__ import annotations

import re

import pytest

from runbook.cli import main
from tests.support.evidence_runs import customer_file, onboard, seal, stage_items

pytestmark = pytest.mark.browser


@pytest.fixture
def portfolio_page(params_dir, evidence_dir):
    """Five customers in different states, their evidence sealed by the real archive, and the page `runbook
    portfolio` wrote into the evidence folder. Returns the page's path and the expected facts per customer."""
    customer_file(params_dir, "acme", tier="CSP", tenant_name="Acme & Sons <NL>")
    customer_file(params_dir, "globex", tier="Premium")
    customer_file(params_dir, "initech", tier="Premium")
    customer_file(params_dir, "umbrella", tier="Gold")  # invalid: not a tier
    onboard("acme", tier="CSP")  # onboarded
    seal("globex", stage=0, items=stage_items(0, "Premium"))  # onboarding, Stage 1 reached, everything open
    seal("initech", stage=0, items=stage_items(0, "Premium", **{"s0-signed-sla": "failed"}))  # Stage 0, one failed
    onboard("demo")
    seal("demo", kind="offboard", stage=None, notebook="offboard.ipynb", status="offboarded", apply=True)
    assert main(["portfolio"]) == 0
    page = evidence_dir / "portfolio.html"
    assert page.exists()
    return page


@pytest.fixture
def tab(browser):
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    context.set_default_timeout(15_000)
    pg = context.new_page()
    yield pg
    context.close()


def order(tab) -> list[str]:
    return tab.locator("#portfolio tbody tr:not([hidden])").evaluate_all("rs => rs.map(r => r.dataset.customer)")


def header(tab, label: str):
    """A column's header by its button's accessible name (the sort arrow is decoration: aria-sort says it)."""
    return tab.locator("#portfolio thead th", has=tab.get_by_role("button", name=label, exact=True))


def test_sort_filter_and_follow_a_link(portfolio_page, tab):
    from playwright.sync_api import expect

    tab.goto(portfolio_page.as_uri())
    expect(tab.locator("#shown")).to_have_text("5 of 5 customers")
    assert order(tab) == ["acme", "demo", "globex", "initech", "umbrella"]  # by name, as written
    assert tab.locator("tr[data-customer='acme'] small").first.inner_text() == "Acme & Sons <NL>"  # escaped, shown

    # a number column sorts as numbers, empty cells (the invalid customer's) last either way; a second click reverses
    open_engineer = header(tab, "Open Engineer")
    open_engineer.get_by_role("button").click()
    expect(open_engineer).to_have_attribute("aria-sort", "ascending")
    counts = tab.locator("#portfolio tbody tr").evaluate_all("rs => rs.map(r => r.cells[5].textContent)")
    numbers = [int(c) for c in counts if c]
    assert numbers == sorted(numbers) and counts[-1] == "" and order(tab)[-1] == "umbrella"
    open_engineer.get_by_role("button").click()
    expect(open_engineer).to_have_attribute("aria-sort", "descending")
    counts = tab.locator("#portfolio tbody tr").evaluate_all("rs => rs.map(r => r.cells[5].textContent)")
    numbers = [int(c) for c in counts if c]
    assert numbers == sorted(numbers, reverse=True) and counts[-1] == ""
    assert order(tab)[0] == "globex"  # all of Stage 1 open
    expect(header(tab, "Customer")).to_have_attribute("aria-sort", "none")

    # the stage: acme and demo done (5), globex at 1, initech at 0 (a failed item); dates sort as dates
    stage = header(tab, "Stage")
    stage.get_by_role("button").click()
    assert order(tab)[:2] == ["initech", "globex"]
    # the status sorts in its lifecycle order (STATUSES), not alphabetically
    header(tab, "Status").get_by_role("button").click()
    assert order(tab) == ["umbrella", "globex", "initech", "acme", "demo"]
    header(tab, "Last touched").get_by_role("button").click()
    touched = tab.locator("#portfolio tbody tr").evaluate_all("rs => rs.map(r => r.cells[10].dataset.sort)")
    filled = [t for t in touched if t]
    assert filled == sorted(filled) and touched[-1] == ""

    # filters: the text box (any cell), tier and status selects, combined
    tab.get_by_label("Filter").fill("premium")  # the tier of two, and in the invalid file's error
    expect(tab.locator("#shown")).to_have_text("3 of 5 customers")
    assert sorted(order(tab)) == ["globex", "initech", "umbrella"]
    tab.get_by_label("Filter").fill("SONS <nl")  # the tenant name, case-insensitive
    assert order(tab) == ["acme"]
    tab.get_by_label("Filter").fill("")
    tab.get_by_label("Status").select_option("offboarded")
    assert order(tab) == ["demo"]
    tab.get_by_label("Status").select_option("")
    tab.get_by_label("Tier").select_option("CSP")
    assert order(tab) == ["acme"]
    tab.get_by_label("Status").select_option("invalid parameters")
    expect(tab.locator("#shown")).to_have_text("0 of 5 customers")
    tab.get_by_label("Tier").select_option("")
    assert order(tab) == ["umbrella"]
    tab.get_by_label("Status").select_option("")
    expect(tab.locator("#shown")).to_have_text("5 of 5 customers")

    # follow a customer's link: its latest evidence HTML opens (a relative link, next to the page)
    link = tab.locator("tr[data-customer='globex'] a")
    href = link.get_attribute("href")
    assert href and re.match(r"^globex/[^/]+-stage0-[0-9a-f]{4}/00-prerequisites\.html$", href), href
    link.click()
    tab.wait_for_load_state()
    assert tab.url == (portfolio_page.parent / href).as_uri()
    assert "Runbook evidence" in tab.locator("body").inner_text()
    assert tab.title() == href.split("/")[1]  # the run id heads the evidence page
