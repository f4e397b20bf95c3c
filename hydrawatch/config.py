"""Configuration: one TOML file plus HYDRAWATCH_<SECTION>__<KEY> overrides → a validated frozen Config.

Each key is declared once, in the settings of the package that reads it (crawler/settings.py,
storage/settings.py, scheduler/settings.py, detect/settings.py; [serve] and [log] here); this module
composes them, reads the file and the environment (the only reader of either), and masks secrets in
every error line. Every problem is a ConfigError naming the key, shown by the CLI as one line (exit 2).
"""

from __future__ import annotations

import dataclasses
import json
import os
import tomllib
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from crawler.settings import CrawlerSettings, DnsSettings, RdapSettings
from detect.settings import (
    BrandsSettings,
    ScoringSettings,
    SettingsError,
    Show,
    key,
    parse_section,
    plain,
    port,
)
from hydrawatch.secrets import MASK, Redactor, mask_url_passwords, url_password
from scheduler.settings import AlertsSettings, CycleSettings, DiscoverySettings, ScheduleSettings
from storage.settings import StorageSettings

ENV_PREFIX = "HYDRAWATCH_"
DEFAULT_PATH = Path("config/hydrawatch.toml")

# The shell's names for the sections the packages own.
ConfigError = SettingsError
StorageConfig = StorageSettings
DnsConfig = DnsSettings
CrawlerConfig = CrawlerSettings
RdapConfig = RdapSettings
DiscoveryConfig = DiscoverySettings
ScoringConfig = ScoringSettings
BrandsConfig = BrandsSettings
AlertsConfig = AlertsSettings
ScheduleConfig = ScheduleSettings


def _log_format(name: str, value: str, show: Show) -> None:
    if value not in ("text", "json"):
        raise ConfigError(f'{name}: expected "text" or "json", got {show(name, value)}')


def _log_level(name: str, value: str, show: Show) -> None:
    if value.upper() not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        raise ConfigError(f"{name}: expected DEBUG, INFO, WARNING or ERROR, got {show(name, value)}")


@dataclass(frozen=True)
class ServeConfig:
    host: str = field(default="127.0.0.1", metadata=key("bind address of `hydrawatch serve`"))
    port: int = field(default=8750, metadata=key("port of `hydrawatch serve`", port))
    token: str = field(default="", metadata=key(
        "access token of `hydrawatch serve`: an Authorization: Bearer header, or the HttpOnly cookie a ?token= "
        "link sets; required, 32+ random characters, when host is not loopback "
        "(secret: read raw from the environment, never shown)", secret="value"))

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], show: Show = plain) -> ServeConfig:
        return parse_section(cls, "serve", data, show)


@dataclass(frozen=True)
class LogConfig:
    format: str = field(default="text", metadata=key('"text" or "json"', _log_format))
    level: str = field(default="INFO", metadata=key("DEBUG, INFO, WARNING or ERROR", _log_level))

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], show: Show = plain) -> LogConfig:
        return parse_section(cls, "log", data, show)


@dataclass(frozen=True)
class Config(CycleSettings):
    """The whole configuration: the sections a cycle reads (each owned by its package) plus the shell's."""

    serve: ServeConfig = field(default_factory=ServeConfig)
    log: LogConfig = field(default_factory=LogConfig)
    source: str = field(default="(defaults)", compare=False)

    def replace(self, **sections: Any) -> Config:
        """A copy with whole sections or dotted keys changed: cfg.replace(**{"dns.timeout": 1.0})."""
        data = as_dict(self)
        for key_, value in sections.items():
            section, _, name = key_.partition(".")
            if name:
                data.setdefault(section, {})[name] = value
            else:
                data[section] = value
        return from_mapping(data, source=self.source)


SECTIONS: dict[str, type] = {f.name: typing.get_type_hints(Config)[f.name]
                             for f in dataclasses.fields(Config) if f.name != "source"}
# Each section's own parser: its from_mapping(table, show).
PARSERS: dict[str, Callable[[Mapping[str, Any], Show], Any]] = {
    name: cls.from_mapping for name, cls in SECTIONS.items()}  # type: ignore[attr-defined]


def _secret_kind(key_: str) -> str:
    """"value", "url" or "" for a dotted key (list items and table entries inherit their key's kind)."""
    section, _, name = key_.partition(".")
    name = name.split("[", 1)[0].split(".", 1)[0]
    cls = SECTIONS.get(section)
    known = {f.name: f for f in dataclasses.fields(cls)} if cls else {}
    return str(known[name].metadata.get("secret", "")) if name in known else ""


def _shown(key_: str, value: Any) -> str:
    """``value`` as an error message may show it: a secret key's value never, any URL's password never."""
    kind = _secret_kind(key_)
    if kind == "value":
        return f"({MASK}, value hidden)"
    text = repr(value)
    if kind == "url" and isinstance(value, str) and (password := url_password(value)):
        text = text.replace(password, MASK)
    return mask_url_passwords(text)


def from_mapping(data: Mapping[str, Any], source: str = "(mapping)") -> Config:
    """Validate a parsed TOML document into a Config: each section by the package that owns it.
    Unknown sections/keys are errors."""
    sections: dict[str, Any] = {}
    for section_name, section_value in data.items():
        if section_name not in SECTIONS:
            raise ConfigError(f"[{section_name}]: unknown section (known: {', '.join(SECTIONS)})")
        if not isinstance(section_value, dict):
            raise ConfigError(f"[{section_name}]: expected a table, got {section_value!r}")
        sections[section_name] = PARSERS[section_name](section_value, _shown)
    config = Config(**sections, source=source)
    if config.serve.token == "" and config.serve.host not in ("127.0.0.1", "localhost", "::1"):
        raise ConfigError("serve.token: required when serve.host is not a loopback address")
    if config.cluster.enabled and not config.storage.url.startswith("postgresql"):
        raise ConfigError("cluster.enabled: cluster mode needs a PostgreSQL store (storage.url = "
                          "\"postgresql+psycopg://…\")")
    return config


def _parse_env_value(raw: str, key: str = "") -> Any:
    """Env values are TOML values when they parse as one (5, true, ["a"]), else plain strings. A secret
    key's value is always the raw string (a numeric password stays a password, and no parse error can
    quote it); a string key's value is the raw string unless it parses as a TOML string ("…")."""
    if _secret_kind(key) == "value":
        return raw
    try:
        value = tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        return raw
    section, _, name = key.partition(".")
    cls = SECTIONS.get(section)
    if cls is not None and typing.get_type_hints(cls).get(name) is str and not isinstance(value, str):
        return raw
    return value


def env_overrides(environ: Mapping[str, str]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for name, raw in environ.items():
        if not name.startswith(ENV_PREFIX) or "__" not in name[len(ENV_PREFIX):]:
            continue
        section, _, key = name[len(ENV_PREFIX):].partition("__")
        section, key = section.lower(), key.lower()
        out.setdefault(section, {})[key] = _parse_env_value(raw, f"{section}.{key}")
    return out


def load(path: str | Path | None = None, environ: Mapping[str, str] | None = None) -> Config:
    """Find, read, merge and validate the configuration (see CONTRACT.md, "Configuration").

    ``path`` (from --config) wins over $HYDRAWATCH_CONFIG, which wins over config/hydrawatch.toml.
    A missing default file means defaults; a missing explicit file is an error.
    """
    environ = os.environ if environ is None else environ
    explicit = path or environ.get("HYDRAWATCH_CONFIG")
    file = Path(explicit) if explicit else DEFAULT_PATH
    data: dict[str, Any] = {}
    # Not only regular files: `--config <(…)` and other pipes are read once, like any file.
    readable = file.exists() and not file.is_dir()
    if explicit and file.is_dir():
        raise ConfigError(f"{file}: is a directory, not a config file")
    if readable:
        try:
            data = tomllib.loads(file.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{file}: not valid TOML: {exc}") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{file}: cannot read: {exc}") from None
    elif explicit:
        raise ConfigError(f"{file}: config file not found")
    for section, keys in env_overrides(environ).items():
        if not isinstance(data.get(section, {}), dict):
            raise ConfigError(f"[{section}]: expected a table")
        data.setdefault(section, {}).update(keys)
    return from_mapping(data, source=str(file) if readable else "(defaults)")


def secret_values(config: Config) -> list[str]:
    """The values no message may show: secret keys' values and the passwords in secret URLs."""
    values: list[str] = []
    for section, cls in SECTIONS.items():
        for f in dataclasses.fields(cls):
            value = getattr(getattr(config, section), f.name)
            kind = f.metadata.get("secret", "")
            if kind == "value" and isinstance(value, str) and value:
                values.append(value)
            elif kind == "url" and isinstance(value, str) and (password := url_password(value)):
                values.append(password)
    return values


def redactor(config: Config | None) -> Redactor:
    """What masks ``config``'s secrets (and every URL password) in a message or a log line."""
    return Redactor.of(secret_values(config) if config is not None else [])


def as_dict(config: Config) -> dict[str, Any]:
    data = dataclasses.asdict(config)
    data.pop("source", None)
    return data


def documented_keys() -> list[tuple[str, str, Any, str]]:
    """(section, key, default, doc) for every key: drives the docs drift test and `config show`."""
    rows = []
    defaults = as_dict(Config())
    for section, cls in SECTIONS.items():
        for f in dataclasses.fields(cls):
            rows.append((section, f.name, defaults[section][f.name], f.metadata.get("doc", "")))
    return rows


def toml_value(value: Any) -> str:
    """One value in TOML: numbers and booleans are spelled alike in JSON and TOML, strings too once
    DEL is escaped (and kept out of JSON's surrogate-pair escapes); lists and tables (inline) recurse."""
    if isinstance(value, Mapping):
        return "{ " + ", ".join(f"{toml_value(str(k))} = {toml_value(v)}" for k, v in value.items()) + " }"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007f")
    return json.dumps(value)


def to_toml(data: Mapping[str, Mapping[str, Any]]) -> str:
    """A config file's text for ``{section: {key: value}}`` (what `load` reads back)."""
    return "\n".join(f"[{section}]\n" + "".join(f"{key} = {toml_value(value)}\n" for key, value in keys.items())
                     for section, keys in data.items())
