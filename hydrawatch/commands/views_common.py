"""What the researcher's commands share: format checks and domain normalisation with one-line errors."""

from __future__ import annotations

from collections.abc import Sequence

from hydrawatch.context import CliError


def check_format(fmt: str, allowed: Sequence[str]) -> None:
    if fmt not in allowed:
        raise CliError(f"--format must be one of {', '.join(allowed)}, not {fmt!r}", 2)


def normalise(domain: str) -> str:
    from detect.names import InvalidDomain, registrable_domain

    try:
        return registrable_domain(domain)
    except InvalidDomain as exc:
        raise CliError(f"{domain!r}: {exc}", 2) from None
