"""`hydrawatch export --format json|csv|graphml|stix [-o FILE]`: the whole store's domains and lineage."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from hydrawatch.commands.views_common import check_format
from hydrawatch.context import CliError, state


def register(app: typer.Typer) -> None:
    @app.command("export")
    def export_cmd(
        ctx: typer.Context,
        fmt: Annotated[str, typer.Option("--format", help="json, csv, graphml or stix")] = "json",
        output: Annotated[Path | None, typer.Option("-o", "--output", help="file to write (default: stdout)")] = None,
    ) -> None:
        """Export every domain with its status history and every lineage edge with its evidence."""
        from hydrawatch.wiring import open_store, utcnow
        from storage import export

        check_format(fmt, tuple(export.EXPORTERS))
        with open_store(state(ctx).config) as store, store.transaction() as session:
            data = export.render(session, fmt, utcnow())
        if output is None:
            sys.stdout.buffer.write(data)
            sys.stdout.flush()
            return
        try:
            tmp = output.with_name(output.name + ".part")
            tmp.write_bytes(data)
            tmp.replace(output)
        except OSError as exc:
            raise CliError(f"cannot write {output}: {exc.strerror or exc}") from None
        Console(stderr=True, highlight=False).print(f"wrote {len(data)} bytes of {fmt} to {output}", markup=False)
