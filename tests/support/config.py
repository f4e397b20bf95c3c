"""Config files for tests: the sandbox's endpoints, a store, a preset, then the test's own sections."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from hydrawatch.config import from_mapping, to_toml
from sandbox.net import Sandbox

# Seconds, not minutes: the daemon's jobs tick every few seconds, a failed mail is retried after one,
# a DNS query that gets no answer is given up after two.
QUICK: Mapping[str, Mapping[str, Any]] = {
    "alerts": {"retry_backoff": 1.0},
    "schedule": {"dns_interval": 2, "crawl_interval": 5, "discovery_interval": 20, "alert_interval": 1},
    "dns": {"timeout": 2.0},
}


def deep_merge(base: Mapping[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    """``base`` with ``extra`` laid over it, mappings merged at every depth."""
    out = dict(base)
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def config_data(sandbox: Sandbox | None = None, store_url: str | None = None, *,
                preset: Mapping[str, Mapping[str, Any]] = QUICK, deep: bool = False,
                **sections: Mapping[str, Any]) -> dict[str, Any]:
    """The config as a mapping: ``sandbox.config_overrides()``, ``[storage] url``, ``preset``, then
    ``sections``. Each section's keys replace the keys before them (a map value such as
    ``rdap.servers`` is replaced whole) unless ``deep`` merges maps at every depth."""
    data: dict[str, Any] = {}

    def lay(layer: Mapping[str, Mapping[str, Any]]) -> None:
        nonlocal data
        if deep:
            data = deep_merge(data, layer)
            return
        for name, values in layer.items():
            data[name] = {**data.get(name, {}), **values}

    if sandbox is not None:
        lay(sandbox.config_overrides())
    if store_url is not None:
        lay({"storage": {"url": store_url}})
    lay(preset)
    lay(sections)
    return data


def write_config(path: Path, sandbox: Sandbox | None = None, store_url: str | None = None, *,
                 preset: Mapping[str, Mapping[str, Any]] = QUICK, deep: bool = False, validate: bool = True,
                 **sections: Mapping[str, Any]) -> Path:
    """Write :func:`config_data` to ``path`` as TOML and return ``path``. Validated first (a test's
    typo fails here, not in the command it runs) unless ``validate`` is false: a test of a bad config."""
    data = config_data(sandbox, store_url, preset=preset, deep=deep, **sections)
    if validate:
        from_mapping(data, source=str(path))
    path.write_text(to_toml(data), encoding="utf-8")
    return path
