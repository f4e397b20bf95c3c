"""`hydrawatch run [--once]`: the daemon, or one full cycle."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from hydrawatch import logs
from hydrawatch.config import Config, redactor
from hydrawatch.config import load as load_config
from hydrawatch.context import CliError, state
from hydrawatch.render import dumps, terminal_safe

if TYPE_CHECKING:
    from scheduler.components import Components
    from storage.store import Store

log = logging.getLogger(__name__)


def print_report(stats: dict, console: Console) -> None:  # type: ignore[type-arg]
    console.print(f"probed {stats['probed']}, crawled {stats['crawled']}, RDAP {stats['rdap']}; "
                  f"candidates {stats['candidates_generated']} generated, {stats['candidates_resolved']} resolving, "
                  f"{stats['candidates_observed']} observed; {stats['new_edges']} new edges; "
                  f"alerts sent {stats['alerts_sent']}, failed {stats['alerts_failed']}; {stats['seconds']} s",
                  highlight=False, markup=False)
    for ch in stats["status_changes"]:
        console.print(f"  {ch['domain']}: {ch['from']} -> {ch['to']} ({terminal_safe(ch['reason'], 120)})",
                      highlight=False, markup=False)
    for c in stats["clones"]:
        console.print(f"  clone {c['to']} <- {c['from']} ({c['relation']}, {c['confidence']:.2f})",
                      highlight=False, markup=False)
    if stats.get("rdap_rate_limited"):
        console.print(f"  RDAP/WHOIS: {stats['rdap_rate_limited']} lookup(s) rate-limited (over rdap.max_wait), "
                      "looked up again next cycle", highlight=False, markup=False)
    for note in stats.get("source_notes", []):
        console.print(f"  source: {terminal_safe(note, 200)}", highlight=False, markup=False)
    for err in stats["source_errors"]:
        console.print(f"  source failed: {terminal_safe(err, 200)}", highlight=False, markup=False)


def register(app: typer.Typer) -> None:
    @app.command("run")
    def run(ctx: typer.Context,
            once: Annotated[bool, typer.Option("--once", help="one full cycle, then exit")] = False,
            fmt: Annotated[str, typer.Option("--format", help="text or json (summary of --once)")] = "text",
            progress: Annotated[str, typer.Option(
                "--progress", help="auto (bars when stderr is a terminal and logs are text), always or never")] = "auto",
            ) -> None:
        """The daemon (scheduled probes, crawls, discovery, alerts until SIGINT/SIGTERM), or --once."""
        # imported here, not at the top: `hydrawatch --help` must not load the store or the scheduler
        from hydrawatch.bundled import load_signatures
        from hydrawatch.progress import progress_display, wanted
        from hydrawatch.wiring import open_store
        from scheduler.components import Components
        from storage.lock import StoreLock

        cfg = state(ctx).config
        if cfg.cluster.enabled:
            from hydrawatch.commands.worker import cluster_unavailable

            raise cluster_unavailable("run")
        if progress not in ("auto", "always", "never"):
            raise CliError(f"--progress must be auto, always or never, not {progress!r}", 2)
        logs.setup(cfg.log.format, cfg.log.level, redactor(cfg))
        console = Console(stderr=True)
        # The lock for the whole command: AlreadyRunning (exit 3) when another instance holds the store.
        with open_store(cfg) as store, StoreLock(store.engine):
            _close_interrupted(store)
            with progress_display(wanted(progress, cfg.log.format, console), console) as sink:
                parts = Components.from_settings(cfg, store, load_signatures(), progress=sink)
                if not once:
                    _serve(parts, state(ctx).config_path)
                    return
                stats = _one_cycle(parts)
            if fmt == "json":
                typer.echo(dumps(stats))
            else:
                print_report(stats, console)


def _close_interrupted(store: Store) -> None:
    """Cycles a stopped or killed process left running are marked interrupted, with a warning."""
    from hydrawatch.wiring import utcnow
    from storage import cycles

    with store.transaction() as session:
        stale = cycles.close_interrupted(session, now=utcnow())
    if stale:
        log.warning("%d cycle(s) left running by a stopped or killed process marked interrupted", stale)


def _one_cycle(parts: Components) -> dict:  # type: ignore[type-arg]
    """One full cycle on the reactor loop (`run --once`); its stats."""
    from crawler import run as reactor_run
    from hydrawatch.wiring import utcnow
    from scheduler import cycle

    async def main() -> dict:  # type: ignore[type-arg]
        try:
            return (await cycle.run_cycle(parts, now=utcnow())).stats()
        finally:
            await parts.close()

    return reactor_run.run(main)


def _serve(parts: Components, config_path: Path | None) -> None:
    """The daemon on the reactor loop until SIGINT/SIGTERM; SIGHUP reloads the config from ``config_path``."""
    from crawler import run as reactor_run
    from scheduler.daemon import Daemon

    def reload_config() -> Config:
        fresh = load_config(config_path)  # ConfigError: the daemon keeps the old one
        logs.setup(fresh.log.format, fresh.log.level, redactor(fresh))
        return fresh

    async def main() -> None:
        daemon = Daemon(parts, reload=reload_config)
        try:
            await daemon.serve()
        finally:
            await daemon.parts.close()

    reactor_run.run(main)
