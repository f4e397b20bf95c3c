"""A real browser (Debian's headless Chromium driven by Playwright) on the served page: search a domain,
see its lineage graph, click an edge, read the evidence — and hostile crawled text never runs."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from hydrawatch.web.server import RunningServer, build, start_background
from storage.store import Store
from tests.storage.world import HOSTILE_TITLE, HOSTILE_VALUE, fill

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run"]

pytestmark = pytest.mark.slow

if not CHROMIUM.exists() and not os.environ.get("CI"):
    pytest.skip("/usr/bin/chromium is not installed (apt-get install chromium); CI installs it",
                allow_module_level=True)


@pytest.fixture(params=["sqlite"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    # One backend is enough here: the page reads the same API the API tests run on both.
    return f"sqlite:///{tmp_path / 'store.db'}"


@pytest.fixture
def server(store: Store) -> Iterator[RunningServer]:
    with store.transaction() as session:
        fill(session)
    running = start_background(build(store.sessions, host="127.0.0.1", token="tok-123"), "127.0.0.1", 0)
    yield running
    running.stop()


def test_researcher_goes_from_search_to_the_evidence_of_an_edge(server: RunningServer) -> None:
    from playwright.sync_api import expect, sync_playwright

    dialogs: list[str] = []
    errors: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(f"{server.url}/?token=tok-123")
            page.wait_for_selector("#watchlist tbody tr[data-domain='lone.fun']")
            assert page.locator("#count").text_content() == "5 domains"

            page.fill("#search", "b.p")
            # (the page's CSP forbids eval, so waits use locators, not wait_for_function)
            expect(page.locator("#watchlist tbody tr")).to_have_count(1)
            page.click("#watchlist tbody tr[data-domain='b.pm']")

            # the lineage graph: a.ltd → b.pm → c.so, nodes coloured by status, edges by relation
            page.wait_for_selector("#graph svg g.node[data-domain='c.so']")
            assert page.locator("#graph svg g.node").count() == 3
            assert "status-seized" in (page.get_attribute("#graph g.node[data-domain='a.ltd']", "class") or "")
            assert "status-active" in (page.get_attribute("#graph g.node[data-domain='c.so']", "class") or "")
            assert page.locator("#graph path.edge.rel-replacement").count() == 2

            # the hostile title is shown as text, not run
            assert page.locator("#d-title").text_content() == HOSTILE_TITLE
            page.locator("#graph path.edge-hit[data-from='a.ltd'][data-to='b.pm']").click(force=True)
            page.wait_for_selector("#evidence:not([hidden])")
            assert "a.ltd → b.pm: replacement, confidence 0.93" in (page.text_content("#ev-title") or "")
            # grouped by family as in the terminal and the mails, the deciding family first
            families = page.locator("#ev-groups tbody tr.evidence-family")
            assert [t.strip() for t in families.all_text_contents()] == ["infrastructure 0.20 · decided", "other 0.00"]
            lines = page.locator("#ev-groups tbody tr.evidence-line")
            assert lines.count() == 3 and "same name server ns1.host.example" in (lines.nth(0).text_content() or "")
            assert page.locator("#ev-table").is_hidden()
            page.click("#ev-all")  # every stored item, raw
            expect(page.locator("#ev-table")).to_be_visible()
            rows = page.locator("#ev-table tbody tr.evidence-row")
            assert rows.count() == 3
            cells = [[c.strip() for c in rows.nth(i).locator("td").all_text_contents()] for i in range(3)]
            assert cells[0][:3] == ["same_label_tld_swap", "a", "+0.35"]
            assert cells[1][:3] == ["shared_ns", "ns1.host.example", "+0.20"]
            assert rows.nth(2).locator("td").nth(1).text_content() == HOSTILE_VALUE
            assert page.locator("#detail img, #detail script").count() == 0

            # pivot from an indicator, then follow the successor
            page.click("#d-indicators button.indicator-link:text('G-SHARED1')")
            page.wait_for_selector("#pivot:not([hidden])")
            assert page.locator("#pv-table tbody tr").count() == 2
            page.click("#graph g.node[data-domain='c.so']")
            expect(page.locator("#d-name")).to_have_text("c.so")
            expect(page.locator("#graph g.node")).to_have_count(3)

            page.click("#graph g.node[data-domain='b.pm']")
            expect(page.locator("#d-name")).to_have_text("b.pm")
            page.locator("#graph path.edge-hit[data-from='a.ltd'][data-to='b.pm']").click(force=True)
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "lineage-page.png"), full_page=True)
        finally:
            browser.close()
    assert dialogs == [] and errors == []


def test_page_without_token_gets_nothing(server: RunningServer) -> None:
    import httpx

    assert httpx.get(f"{server.url}/").status_code == 401
    assert httpx.get(f"{server.url}/api/domains", headers={"Authorization": "Bearer tok-123"}).status_code == 200
