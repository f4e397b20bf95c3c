"""Only http and https are fetched: Scrapy's file, data, ftp and s3 download handlers are switched off,
so a file:// or data: URL that reaches the downloader (a redirect, a favicon link, a banner picture)
is refused there and never read, whatever the layers above let through."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import scrapy
from scrapy.http.request import NO_CALLBACK

from crawler.fetch import scrapy_settings
from crawler.run import run
from crawler.settings import CrawlerSettings, DnsSettings

NOW = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
SECRET = b"root:x:0:0:hydrawatch-local-file-secret"


class _DownloadOnce(scrapy.Spider):
    """Downloads the given URLs through the crawl's download stack and records what came back."""

    name = "download-once"

    def __init__(self, urls: list[str], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.urls = urls
        self.got: dict[str, object] = {}

    async def start(self) -> Any:
        for url in self.urls:
            try:
                request = scrapy.Request(url, dont_filter=True, callback=NO_CALLBACK)
                response = await self.crawler.engine.download_async(request)
                self.got[url] = response.body
            except Exception as exc:  # noqa: BLE001 - the refusal is what we want to see
                self.got[url] = exc
        return
        yield


def _download(urls: list[str]) -> dict[str, object]:
    from scrapy.crawler import AsyncCrawlerRunner

    settings = scrapy_settings(CrawlerSettings(), DnsSettings())
    # The handler layer alone: the guard middleware (which also refuses a URL without a host) is
    # taken out, so this shows the download handlers themselves refuse the scheme.
    settings["DOWNLOADER_MIDDLEWARES"] = {k: v for k, v in settings["DOWNLOADER_MIDDLEWARES"].items()
                                          if k != "crawler.middleware.GuardMiddleware"}

    async def go() -> dict[str, object]:
        runner = AsyncCrawlerRunner(settings)
        crawler = runner.create_crawler(_DownloadOnce)
        await runner.crawl(crawler, urls=urls)
        return crawler.spider.got

    return run(go)


@pytest.mark.parametrize("kind", ["file", "data"])
def test_file_and_data_urls_are_never_read(tmp_path: Path, kind: str) -> None:
    secret = tmp_path / "passwd"
    secret.write_bytes(SECRET)
    url = secret.as_uri() if kind == "file" else "data:text/plain;base64,cm9vdDp4OjA6MDpoeWRyYXdhdGNoLWxvY2FsLWZpbGUtc2VjcmV0"
    got = _download([url])[url]
    assert isinstance(got, Exception), got
    assert "scheme" in str(got).lower(), got


def test_only_http_and_https_handlers_are_configured() -> None:
    handlers = scrapy_settings(CrawlerSettings(), DnsSettings())["DOWNLOAD_HANDLERS"]
    assert {k for k, v in handlers.items() if v} == {"http", "https"}
    assert all(handlers[s] is None for s in ("file", "data", "ftp", "s3"))
