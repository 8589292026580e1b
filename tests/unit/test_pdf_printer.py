"""The report's PDF printer (runner.pdf_printer): Chromium starts in a thread of its own when the block opens, while
the report's notebook runs; a browser that cannot start is the print's error, never a hang."""

import threading
import time

import pytest

from runbook import runner


def test_a_browser_that_cannot_start_is_the_prints_error_and_the_block_ends(tmp_path, monkeypatch):
    monkeypatch.setattr(runner, "chromium_executable", lambda: "/bin/false")
    page = tmp_path / "r.html"
    page.write_text("<p>report</p>")
    start = time.monotonic()
    with runner.pdf_printer() as printer:
        assert printer is not None
        with pytest.raises(Exception) as first:
            printer(page)
        with pytest.raises(Exception) as second:  # a second page: the same answer, no hang
            printer(page)
    assert type(first.value) is type(second.value) and not (tmp_path / "r.pdf").exists()
    assert time.monotonic() - start < 30
    assert not [t for t in threading.enumerate() if t.name == "pdf-printer"]


def test_no_chromium_no_printer(monkeypatch):
    monkeypatch.setattr(runner, "chromium_executable", lambda: None)
    with runner.pdf_printer() as printer:
        assert printer is None


@pytest.mark.skipif(runner.chromium_executable() is None, reason="no Chromium: apt-get install chromium")
def test_a_printer_never_asked_stops_with_its_block(tmp_path):
    with runner.pdf_printer() as printer:  # a report that failed prints nothing
        assert printer is not None
    assert not [t for t in threading.enumerate() if t.name == "pdf-printer"]


@pytest.mark.skipif(runner.chromium_executable() is None, reason="no Chromium: apt-get install chromium")
def test_two_pages_print_on_one_browser(tmp_path):
    pages = [tmp_path / "a.html", tmp_path / "b.html"]
    for p in pages:
        p.write_text(f"<h1>{p.stem}</h1>")
    with runner.pdf_printer() as printer:
        assert printer is not None
        for p in pages:
            printer(p)
    assert all(p.with_suffix(".pdf").read_bytes()[:5] == b"%PDF-" for p in pages)


def test_a_browser_that_fails_to_close_does_not_hold_up_the_block(tmp_path, monkeypatch):
    import playwright.sync_api

    class Browser:
        def new_page(self):
            raise RuntimeError("page crashed")

        def close(self):
            raise RuntimeError("browser gone")

    class Playwright:
        chromium = type("Chromium", (), {"launch": lambda self, **kw: Browser()})()

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

    monkeypatch.setattr(playwright.sync_api, "sync_playwright", Playwright)
    monkeypatch.setattr(runner, "chromium_executable", lambda: "/usr/bin/chromium")
    start = time.monotonic()
    with runner.pdf_printer() as printer, pytest.raises(RuntimeError, match="page crashed"):
        printer(tmp_path / "r.html")
    assert time.monotonic() - start < 10  # the close's failure ends the thread; the block does not wait 30 s for it
    assert not [t for t in threading.enumerate() if t.name == "pdf-printer"]
