"""The link in an alert e-mail opens that domain's page (issue 14): mails delivered by `hydrawatch alerts
send` (run in the test's process) to the sandbox's SMTP server, their links opened in Debian's headless Chromium against a live
`hydrawatch serve` (a subprocess, as a researcher runs it)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from hydrawatch.config import to_toml
from sandbox.net import Sandbox
from scheduler.deliver import new_message_id
from storage import outbox, watchlist
from storage.store import Store
from tests.storage.world import fill
from tests.support import cli

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run"]
TOKEN = "tok-mail"
NOW = datetime(2024, 11, 1, tzinfo=UTC)

pytestmark = [pytest.mark.slow, pytest.mark.sandbox]

if not CHROMIUM.exists() and not os.environ.get("CI"):
    pytest.skip("/usr/bin/chromium is not installed (apt-get install chromium); CI installs it",
                allow_module_level=True)


@pytest.fixture(params=["sqlite"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'store.db'}"


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("HYDRAWATCH_")}


@pytest.fixture(params=["no-token", "token"])
def served(request: pytest.FixtureRequest, store: Store, store_url: str, tmp_path: Path,
           ) -> Iterator[tuple[str, str, Path]]:
    """The lineage world with a clone alert (a.ltd → b.pm) and a takedown alert (b.pm seized) queued, and
    `hydrawatch serve --port 0` running on it, with or without a token; yields the served URL, the
    `[alerts] base_url` a user would write for it, and the config file."""
    with store.transaction() as session:
        ids = fill(session)
        outbox.enqueue(session, ids["a.ltd>b.pm"], now=NOW, message_id=new_message_id())
        change = watchlist.latest_change_id(session, "b.pm")
        assert change is not None
        outbox.enqueue_takedown(session, change, now=NOW, message_id=new_message_id())
    conf = tmp_path / "hw.toml"
    token = TOKEN if request.param == "token" else ""
    conf.write_text(to_toml({"storage": {"url": store_url}, "serve": {"token": token}}), encoding="utf-8")
    proc = subprocess.Popen([sys.executable, "-m", "hydrawatch.cli", "--config", str(conf), "serve", "--port", "0"],
                            env=_env(), stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stderr is not None
        line = proc.stderr.readline()
        found = re.search(r"(http://127\.0\.0\.1:\d+/)", line)
        assert found, line
        url = found.group(1)
        # behind a token, the mail's link carries it in the query, before the route
        yield url, (f"{url}?token={token}" if token else url.rstrip("/")), conf
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _send_alerts(conf: Path, store_url: str, sandbox: Sandbox, base_url: str) -> list[str]:
    """Deliver the queued alerts to the sandbox's SMTP server; the lineage link of each mail received."""
    alerts = {**sandbox.config_overrides()["alerts"], "base_url": base_url}
    send_conf = conf.with_name("send.toml")
    send_conf.write_text(to_toml({"storage": {"url": store_url}, "alerts": alerts}), encoding="utf-8")
    done = cli(send_conf, "alerts", "send")  # in process: the sending, not a fresh interpreter, is the point
    assert done.returncode == 0, done.stderr
    messages = sandbox.wait_for_messages(2)
    links = []
    for msg in messages:
        body = msg.get_body(preferencelist=("plain",))
        assert body is not None
        found = re.search(r"lineage\s*:\s*(\S+)", body.get_content())
        assert found, body.get_content()
        links.append(found.group(1))
    return links


def test_the_link_in_a_delivered_alert_mail_opens_that_domain(served: tuple[str, str, Path], store_url: str,
                                                              sandbox: Sandbox) -> None:
    from playwright.sync_api import expect, sync_playwright

    _url, base_url, conf = served
    links = _send_alerts(conf, store_url, sandbox, base_url)
    assert len(links) == 2
    errors: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        try:
            for link in links:  # each in a fresh tab, as a click in a mail client opens it
                page = browser.new_page(viewport={"width": 1400, "height": 1000})
                page.on("pageerror", lambda e: errors.append(str(e)))
                response = page.goto(link)
                assert response is not None and response.status == 200, (link, response and response.status)
                expect(page.locator("#d-name")).to_have_text("b.pm")
                expect(page.locator("#graph svg g.node[data-domain='a.ltd']")).to_have_count(1)
                assert page.locator("#error").is_hidden(), page.text_content("#error")
            # an old-style link (#NAME, the page's own form so far) still opens its domain
            page.goto(f"{base_url.rstrip('/')}/#c.so" if "?" not in base_url else f"{base_url}#c.so")
            expect(page.locator("#d-name")).to_have_text("c.so")
            # and choosing a domain in the page puts the mail's route in the address bar
            page.click("#graph g.node[data-domain='b.pm']")
            expect(page.locator("#d-name")).to_have_text("b.pm")
            assert page.url.endswith("#/domain/b.pm"), page.url
            # a crafted link with a broken %-escape is one visible line, not a script error
            page.goto(f"{base_url.rstrip('/')}/#/domain/%E0%A4%A" if "?" not in base_url
                      else f"{base_url}#/domain/%E0%A4%A")
            expect(page.locator("#error")).to_contain_text("not in the store")
        finally:
            browser.close()
    assert errors == []
