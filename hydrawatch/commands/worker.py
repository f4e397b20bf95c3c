"""`hydrawatch worker`: cluster mode's job runner (CONTRACT.md). Cluster mode is not available in this
version: the command and the `[cluster]` section exist so a config written to the contract is read, and a
user who turns cluster mode on is told plainly, instead of getting a daemon that ignores the setting."""

from __future__ import annotations

from typing import Annotated

import typer

from hydrawatch.context import CliError, state

UNAVAILABLE = ("cluster mode ([cluster] enabled = true) is not available in this version of hydrawatch; "
               "set enabled = false and run the embedded daemon (`hydrawatch run`)")


def cluster_unavailable(command: str) -> CliError:
    return CliError(f"{command}: {UNAVAILABLE}", 2)


def register(app: typer.Typer) -> None:
    @app.command("worker")
    def worker(ctx: typer.Context,
               concurrency: Annotated[int, typer.Option("--concurrency", min=1,
                                                        help="jobs run at once by this worker")] = 1) -> None:
        """Cluster mode: run queued jobs from the PostgreSQL job queue (not available in this version)."""
        cfg = state(ctx).config
        if not cfg.cluster.enabled:
            raise CliError("worker: cluster mode is off ([cluster] enabled = false); the embedded daemon "
                           "(`hydrawatch run`) does the work", 2)
        raise cluster_unavailable("worker")
