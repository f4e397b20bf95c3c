"""Settings sections: how each package declares and validates the keys it reads, and detect's own.

Every package owns the frozen dataclass of each config section it reads (crawler/settings.py: [dns],
[crawler], [rdap]; storage/settings.py: [storage]; scheduler/settings.py: [discovery], [alerts],
[schedule]; here: [scoring], [brands]). A field declares its meaning, check and secrecy with
:func:`key`; :func:`parse_section` turns one section's table into its dataclass or raises one
:class:`SettingsError` line naming the key. The shell (hydrawatch/config.py) composes the sections,
reads the file and the environment, and passes a ``show`` that masks secrets in those lines.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import urlsplit

from detect.errors import HydrawatchError

T = TypeVar("T")
# How an error line shows a key's value: (dotted key, value) -> text. The shell's masks secrets.
Show = Callable[[str, Any], str]
# A key's own check, run on the coerced value: (dotted key, value, show) -> None or SettingsError.
Check = Callable[[str, Any, Show], None]


class SettingsError(HydrawatchError):
    """A configuration problem, phrased as one line that names the key."""

    exit_code = 2
    label = "config error"


def plain(key: str, value: Any) -> str:
    return repr(value)


def key(doc: str, check: Check | None = None, secret: str = "") -> dict[str, Any]:
    """A field's metadata: its meaning, its check, and ``secret`` "value" (never shown, read raw from
    the environment) or "url" (a URL whose password is never shown)."""
    return {"doc": doc, "check": check, "secret": secret}


# -- checks shared by every package ------------------------------------------------------------------
def positive(name: str, value: Any, show: Show) -> None:
    if value <= 0:
        raise SettingsError(f"{name}: must be greater than 0, got {show(name, value)}")


def nonnegative(name: str, value: Any, show: Show) -> None:
    if value < 0:
        raise SettingsError(f"{name}: must not be negative, got {show(name, value)}")


def unit(name: str, value: Any, show: Show) -> None:
    if not 0.0 <= value <= 1.0:
        raise SettingsError(f"{name}: must be between 0 and 1, got {show(name, value)}")


def port(name: str, value: Any, show: Show) -> None:
    if not 0 < value < 65536:
        raise SettingsError(f"{name}: not a port number: {show(name, value)}")


def check_url(name: str, value: str, show: Show, schemes: tuple[str, ...] = ("http", "https")) -> None:
    parts = urlsplit(value)
    if parts.scheme not in schemes or not parts.netloc:
        raise SettingsError(f"{name}: not a valid {'/'.join(schemes)} URL: {show(name, value)}")


def url_or_empty(name: str, value: str, show: Show) -> None:
    if value:
        check_url(name, value, show)


def url_map(name: str, value: Mapping[str, str], show: Show) -> None:
    for tld, url in value.items():
        check_url(f"{name}.{tld}", url, show)


# -- parsing a section --------------------------------------------------------------------------------
def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", None) or str(tp).replace("typing.", "")


def coerce(name: str, tp: Any, value: Any, show: Show = plain) -> Any:
    """Check ``value`` against the declared type; ints are accepted where floats are declared."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        for option in typing.get_args(tp):
            try:
                return coerce(name, option, value, show)
            except SettingsError:
                continue
        raise SettingsError(f"{name}: expected {_type_name(tp)}, got {type(value).__name__} {show(name, value)}")
    if origin is list:
        (item,) = typing.get_args(tp)
        if not isinstance(value, list):
            raise SettingsError(f"{name}: expected a list, got {type(value).__name__} {show(name, value)}")
        return [coerce(f"{name}[{i}]", item, v, show) for i, v in enumerate(value)]
    if origin is dict:
        _, item = typing.get_args(tp)
        if not isinstance(value, dict):
            raise SettingsError(f"{name}: expected a table, got {type(value).__name__} {show(name, value)}")
        return {str(k): coerce(f"{name}.{k}", item, v, show) for k, v in value.items()}
    if tp is bool:
        if not isinstance(value, bool):
            raise SettingsError(f"{name}: expected true or false, got {show(name, value)}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise SettingsError(f"{name}: expected an integer, got {show(name, value)}")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise SettingsError(f"{name}: expected a number, got {show(name, value)}")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise SettingsError(f"{name}: expected a string, got {type(value).__name__} {show(name, value)}")
        return value
    raise SettingsError(f"{name}: unsupported type {tp}")  # pragma: no cover - schema bug


def parse_section(cls: type[T], section: str, data: Mapping[str, Any], show: Show = plain) -> T:
    """``data`` (one TOML table) as ``cls``: unknown keys, wrong types and failed checks are errors."""
    hints = typing.get_type_hints(cls)
    known = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    values: dict[str, Any] = {}
    for name, value in data.items():
        full = f"{section}.{name}"
        if name not in known:
            raise SettingsError(f"{full}: unknown key (known in [{section}]: {', '.join(known)})")
        coerced = coerce(full, hints[name], value, show)
        check = known[name].metadata.get("check")
        if check is not None:
            check(full, coerced, show)
        values[name] = coerced
    return cls(**values)


# -- detect's own sections ----------------------------------------------------------------------------
@dataclass(frozen=True)
class ScoringSettings:
    threshold: float = field(default=0.6, metadata=key(
        "confidence at or above which a candidate is recorded as a clone", unit))
    takedown_window_hours: float = field(default=96.0, metadata=key(
        "registrations this soon after a network takedown count as evidence", positive))
    commodity_share: int = field(default=50, metadata=key(
        "a value carried by more store domains outside the network than this is commodity (weight 0)", positive))

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], show: Show = plain) -> ScoringSettings:
        return parse_section(cls, "scoring", data, show)


@dataclass(frozen=True)
class BrandsSettings:
    legitimate: list[str] = field(default_factory=list, metadata=key(
        "official domains of impersonated outlets: never reported as clones"))

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], show: Show = plain) -> BrandsSettings:
        return parse_section(cls, "brands", data, show)
