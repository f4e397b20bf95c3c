"""Page specs of a world file -> Page values: files, inline HTML, templates, redirects, built-ins."""

from __future__ import annotations

import string
from pathlib import Path
from typing import Any

from sandbox.errors import WorldError
from sandbox.model import Page

CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8", ".htm": "text/html; charset=utf-8",
    ".png": "image/png", ".ico": "image/x-icon", ".gif": "image/gif", ".jpg": "image/jpeg",
    ".css": "text/css", ".js": "application/javascript", ".json": "application/json",
    ".txt": "text/plain; charset=utf-8", ".xml": "application/xml",
}
PAGE_KEYS = frozenset({"file", "html", "template", "vars", "replace", "status", "headers",
                       "content_type", "redirect", "builtin"})
# A 1x1 GIF standing for the FBI's full-screen seizure image (its hash is what a detector keys on).
SEIZURE_GIF = bytes.fromhex(
    "47494638396101000100800000ff0000ffffff21f90401000000002c00000000010001000002024401003b")

SEIZURE_BANNER = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>This domain has been seized</title></head>
<body style="background:#0b1f3a;color:#fff;font-family:Arial,sans-serif;text-align:center">
<h1>THIS DOMAIN HAS BEEN SEIZED</h1>
<p>The United States Government seized this domain pursuant to a seizure warrant issued by a
United States District Court under the authority of 18 U.S.C. &sect; 981 and 982 as part of a law
enforcement action by the Federal Bureau of Investigation.</p>
<p>Department of Justice &middot; Federal Bureau of Investigation</p>
</body></html>
"""
SEIZURE_IMAGE = """<!DOCTYPE html>
<html><head><title>This domain has been seized</title>
<style>html,body{margin:0;height:100%;background:#000}img{width:100%;height:100%;object-fit:contain}</style>
</head><body><img src="/seized.gif" alt=""></body></html>
"""
PARKED = """<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>$domain - This domain may be for sale!</title></head>
<body><div class="parking"><h1>$domain</h1>
<p>This domain may be for sale! <a href="https://www.sedo.com/search/details/?domain=$domain">Buy now</a></p>
<p>Related searches: News Today &middot; Breaking News &middot; Online Newspaper &middot; Media</p>
</div></body></html>
"""
BUILTINS = {"seizure-banner": SEIZURE_BANNER, "seizure-image": SEIZURE_IMAGE, "parked": PARKED}


def builtin_assets(name: str) -> dict[str, Page]:
    """Extra paths a built-in page needs (the banner image)."""
    if name == "seizure-image":
        return {"/seized.gif": Page(body=SEIZURE_GIF, content_type="image/gif")}
    return {}


def build_page(spec: Any, where: str, base: Path | None, domain: str) -> Page:
    """One page spec: a file path string, or a table with one of file/html/template/redirect/builtin."""
    if isinstance(spec, str):
        spec = {"file": spec}
    if not isinstance(spec, dict):
        raise WorldError(f"{where}: expected a file name or a table, got {spec!r}")
    unknown = set(spec) - PAGE_KEYS
    if unknown:
        raise WorldError(f"{where}: unknown key {min(unknown)!r} (known: {', '.join(sorted(PAGE_KEYS))})")
    sources = [k for k in ("file", "html", "template", "redirect", "builtin") if k in spec]
    if len(sources) > 1:
        raise WorldError(f"{where}: give only one of file/html/template/redirect/builtin, got {sources}")
    headers = spec.get("headers", {})
    if not isinstance(headers, dict):
        raise WorldError(f"{where}.headers: expected a table of header = value")
    status = spec.get("status", 200)
    if not isinstance(status, int) or not 100 <= status <= 599:
        raise WorldError(f"{where}.status: expected an HTTP status code, got {status!r}")
    content_type = "text/html; charset=utf-8"
    body = b""
    location = ""
    variables = {"domain": domain, **{str(k): str(v) for k, v in spec.get("vars", {}).items()}}
    if "file" in spec or "template" in spec:
        name = spec.get("file") or spec["template"]
        data = _read(name, where, base)
        content_type = CONTENT_TYPES.get(Path(name).suffix.lower(), "application/octet-stream")
        if "template" in spec:
            data = string.Template(data.decode("utf-8")).safe_substitute(variables).encode("utf-8")
        body = data
    elif "html" in spec:
        body = str(spec["html"]).encode("utf-8")
    elif "builtin" in spec:
        if spec["builtin"] not in BUILTINS:
            raise WorldError(f"{where}.builtin: unknown built-in page {spec['builtin']!r} "
                             f"(known: {', '.join(sorted(BUILTINS))})")
        body = string.Template(BUILTINS[spec["builtin"]]).safe_substitute(variables).encode("utf-8")
    elif "redirect" in spec:
        location = str(spec["redirect"])
        status = spec.get("status", 301)
    for old, new in spec.get("replace", {}).items():
        body = body.replace(str(old).encode("utf-8"), str(new).encode("utf-8"))
    return Page(status=status, body=body, content_type=spec.get("content_type", content_type),
                headers=tuple((str(k), str(v)) for k, v in headers.items()), location=location)


def read_bytes(name: str, where: str, base: Path | None) -> bytes:
    return _read(name, where, base)


def _read(name: str, where: str, base: Path | None) -> bytes:
    if base is None:
        raise WorldError(f"{where}: file {name!r} given but this world has no folder (inline world)")
    path = (base / name).resolve()
    if base.resolve() not in path.parents:
        raise WorldError(f"{where}: file {name!r} is outside the world folder")
    if not path.is_file():
        raise WorldError(f"{where}: missing page file {name!r} (looked in {base})")
    return path.read_bytes()
