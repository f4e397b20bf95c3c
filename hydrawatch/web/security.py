"""Every response's security headers, the optional access token, and a Host check against DNS rebinding."""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable, Iterable

from starlette.middleware.base import BaseHTTPMiddleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp

from hydrawatch.web.responses import SafeJSONResponse

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


def token_of(request: Request) -> str:
    auth = request.headers.get("authorization", "")
    if auth[:7].lower() == "bearer ":
        return auth[7:].strip()
    return request.query_params.get("token", "")


class Guard(BaseHTTPMiddleware):
    """Refuses requests without the token (401) or for a foreign Host (400); adds HEADERS to all."""

    def __init__(self, app: ASGIApp, *, token: str = "", allowed_hosts: Iterable[str] | None = None) -> None:
        super().__init__(app)
        self.token = token
        self.allowed_hosts = {h.lower() for h in allowed_hosts} if allowed_hosts is not None else None

    def _host_ok(self, request: Request) -> bool:
        if self.allowed_hosts is None:
            return True
        host = request.headers.get("host", "").lower()
        name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
        return name in self.allowed_hosts

    async def dispatch(self, request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        response: Response
        if not self._host_ok(request):
            response = SafeJSONResponse({"detail": "unexpected Host header"}, status_code=400)
        elif self.token and not hmac.compare_digest(token_of(request).encode(), self.token.encode()):
            response = SafeJSONResponse({"detail": "a valid token is required (Authorization: Bearer … or ?token=…)"},
                                    status_code=401, headers={"WWW-Authenticate": "Bearer"})
        else:
            response = await call_next(request)
        for key, value in HEADERS.items():
            response.headers.setdefault(key, value)
        if request.url.path.startswith("/api/"):
            response.headers.setdefault("Cache-Control", "no-store")
        return response
