"""`hydrawatch run [--once]`: the daemon, or one full cycle."""

from __future__ import annotations

import logging
from typing import Annotated

import typer
from rich.console import Console

from hydrawatch import logs
from hydrawatch.config import Config, redactor
from hydrawatch.config import load as load_config
from hydrawatch.context import CliError, state
from hydrawatch.render import dumps, terminal_safe

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
        from crawler import run as reactor_run
        from hydrawatch.bundled import load_signatures
        from hydrawatch.progress import progress_display, wanted
        from hydrawatch.wiring import open_store, utcnow
        from scheduler import cycle
        from scheduler.components import Components
        from scheduler.daemon import Daemon
        from storage import cycles
        from storage.lock import AlreadyRunning, StoreLock

        cfg = state(ctx).config
        if progress not in ("auto", "always", "never"):
            raise CliError(f"--progress must be auto, always or never, not {progress!r}", 2)
        logs.setup(cfg.log.format, cfg.log.level, redactor(cfg))
        console = Console(stderr=True)
        with open_store(cfg) as store:
            try:
                lock = StoreLock(store.engine)
                lock.acquire()
            except AlreadyRunning as exc:
                raise CliError(str(exc), 3) from None
            try:
                with store.transaction() as session:
                    stale = cycles.close_interrupted(session, now=utcnow())
                if stale:
                    log.warning("%d cycle(s) left running by a stopped or killed process marked interrupted", stale)
                display = progress_display(wanted(progress, cfg.log.format, console), console)

                async def once_main() -> dict:  # type: ignore[type-arg]
                    try:
                        return (await cycle.run_cycle(parts, now=utcnow())).stats()
                    finally:
                        await parts.close()

                def reload_config() -> Config:
                    fresh = load_config(state(ctx).config_path)  # ConfigError: the daemon keeps the old one
                    logs.setup(fresh.log.format, fresh.log.level, redactor(fresh))
                    return fresh

                async def daemon_main() -> None:
                    daemon = Daemon(parts, reload=reload_config)
                    try:
                        await daemon.serve()
                    finally:
                        await daemon.parts.close()

                with display as sink:
                    parts = Components.from_settings(cfg, store, load_signatures(), progress=sink)
                    if once:
                        stats = reactor_run.run(once_main)
                    else:
                        reactor_run.run(daemon_main)
                if once:
                    if fmt == "json":
                        typer.echo(dumps(stats))
                    else:
                        print_report(stats, console)
            finally:
                lock.release()
