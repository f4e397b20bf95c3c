"""Progress of a foreground run: the stages a cycle reports, the Rich display, and the real CLI on a
terminal (a pseudo-terminal, so `--progress auto` decides as it would for a person)."""

from __future__ import annotations

import io
import logging
import os
import pty
import select
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from rich.console import Console

from crawler import run as reactor_run
from hydrawatch.bundled import load_signatures
from hydrawatch.config import from_mapping
from hydrawatch.logs import SafeTextFormatter
from hydrawatch.progress import ConsoleHandler, RichProgress, progress_display, wanted
from sandbox.net import Sandbox
from scheduler import cycle
from scheduler.components import Components
from scheduler.progress import stage
from storage import watchlist
from storage.store import Store
from tests.support import REPO, write_config

SEEDS = ("rrn.media", "artichoc.io", "lavirgule.news")
TLDS = ["cc", "so", "io", "media", "news"]


class Recorder:
    """A ProgressSink that keeps what it was told."""

    def __init__(self) -> None:
        self.stages: dict[int, dict[str, object]] = {}

    def start(self, name: str, total: int | None) -> object:
        handle = len(self.stages)
        self.stages[handle] = {"name": name, "total": total, "done": 0, "finished": False}
        return handle

    def advance(self, handle: object, steps: int = 1) -> None:
        assert isinstance(handle, int) and not self.stages[handle]["finished"]
        self.stages[handle]["done"] += steps  # type: ignore[operator]

    def finish(self, handle: object) -> None:
        assert isinstance(handle, int)
        self.stages[handle]["finished"] = True

    def by_name(self, name: str) -> list[dict[str, object]]:
        return [s for s in self.stages.values() if s["name"] == name]


def test_a_stage_is_finished_when_its_block_fails() -> None:
    rec = Recorder()
    with pytest.raises(RuntimeError), stage(rec, "watched: DNS", 3) as step:
        step.advance()
        raise RuntimeError("interrupted")
    assert rec.stages[0] == {"name": "watched: DNS", "total": 3, "done": 1, "finished": True}


def test_rich_progress_draws_bars_and_prints_logs_above_them_inert() -> None:
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=100, color_system=None)
    sink = RichProgress(console)
    handler = ConsoleHandler(console)
    handler.setFormatter(SafeTextFormatter("%(message)s"))
    with sink.bars:
        bar = sink.start("candidates: resolve", 4)
        sink.advance(bar, 3)
        sink.bars.refresh()
        handler.emit(logging.LogRecord("t", logging.INFO, __file__, 1, "title \x1b[2Jgone\x07", None, None))
        sink.finish(bar)
    text = out.getvalue()
    assert "candidates: resolve" in text and "3/4" in text
    assert "title" in text and "\x1b[2J" not in text and "\x07" not in text


def test_progress_is_shown_only_on_a_terminal_with_text_logs() -> None:
    tty = Console(file=io.StringIO(), force_terminal=True)
    pipe = Console(file=io.StringIO(), force_terminal=False)
    assert wanted("auto", "text", tty) and not wanted("auto", "json", tty) and not wanted("auto", "text", pipe)
    assert wanted("always", "json", pipe) and not wanted("never", "text", tty)
    root = logging.getLogger()
    before = root.handlers[:]
    with progress_display(True, tty):
        assert isinstance(root.handlers[0], ConsoleHandler)
    assert root.handlers == before


@pytest.mark.sandbox
def test_a_cycle_reports_every_stage_it_works_through(sandbox: Sandbox, tmp_path: Path) -> None:
    sandbox.set_phase("seizure")
    cfg = from_mapping({**sandbox.config_overrides(), "storage": {"url": f"sqlite:///{tmp_path / 's.db'}"},
                        "discovery": {**sandbox.config_overrides()["discovery"], "tlds": TLDS}}, source="(test)")
    store = Store.from_url(cfg.storage.url)
    store.init()
    with store.transaction() as session:
        watchlist.add_domains(session, SEEDS, campaign="t", origin="seed", now=datetime.now(UTC))
    rec = Recorder()
    parts = Components.from_settings(cfg, store, load_signatures(), progress=rec)

    async def main() -> None:
        try:
            await cycle.run_cycle(parts, now=sandbox.clock())
        finally:
            await parts.close()

    try:
        reactor_run.run(main)
    finally:
        store.close()
    assert all(s["finished"] for s in rec.stages.values())
    for name in ("watched: DNS", "watched: classify"):
        (watched,) = rec.by_name(name)
        assert watched["total"] == watched["done"] == len(SEEDS)
    (crawl,) = rec.by_name("watched: crawl")
    assert crawl["total"] == crawl["done"] and 0 < crawl["done"] <= len(SEEDS)  # type: ignore[operator]
    # one resolve stage per batch (the lost domains' lookalikes, then the sweep), one score stage per part
    for name in ("candidates: resolve", "candidates: score"):
        bars = rec.by_name(name)
        assert bars and all(b["total"] == b["done"] for b in bars), bars
        assert sum(b["done"] for b in bars) > 0  # type: ignore[misc]


@pytest.mark.sandbox
def test_run_once_on_a_terminal_shows_progress_bars(sandbox: Sandbox, tmp_path: Path) -> None:
    """The real CLI with stderr on a pseudo-terminal: bars are drawn, the summary follows."""
    sandbox.set_phase("before")
    url = f"sqlite:///{tmp_path / 's.db'}"
    config = write_config(tmp_path / "hydrawatch.toml", sandbox, url,
                          discovery={"tlds": TLDS}, log={"level": "WARNING"})
    env = {k: v for k, v in os.environ.items() if not k.startswith("HYDRAWATCH_")}
    env.update(COLUMNS="120", TERM="xterm")
    base = [sys.executable, "-m", "hydrawatch.cli", "--config", str(config)]
    subprocess.run([*base, "init"], check=True, capture_output=True, cwd=REPO, env=env)
    subprocess.run([*base, "seed", "add", *SEEDS], check=True, capture_output=True, cwd=REPO, env=env)
    master, slave = pty.openpty()
    proc = subprocess.Popen([*base, "run", "--once"], stdout=subprocess.DEVNULL, stderr=slave, cwd=REPO, env=env)
    os.close(slave)
    seen = bytearray()
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.5)
        if ready:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # the child closed the terminal
                break
            if not chunk:
                break
            seen += chunk
        elif proc.poll() is not None:
            break
    os.close(master)
    assert proc.wait(30) == 0, seen.decode(errors="replace")[-2000:]
    text = seen.decode(errors="replace")
    assert "watched: DNS" in text and "watched: crawl" in text
    assert "probed 3, crawled" in text
