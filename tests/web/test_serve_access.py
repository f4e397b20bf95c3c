"""`serve` beyond loopback (issue 14, item 10): a strong token or no start, the token from a header or a
cookie and never left in a URL, failed attempts throttled per client address. In process where the
point is the guard; a real listener where it is the listener (start-up refusal, the address a
reverse proxy forwards, the cookie in a real browser)."""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest

from hydrawatch.config import to_toml
from hydrawatch.web.app import create_app
from hydrawatch.web.security import COOKIE, token_weakness
from hydrawatch.web.server import RunningServer, build, start_background
from storage.store import Store
from tests.storage.world import fill
from tests.web.inprocess import get

TOKEN = "hK3v9Qz-W_x2LmT7pR4sYb8NcJ1dFgA6"  # 32 characters, as secrets.token_urlsafe(24) makes them
BEARER = {"Authorization": f"Bearer {TOKEN}"}
WRONG = {"Authorization": "Bearer " + TOKEN[:-1] + "B"}
CHROMIUM = Path("/usr/bin/chromium")


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(params=["sqlite"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    # access control does not depend on the backend
    return f"sqlite:///{tmp_path / 'store.db'}"


@pytest.fixture
def filled(store: Store) -> Store:
    with store.transaction() as session:
        fill(session)
    return store


# ---- the token: a header or the cookie -----------------------------------------------------------

def test_the_token_is_taken_from_a_bearer_header_or_the_cookie(filled: Store) -> None:
    app = create_app(filled.sessions, token=TOKEN)
    assert get(app, "/api/domains").status_code == 401
    assert get(app, "/api/domains", headers=BEARER).json()["total"] == 5
    assert get(app, "/api/domains", cookies={COOKIE: quote(TOKEN, safe="")}).status_code == 200
    assert get(app, "/static/app.js", cookies={COOKIE: TOKEN}).status_code == 200
    assert get(app, "/api/domains", cookies={COOKIE: TOKEN[::-1]}).status_code == 401
    assert get(app, "/api/domains", headers=WRONG).status_code == 401


def test_a_token_link_answers_303_to_the_same_address_without_it_and_sets_a_strict_httponly_cookie(
        filled: Store) -> None:
    app = create_app(filled.sessions, token=TOKEN)
    moved = get(app, f"/api/domains?q=b.&token={TOKEN}&status=seized")
    assert moved.status_code == 303
    assert moved.headers["location"] == "/api/domains?q=b.&status=seized"
    cookie = moved.headers["set-cookie"]
    assert cookie.startswith(f"{COOKIE}={TOKEN};")
    attributes = {a.strip().lower() for a in cookie.split(";")[1:]}
    assert {"httponly", "samesite=strict", "path=/"} <= attributes and "secure" not in attributes
    assert TOKEN not in moved.text and moved.headers["referrer-policy"] == "no-referrer"
    assert get(app, f"/?token={TOKEN}").headers["location"] == "/"
    # the address the browser is sent to answers with the cookie alone
    assert get(app, moved.headers["location"], cookies={COOKIE: TOKEN}).json()["total"] == 1


def test_the_cookie_is_secure_when_the_page_came_over_https(filled: Store) -> None:
    app = create_app(filled.sessions, token=TOKEN)
    moved = get(app, f"https://hw.example/?token={TOKEN}")
    assert moved.status_code == 303 and "secure" in moved.headers["set-cookie"].lower()


def test_a_token_with_characters_a_cookie_cannot_hold_survives_the_round_trip(filled: Store) -> None:
    odd = 'a"b;c, d\\e=f'
    app = create_app(filled.sessions, token=odd)
    moved = get(app, "/", params={"token": odd})
    value = moved.headers["set-cookie"].split(";")[0].split("=", 1)[1]
    assert value == quote(odd, safe="") and get(app, "/", cookies={COOKIE: value}).status_code == 200


def test_a_wrong_token_link_is_refused(filled: Store) -> None:
    app = create_app(filled.sessions, token=TOKEN)
    refused = get(app, "/?token=nope")
    assert refused.status_code == 401 and "set-cookie" not in refused.headers


def test_a_cross_site_navigation_to_the_page_without_the_cookie_gets_the_bare_page_shell(filled: Store) -> None:
    # A browser does not send a SameSite=Strict cookie on the redirect of a link followed from another
    # site (a webmail): it gets the page's static shell, whose own requests carry the cookie. Nothing
    # else is served that way: no data, no other path, no other kind of request.
    app = create_app(filled.sessions, token=TOKEN)
    navigating = {"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "navigate"}
    shell = get(app, "/", headers=navigating)
    assert shell.status_code == 401 and '<script src="/static/app.js" defer></script>' in shell.text
    assert shell.headers["content-security-policy"].startswith("default-src 'self'")
    assert get(app, "/api/domains", headers=navigating).json()["detail"].startswith("a valid token is required")
    assert get(app, "/static/app.js", headers=navigating).status_code == 401
    same = get(app, "/", headers={"Sec-Fetch-Site": "same-origin", "Sec-Fetch-Mode": "navigate"})
    assert same.status_code == 401 and same.json()["detail"].startswith("a valid token is required")


# ---- failed attempts: 10 a minute per client address, then 429 -----------------------------------

def test_ten_failed_attempts_a_minute_from_one_address_are_then_refused_with_429(filled: Store) -> None:
    clock = Clock()
    app = create_app(filled.sessions, token=TOKEN, clock=clock)
    for _ in range(10):
        assert get(app, "/api/domains", headers=WRONG, client="203.0.113.9").status_code == 401
        clock.now += 1
    blocked = get(app, "/api/domains", headers=BEARER, client="203.0.113.9")  # even the right token
    assert blocked.status_code == 429 and blocked.headers["retry-after"] == "50"
    assert "too many failed token attempts" in blocked.json()["detail"]
    assert get(app, f"/?token={TOKEN}", client="203.0.113.9").status_code == 429
    assert get(app, "/api/domains", headers=BEARER, client="203.0.113.10").status_code == 200  # another address
    clock.now += 50  # the first failure is a minute old
    assert get(app, "/api/domains", headers=BEARER, client="203.0.113.9").status_code == 200


def test_wrong_token_links_and_cookies_count_as_failures_too(filled: Store) -> None:
    app = create_app(filled.sessions, token=TOKEN, clock=Clock())
    for i in range(10):
        attempt = {"params": {"token": f"guess{i}"}} if i % 2 else {"cookies": {COOKIE: f"guess{i}"}}
        assert get(app, "/", client="198.51.100.3", **attempt).status_code == 401
    assert get(app, "/", headers=BEARER, client="198.51.100.3").status_code == 429


def test_an_ipv6_client_is_limited_by_its_64(filled: Store) -> None:
    app = create_app(filled.sessions, token=TOKEN, clock=Clock())
    for i in range(10):
        get(app, "/api/domains", headers=WRONG, client=f"2001:db8:1:2::{i + 1:x}")
    assert get(app, "/api/domains", headers=BEARER, client="2001:db8:1:2::ffff").status_code == 429
    assert get(app, "/api/domains", headers=BEARER, client="2001:db8:1:3::1").status_code == 200


def test_requests_without_any_token_are_not_counted(filled: Store) -> None:
    app = create_app(filled.sessions, token=TOKEN, clock=Clock())
    for _ in range(15):
        assert get(app, "/api/domains", client="203.0.113.20").status_code == 401
    assert get(app, "/api/domains", headers=BEARER, client="203.0.113.20").status_code == 200


# ---- a proxy in front -----------------------------------------------------------------------------

@pytest.mark.parametrize("token", ["", "s3cret"])
def test_a_request_through_a_proxy_needs_a_strong_token_on_the_server(filled: Store, token: str) -> None:
    # Bound to loopback behind a TLS proxy is reachable from anywhere: without a strong token it is refused.
    app = create_app(filled.sessions, token=token)
    proxied = get(app, "/api/domains", headers={"X-Forwarded-For": "198.51.100.7",
                                                "Authorization": f"Bearer {token}"})
    assert proxied.status_code == 403
    assert "reached through a proxy" in proxied.json()["detail"] and "32 random characters" in proxied.json()["detail"]
    assert get(app, "/api/domains", headers={"Authorization": f"Bearer {token}"}).status_code == 200  # direct


def test_a_request_through_a_proxy_is_served_with_a_strong_token(filled: Store) -> None:
    app = create_app(filled.sessions, token=TOKEN)
    assert get(app, "/api/domains", headers={"X-Forwarded-For": "198.51.100.7", **BEARER}).status_code == 200


# ---- what counts as a strong token ----------------------------------------------------------------

@pytest.mark.parametrize("weak", ["", "s3cret", "x" * 31, "a" * 40, "abcdefghijklmnopqrstuvwxyz012345",
                                  "passwordpasswordpasswordpassword", "Tr0ub4dor&3-Tr0ub4dor&3-Tr0ub4dor",
                                  "hK3v9Qz W_x2LmT7pR4sYb8NcJ1dFgA6", "hK3v9Qz-W_x2LmT7pR4sYb8NcJ1dFgAé"])
def test_weak_tokens_are_named_weak(weak: str) -> None:
    assert token_weakness(weak)


def test_tokens_from_the_secrets_module_are_strong() -> None:
    made = [secrets.token_urlsafe(n) for n in (24, 32, 48) for _ in range(300)] + [
        secrets.token_hex(n) for n in (16, 32) for _ in range(300)]
    assert [t for t in made if token_weakness(t)] == []


# ---- the listener ---------------------------------------------------------------------------------

def _serve(tmp_path: Path, store_url: str, token: str, host: str) -> subprocess.Popen[str]:
    conf = tmp_path / "hw.toml"
    conf.write_text(to_toml({"storage": {"url": store_url}, "serve": {"token": token}}), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("HYDRAWATCH_")}
    return subprocess.Popen([sys.executable, "-m", "hydrawatch.cli", "--config", str(conf), "serve",
                             "--host", host, "--port", "0"], env=env, stderr=subprocess.PIPE, text=True)


@pytest.mark.parametrize("weak", ["s3cret-but-short", "a" * 40, "0123456789" * 4])
def test_serve_beyond_loopback_with_a_weak_token_refuses_to_start(filled: Store, store_url: str, tmp_path: Path,
                                                                  weak: str) -> None:
    proc = _serve(tmp_path, store_url, weak, "127.0.0.2")  # not 127.0.0.1, localhost or ::1: "beyond"
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "refusing to serve on 127.0.0.2: serve.token" in lines[0], err
    assert weak not in err and "secrets.token_urlsafe" in err


def test_serve_beyond_loopback_with_a_strong_token_listens_and_wants_it(filled: Store, store_url: str,
                                                                       tmp_path: Path) -> None:
    proc = _serve(tmp_path, store_url, TOKEN, "127.0.0.2")
    try:
        assert proc.stderr is not None
        line = proc.stderr.readline()
        found = re.search(r"(http://127\.0\.0\.2:\d+)/ \(token required\)", line)
        assert found, line
        url = found.group(1)
        assert httpx.get(f"{url}/api/domains", timeout=10).status_code == 401
        assert httpx.get(f"{url}/api/domains", headers=BEARER, timeout=10).json()["total"] == 5
        assert TOKEN not in line
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture
def listening(filled: Store) -> Iterator[RunningServer]:
    running = start_background(build(filled.sessions, host="127.0.0.1", token=TOKEN), "127.0.0.1", 0)
    yield running
    running.stop()


def test_behind_a_local_proxy_each_forwarded_client_has_its_own_limit(listening: RunningServer) -> None:
    # The reverse proxy connects from 127.0.0.1 and names the client in X-Forwarded-For (trusted from
    # loopback only): one client's guesses do not lock out another behind the same proxy.
    with httpx.Client(base_url=listening.url, timeout=10) as proxy:
        for _ in range(10):
            assert proxy.get("/api/domains", headers={"X-Forwarded-For": "198.51.100.7", **WRONG}).status_code == 401
        assert proxy.get("/api/domains", headers={"X-Forwarded-For": "198.51.100.7", **BEARER}).status_code == 429
        assert proxy.get("/api/domains", headers={"X-Forwarded-For": "198.51.100.8", **BEARER}).status_code == 200
        moved = proxy.get(f"/?token={TOKEN}", headers={"X-Forwarded-For": "198.51.100.8",
                                                       "X-Forwarded-Proto": "https"})
        assert moved.status_code == 303 and "secure" in moved.headers["set-cookie"].lower()


def test_a_client_that_is_not_the_proxy_cannot_spread_its_guesses_over_forged_addresses(
        listening: RunningServer) -> None:
    # From 127.0.0.3 (not a trusted proxy address) X-Forwarded-For is ignored: all guesses count to it.
    transport = httpx.HTTPTransport(local_address="127.0.0.3")
    with httpx.Client(base_url=listening.url, timeout=10, transport=transport) as direct:
        for i in range(10):
            assert direct.get("/api/domains", headers={"X-Forwarded-For": f"198.51.100.{i}", **WRONG}).status_code == 401
        assert direct.get("/api/domains", headers={"X-Forwarded-For": "198.51.100.99", **BEARER}).status_code == 429
    assert httpx.get(f"{listening.url}/api/domains", headers=BEARER, timeout=10).status_code == 200


@pytest.mark.slow
@pytest.mark.skipif(not CHROMIUM.exists() and not os.environ.get("CI"),
                    reason="/usr/bin/chromium is not installed (apt-get install chromium); CI installs it")
def test_a_token_link_followed_from_another_site_opens_the_page_and_leaves_no_token_in_the_address(
        listening: RunningServer) -> None:
    from playwright.sync_api import expect, sync_playwright

    link = f"{listening.url}/?token={TOKEN}#/domain/b.pm"
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                     args=["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"])
        try:
            page = browser.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            # a page of another site (as a webmail is) with the mail's link, clicked
            page.set_content(f'<a id="go" href="{link}">open</a>')
            page.click("#go")
            expect(page.locator("#d-name")).to_have_text("b.pm")
            assert page.url == f"{listening.url}/#/domain/b.pm"  # the token left the address bar
            cookie = next(c for c in page.context.cookies() if c["name"] == COOKIE)
            assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
            assert page.evaluate("document.cookie") == ""  # not readable by scripts
            expect(page.locator("#watchlist tbody tr")).to_have_count(5)
            assert errors == []
        finally:
            browser.close()
