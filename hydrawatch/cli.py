"""The `hydrawatch` command: a thin shell. Each command group lives in hydrawatch/commands/."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy.exc import SQLAlchemyError

from detect.errors import HydrawatchError
from hydrawatch.context import State
from storage.db import describe

# Every command module registers itself with register(app); the list is explicit (no discovery magic).
COMMAND_MODULES = (
    "hydrawatch.commands.store",
    "hydrawatch.commands.seed",
    "hydrawatch.commands.archive",
    "hydrawatch.commands.status",
    "hydrawatch.commands.probe",
    "hydrawatch.commands.lineage",
    "hydrawatch.commands.pivot",
    "hydrawatch.commands.export",
    "hydrawatch.commands.serve",
    "hydrawatch.commands.candidates",
    "hydrawatch.commands.run",
    "hydrawatch.commands.alerts",
    "hydrawatch.commands.demo",
)


def build_app() -> typer.Typer:
    app = typer.Typer(
        name="hydrawatch", no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False,
        help="Track disinformation websites through takedowns and find their replacements.",
    )

    @app.callback()
    def _global(
        ctx: typer.Context,
        config: Annotated[Path | None, typer.Option(
            "--config", help="TOML config (else $HYDRAWATCH_CONFIG, else config/hydrawatch.toml)")] = None,
    ) -> None:
        if isinstance(ctx.obj, State):  # main() passes its State, to mask the config's secrets in errors
            ctx.obj.config_path = config
        else:
            ctx.obj = State(config_path=config)

    for name in COMMAND_MODULES:
        importlib.import_module(name).register(app)
    return app


def main(argv: list[str] | None = None) -> int:
    try:
        return _main(argv)
    finally:
        import sys as _sys

        if "crawler.run" in _sys.modules:  # only commands that ran the event loop loaded it
            _sys.modules["crawler.run"].shutdown()


def _main(argv: list[str] | None) -> int:
    app = build_app()
    shared = State()
    try:
        app(args=argv, standalone_mode=False, obj=shared)
    except HydrawatchError as exc:  # config, store, command errors …: one line, the class's exit code
        label = f"{exc.label}: " if exc.label else ""
        print(f"hydrawatch: {label}{shared.redact(str(exc))}", file=sys.stderr)
        return exc.exit_code
    except SQLAlchemyError as exc:
        print(f"hydrawatch: {shared.redact(describe(exc))}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("hydrawatch: interrupted", file=sys.stderr)
        return 130
    except typer.Exit as exc:
        return exc.exit_code
    except typer.Abort:
        return 1
    except Exception as exc:  # click usage errors and the like
        import click

        if isinstance(exc, click.exceptions.ClickException):
            exc.show()
            return exc.exit_code
        raise
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
