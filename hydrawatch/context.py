"""What every command shares: the lazily loaded config and the error type the shell prints."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import typer

from detect.errors import HydrawatchError
from hydrawatch import config as config_mod


class CliError(HydrawatchError):
    """A user-facing failure: printed as one line, exit code ``exit_code``."""

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code


@dataclass
class State:
    config_path: Path | None = None
    _config: config_mod.Config | None = field(default=None, repr=False)

    def redact(self, text: str) -> str:
        """``text`` with the loaded config's secrets (and any URL password) masked."""
        return config_mod.redactor(self._config)(text)

    @property
    def config(self) -> config_mod.Config:
        if self._config is None:
            self._config = config_mod.load(self.config_path)
        return self._config


def state(ctx: typer.Context) -> State:
    obj = ctx.find_root().obj
    assert isinstance(obj, State)
    return obj
