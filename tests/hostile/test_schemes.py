"""file:// and data: URLs reached by a redirect, a favicon link or a picture are never fetched: the
spider refuses them and Scrapy's file/data/ftp/s3 handlers are off (tests/crawler/test_schemes.py)."""

from __future__ import annotations

from pathlib import Path

from sandbox.net import Sandbox
from tests.hostile.harness import assert_batch_intact, run_cycle


def test_redirects_and_links_to_local_schemes_are_not_followed(hsb: Sandbox, tmp_path: Path) -> None:
    out = run_cycle(hsb, tmp_path, ["tofile.info", "todata.info", "filelinks.info"])
    assert_batch_intact(out)
    for name in ("tofile.info", "todata.info"):
        http = out.observations(name, "http")
        assert http and all(o["error_kind"] == "other" and "unsupported scheme" in o["error"] for o in http), http
        assert all(o["http_status"] is None for o in http)
    links = out.observations("filelinks.info", "http")
    assert any(o["http_status"] == 200 for o in links), links
    assert not any(o["url"].startswith(("file:", "data:")) for name in ("tofile.info", "todata.info", "filelinks.info")
                   for o in out.observations(name, "http"))
    assert "root:x:0:0:root" not in out.dump()  # /etc/passwd was never read
