"""Real clients for the sandbox self-test: dnspython queries, urllib through the proxy, raw sockets."""

from __future__ import annotations

import json
import ssl
import urllib.error
import urllib.request
from typing import Any

import dns.message
import dns.query
import dns.rdatatype

from sandbox.net import Sandbox


def query(sb: Sandbox, name: str, rdtype: str = "A", tcp: bool = False, **kw: Any) -> dns.message.Message:
    q = dns.message.make_query(name, rdtype, **kw)
    send = dns.query.tcp if tcp else dns.query.udp
    return send(q, "127.0.0.1", port=sb.ports["dns"], timeout=3)


def values(response: dns.message.Message, rdtype: str) -> list[str]:
    wanted = dns.rdatatype.from_text(rdtype)
    return sorted(rd.to_text() for rrset in response.answer if rrset.rdtype == wanted for rd in rrset)


def opener(sb: Sandbox, proxy: bool = True, follow: bool = True) -> urllib.request.OpenerDirector:
    ctx = ssl.create_default_context(cadata=sb.ca_pem)
    handlers: list[Any] = [urllib.request.HTTPSHandler(context=ctx)]
    if not follow:
        handlers.append(NoRedirect())
    proxy_url = f"http://127.0.0.1:{sb.ports['proxy']}"
    handlers.append(urllib.request.ProxyHandler({"http": proxy_url, "https": proxy_url} if proxy else {}))
    return urllib.request.build_opener(*handlers)


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def fetch(sb: Sandbox, url: str, follow: bool = True, timeout: float = 5) -> tuple[int, dict[str, str], bytes]:
    op = opener(sb, follow=follow)
    try:
        with op.open(url, timeout=timeout) as resp:
            return resp.status, dict(resp.headers.items()), resp.read()
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers.items()), err.read()


def get_json(url: str) -> tuple[int, Any]:
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, err.read()
