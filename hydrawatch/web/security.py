"""Every response's security headers, the access token (header or cookie, never left in a URL), the
throttle on failed attempts, and a Host check against DNS rebinding."""

from __future__ import annotations

import hmac
import itertools
import time
from collections.abc import Awaitable, Callable, Iterable
from urllib.parse import quote, unquote, urlencode

from starlette.middleware.base import BaseHTTPMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.types import ASGIApp

from hydrawatch.web.responses import SafeJSONResponse
from hydrawatch.web.throttle import FailedAttempts, client_key

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
       "font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")

HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",  # a ?token= must never leak through a Referer
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}

COOKIE = "hydrawatch_token"
MIN_TOKEN = 32
MAKE_ONE = "python3 -c 'import secrets; print(secrets.token_urlsafe(32))'"
PROXY_HEADERS = ("x-forwarded-for", "forwarded", "x-real-ip")

def token_weakness(token: str) -> str:
    """Why ``token`` is too weak to guard a server reachable beyond this machine; "" if it is not."""
    if len(token) < MIN_TOKEN:
        return f"is {len(token)} characters; at least {MIN_TOKEN} random characters are required"
    if not token.isascii() or not token.isprintable() or " " in token:
        return "must be printable ASCII without spaces (it travels in an HTTP header)"
    # Thresholds set so that a random hex token of 32 characters (16 symbols) trips them about once in
    # 10^6 draws: 10 distinct and 6-grams tripped one in 8,000 (a flaky test and a refused good token).
    if len(set(token)) < 8:
        return f"has only {len(set(token))} distinct characters: it is not random"
    if sum(abs(ord(b) - ord(a)) == 1 for a, b in itertools.pairwise(token)) > len(token) // 2:
        return "runs in sequence (like abcd… or 1234…): it is not random"
    grams = [token[i:i + 8] for i in range(len(token) - 7)]
    if len(set(grams)) < len(grams):
        return "repeats itself: it is not random"
    return ""


def presented_token(request: Request) -> str | None:
    """The token the request carries in an ``Authorization: Bearer`` header or the cookie; None if none."""
    auth = request.headers.get("authorization", "")
    if auth[:7].lower() == "bearer ":
        return auth[7:].strip()
    cookie = request.cookies.get(COOKIE)
    return unquote(cookie) if cookie is not None else None


def _without_token(request: Request) -> str:
    """The request's own address (path and query, relative) without its ``token`` parameter."""
    rest = [(k, v) for k, v in request.query_params.multi_items() if k != "token"]
    return quote(request.url.path) + ("?" + urlencode(rest) if rest else "")


def _json(status: int, detail: str, headers: dict[str, str] | None = None) -> Response:
    return SafeJSONResponse({"detail": detail}, status_code=status, headers=headers)


class Guard(BaseHTTPMiddleware):
    """Refuses a foreign Host (400), requests without the token (401), clients past the limit of failed
    attempts (429), and proxied requests to a server without a strong token (403); adds HEADERS to all.
    A valid ``?token=`` answers 303 to the same address without it and sets the cookie."""

    def __init__(self, app: ASGIApp, *, token: str = "", allowed_hosts: Iterable[str] | None = None,
                 failures_per_minute: int = 10, clock: Callable[[], float] = time.monotonic, shell: str = "") -> None:
        super().__init__(app)
        self.token = token
        self.shell = shell
        self.weakness = token_weakness(token) if token else "is not set"
        self.allowed_hosts = {h.lower() for h in allowed_hosts} if allowed_hosts is not None else None
        self.failures = FailedAttempts(failures_per_minute, 60.0, clock=clock)

    def _host_ok(self, request: Request) -> bool:
        if self.allowed_hosts is None:
            return True
        host = request.headers.get("host", "").lower()
        name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
        return name in self.allowed_hosts

    def _valid(self, given: str) -> bool:
        return hmac.compare_digest(given.encode(), self.token.encode())

    def _check(self, request: Request) -> Response | None:
        """The refusal for this request, or None to let it through."""
        if not self._host_ok(request):
            return _json(400, "unexpected Host header")
        if self.weakness and any(h in request.headers for h in PROXY_HEADERS):
            return _json(403, f"reached through a proxy, but serve.token {self.weakness}: set a token of at least "
                              f"{MIN_TOKEN} random characters (make one: {MAKE_ONE})")
        if not self.token:
            return None
        client = client_key(request.client.host if request.client else None)
        wait = self.failures.retry_after(client)
        if wait:
            return _json(429, f"too many failed token attempts from this address; try again in {wait} s",
                         {"Retry-After": str(wait)})
        in_url = request.query_params.get("token")
        if in_url is not None:
            if not self._valid(in_url):
                self.failures.record(client)
                return self._refused()
            if request.method in ("GET", "HEAD"):
                return self._to_cookie(request)
        given = presented_token(request)
        if given is None and in_url is None:
            return self._refused(navigating_in=request)
        if given is not None and not self._valid(given):
            self.failures.record(client)
            return self._refused()
        return None

    def _refused(self, navigating_in: Request | None = None) -> Response:
        headers = {"WWW-Authenticate": "Bearer"}
        if self.shell and navigating_in is not None and navigating_in.url.path == "/" \
                and navigating_in.headers.get("sec-fetch-site") == "cross-site" \
                and navigating_in.headers.get("sec-fetch-mode") == "navigate":
            # A browser that followed a ?token= link from another site (a webmail) got the cookie with the
            # 303 but does not send a SameSite=Strict cookie on the redirected request, which is still
            # cross-site. It gets the page's shell (static, no data, as published); the shell's script
            # and API calls come from our own origin and carry the cookie. Without one they get 401s.
            return HTMLResponse(self.shell, status_code=401, headers=headers)
        return _json(401, "a valid token is required (Authorization: Bearer …, or open a ?token=… link once "
                          "for the cookie)", headers)

    def _to_cookie(self, request: Request) -> Response:
        response = Response(status_code=303, headers={"Location": _without_token(request),
                                                      "Cache-Control": "no-store"})
        response.set_cookie(COOKIE, quote(self.token, safe=""), path="/", httponly=True, samesite="strict",
                            secure=request.url.scheme == "https")
        return response

    async def dispatch(self, request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        response = self._check(request) or await call_next(request)
        for key, value in HEADERS.items():
            response.headers.setdefault(key, value)
        if request.url.path.startswith("/api/"):
            response.headers.setdefault("Cache-Control", "no-store")
        return response
