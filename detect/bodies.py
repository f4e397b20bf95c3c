"""How a page body is kept: its SHA-256 (hex, the key it is stored under once) and its gzip.

One definition for the store (storage.observations, which packs what it is handed unpacked) and the crawl's
page workers (crawler.pagework, which pack a big crawl's bodies beside the crawl, off its process).
"""

from __future__ import annotations

import gzip
import hashlib

GZIP_LEVEL = 6

PackedBody = tuple[str, bytes]  # (SHA-256 hex of the body, the body gzip'd)


def body_digest(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def pack_body(body: bytes) -> PackedBody:
    """(SHA-256 hex, gzip at GZIP_LEVEL) of ``body``."""
    return body_digest(body), gzip.compress(body, GZIP_LEVEL)
