"""What the researcher's commands share: format, status and domain checks with one-line errors."""

from __future__ import annotations

from collections.abc import Sequence

from detect.model import Status
from hydrawatch.context import CliError
from hydrawatch.render import terminal_safe


def check_format(fmt: str, allowed: Sequence[str]) -> None:
    if fmt not in allowed:
        raise CliError(f"--format must be one of {', '.join(allowed)}, not {fmt!r}", 2)


def parse_status(value: str, option: str = "--status") -> Status:
    """``value`` as a Status, or a one-line error (exit 2) naming the valid statuses."""
    try:
        return Status(value)
    except ValueError:
        raise CliError(f"{option} must be one of {', '.join(Status)}, not {terminal_safe(value, 40)!r}", 2) from None


def normalise(domain: str) -> str:
    from detect.names import InvalidDomain, registrable_domain

    try:
        return registrable_domain(domain)
    except InvalidDomain as exc:
        raise CliError(f"{domain!r}: {exc}", 2) from None
