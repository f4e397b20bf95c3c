"""`hydrawatch worker`: cluster mode's job runner (CONTRACT.md). Any number of workers share one
PostgreSQL store; the embedded daemon (`hydrawatch run`) and workers never run on one store at once."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from hydrawatch import logs
from hydrawatch.config import redactor
from hydrawatch.context import CliError, state

if TYPE_CHECKING:
    from types import ModuleType

NO_EXTRA = ("cluster mode needs procrastinate, the `cluster` extra: pip install 'hydrawatch[cluster]'")


def cluster_module(command: str) -> ModuleType:
    """scheduler.cluster, or one line when the `cluster` extra is not installed."""
    try:
        from scheduler import cluster
    except ImportError as exc:
        raise CliError(f"{command}: {NO_EXTRA} ({exc})", 2) from None
    return cluster


def register(app: typer.Typer) -> None:
    @app.command("worker")
    def worker(ctx: typer.Context,
               concurrency: Annotated[int, typer.Option("--concurrency", min=1,
                                                        help="stages run at once by this worker")] = 1) -> None:
        """Cluster mode: run jobs from the PostgreSQL job queue until SIGINT/SIGTERM."""
        from crawler import run as reactor_run
        from hydrawatch.bundled import load_signatures
        from hydrawatch.wiring import open_store
        from scheduler.components import Components
        from storage.lock import StoreLock

        cfg = state(ctx).config
        if not cfg.cluster.enabled:
            raise CliError("worker: cluster mode is off ([cluster] enabled = false); the embedded daemon "
                           "(`hydrawatch run`) does the work", 2)
        cluster = cluster_module("worker")
        logs.setup(cfg.log.format, cfg.log.level, redactor(cfg))
        # Shared store lock: workers run beside each other, never beside an embedded daemon (exit 3).
        with open_store(cfg) as store, StoreLock(store.engine, shared=True):
            cluster.apply_schema(cfg.storage.url)
            parts = Components.from_settings(cfg, store, load_signatures())

            async def main() -> None:
                try:
                    await cluster.work(parts, concurrency=concurrency)
                finally:
                    await parts.close()

            reactor_run.run(main)
