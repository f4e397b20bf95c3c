"""The `hydrawatch` command: a thin shell. Each command group lives in hydrawatch/commands/."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from typing import Annotated

import typer

from detect.errors import HydrawatchError
from hydrawatch.context import State

# Every command module registers itself with register(app); the list is explicit (no discovery magic).
# A command module imports at its top only what building the parser needs (typer, the shell's light
# helpers, detect's values): what a command's body uses is imported in that body, so `--help`, `status`
# and `probe` start without loading the store, Scrapy or the similarity index they do not use
# (tests/cli/test_startup_imports.py keeps it so).
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
    "hydrawatch.commands.worker",
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


def _one_line(message: str) -> str:
    """An error's message as the one line it is printed as: line breaks a library put in it (a driver's
    "(\n Database error.\n )") become spaces."""
    return " ".join(part.strip() for part in message.splitlines() if part.strip())


def _main(argv: list[str] | None) -> int:
    app = build_app()
    shared = State()
    try:
        app(args=argv, standalone_mode=False, obj=shared)
    except HydrawatchError as exc:  # config, store, command errors …: one line, the class's exit code
        label = f"{exc.label}: " if exc.label else ""
        print(f"hydrawatch: {label}{shared.redact(_one_line(str(exc)))}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("hydrawatch: interrupted", file=sys.stderr)
        return 130
    except typer.Exit as exc:
        return exc.exit_code
    except typer.Abort:
        return 1
    except Exception as exc:  # store errors, click usage errors and the like
        message = _store_failure(exc)
        if message is not None:
            print(f"hydrawatch: {shared.redact(_one_line(message))}", file=sys.stderr)
            return 1
        if _is_usage_error(exc):  # click's, or the copy of click typer ships (typer._click)
            exc.show()  # type: ignore[attr-defined]
            return int(exc.exit_code)  # type: ignore[attr-defined]
        raise
    return 0


def _is_usage_error(exc: Exception) -> bool:
    """A ClickException from click itself or from typer's vendored copy (typer >= 0.29 ships one)."""
    for name in ("click.exceptions", "typer._click.exceptions"):
        module = sys.modules.get(name)
        if module is not None and isinstance(exc, module.ClickException):
            return True
    return False


def _store_failure(exc: Exception) -> str | None:
    """The one line for an SQLAlchemyError the store did not wrap, else None (StoreError is a
    HydrawatchError, caught before this).

    Looked up in sys.modules rather than imported: a command that never loaded the store cannot
    have raised its errors, and importing SQLAlchemy here would cost every command its start-up."""
    sa_exc = sys.modules.get("sqlalchemy.exc")
    if sa_exc is not None and isinstance(exc, sa_exc.SQLAlchemyError):
        from storage.db import describe

        return describe(exc)
    return None


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
