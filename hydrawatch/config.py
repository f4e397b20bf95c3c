"""Configuration: one TOML file plus HYDRAWATCH_<SECTION>__<KEY> overrides → a validated frozen Config.

Each key is declared once, here (type, default, meaning). This module is the only reader of the
environment. Every problem is a ConfigError naming the key, shown by the CLI as one line (exit 2).
"""

from __future__ import annotations

import dataclasses
import json
import os
import tomllib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping
from urllib.parse import urlsplit

from hydrawatch.secrets import MASK, Redactor, mask_url_passwords, url_password

ENV_PREFIX = "HYDRAWATCH_"
DEFAULT_PATH = Path("config/hydrawatch.toml")

FUZZERS = (
    "tld-swap", "addition", "omission", "hyphenation", "repetition", "replacement",
    "transposition", "vowel-swap", "homoglyph", "bitsquatting", "insertion", "subdomain",
    "dictionary", "cyrillic", "various", "plural",
)


class ConfigError(Exception):
    """A configuration problem, phrased as one line that names the key."""


def _doc(text: str, check: str = "", secret: str = "") -> dict[str, str]:
    """A key's meaning and check; ``secret`` is "value" (never shown, read raw from the environment)
    or "url" (a URL whose password is never shown)."""
    return {"doc": text, "check": check, "secret": secret}


@dataclass(frozen=True)
class StorageConfig:
    url: str = field(default="sqlite:///var/hydrawatch.db", metadata=_doc(
        "any SQLAlchemy URL; postgresql+psycopg://user@host/db for production", "dburl", secret="url"))


@dataclass(frozen=True)
class DnsConfig:
    nameservers: list[str] = field(default_factory=list, metadata=_doc(
        'resolvers as "host" or "host:port"; [] = the system resolvers', "hostports"))
    timeout: float = field(default=3.0, metadata=_doc("seconds per query", "positive"))
    concurrency: int = field(default=512, metadata=_doc("queries in flight", "positive"))
    retries: int = field(default=2, metadata=_doc("extra tries after a timeout", "nonnegative"))


@dataclass(frozen=True)
class CrawlerConfig:
    allow_private_addresses: bool = field(default=False, metadata=_doc(
        "fetch hosts that resolve to loopback/private/link-local addresses (tests and sandbox only)"))
    user_agent: str = field(default="Mozilla/5.0 (X11; Linux x86_64) hydrawatch/0.1 (+research crawler)",
                            metadata=_doc("User-Agent header of every fetch"))
    proxy: str = field(default="", metadata=_doc(
        "http://host:port forward proxy; every fetch (http and https) is a CONNECT to the address the "
        "private-address guard checked, the name only in Host/SNI, so the proxy must allow CONNECT to ports "
        "80 and 443", "proxy_url"))
    max_page_bytes: int = field(default=5_000_000, metadata=_doc("body cap per response", "positive"))
    max_headers: int = field(default=200, metadata=_doc(
        "header lines per response (continuations count); more ends the fetch as too_large", "positive"))
    max_header_bytes: int = field(default=65_536, metadata=_doc(
        "bytes of status line and headers per response; more ends the fetch as too_large", "positive"))
    timeout: float = field(default=20.0, metadata=_doc("seconds per fetch (connect to last byte)", "positive"))
    max_redirects: int = field(default=10, metadata=_doc("redirect hops followed per fetch", "nonnegative"))
    retries: int = field(default=1, metadata=_doc("extra tries after a connection failure", "nonnegative"))
    concurrency: int = field(default=16, metadata=_doc("fetches in flight", "positive"))
    extra_paths: list[str] = field(default_factory=list, metadata=_doc(
        'more pages fetched per domain besides "/", e.g. ["/about/"]'))


@dataclass(frozen=True)
class RdapConfig:
    servers: dict[str, str] = field(default_factory=dict, metadata=_doc(
        'overrides of the bundled IANA bootstrap: {"ltd" = "http://…/", "*" = "http://…/"}', "url_map"))
    timeout: float = field(default=10.0, metadata=_doc("seconds per RDAP query", "positive"))


@dataclass(frozen=True)
class DiscoveryConfig:
    tlds: str | list[str] = field(default="all", metadata=_doc(
        '"all" (every ICANN TLD in the bundled Public Suffix List) or a list of TLDs', "tlds"))
    fuzzers: list[str] = field(default_factory=lambda: [
        "tld-swap", "addition", "omission", "hyphenation", "repetition", "replacement",
        "transposition", "vowel-swap", "homoglyph", "bitsquatting"], metadata=_doc(
        "lookalike generators: tld-swap plus dnstwist's fuzzers", "fuzzers"))
    ct_search_url: str = field(default="", metadata=_doc(
        'crt.sh-compatible search URL with {query}: "http://host/?q={query}&output=json"', "url_or_empty"))
    nrd_feeds: list[str] = field(default_factory=list, metadata=_doc(
        "newly-registered-domain lists: file paths or http(s) URLs, one domain a line"))
    max_candidates: int = field(default=200_000, metadata=_doc(
        "cap on the names of each NRD feed that are not lexically close to the network and are checked "
        "against its infrastructure by DNS (the rest is counted in candidates_truncated); lookalikes, links, "
        "CT and close feed names are never capped", "positive"))
    recheck_rejected_hours: float = field(default=168.0, metadata=_doc(
        "a rejected candidate whose DNS answer is unchanged is not crawled again for this long", "positive"))


@dataclass(frozen=True)
class ScoringConfig:
    threshold: float = field(default=0.6, metadata=_doc(
        "confidence at or above which a candidate is recorded as a clone", "unit"))
    takedown_window_hours: float = field(default=96.0, metadata=_doc(
        "registrations this soon after a network takedown count as evidence", "positive"))
    commodity_share: int = field(default=50, metadata=_doc(
        "a value carried by more store domains outside the network than this is commodity (weight 0)", "positive"))


@dataclass(frozen=True)
class BrandsConfig:
    legitimate: list[str] = field(default_factory=list, metadata=_doc(
        "official domains of impersonated outlets: never reported as clones"))


@dataclass(frozen=True)
class AlertsConfig:
    smtp_host: str = field(default="", metadata=_doc('SMTP server; "" disables e-mail'))
    smtp_port: int = field(default=25, metadata=_doc("SMTP port", "port"))
    smtp_starttls: bool = field(default=False, metadata=_doc("upgrade with STARTTLS before auth"))
    smtp_implicit_tls: bool = field(default=False, metadata=_doc(
        "TLS from the first byte (SMTPS, usually port 465) instead of STARTTLS; not with smtp_starttls"))
    smtp_ca_file: str = field(default="", metadata=_doc(
        'PEM file of the CA certificates that may sign the SMTP server\'s certificate; "" = the system\'s'))
    allow_plaintext_auth: bool = field(default=False, metadata=_doc(
        "send AUTH (the password) over a connection without TLS; only for a trusted local relay"))
    smtp_username: str = field(default="", metadata=_doc("SMTP AUTH user; \"\" = no auth"))
    smtp_password: str = field(default="", metadata=_doc(
        "SMTP AUTH password (secret: read raw from the environment, never shown)", secret="value"))
    mail_from: str = field(default="hydrawatch@localhost", metadata=_doc("From address"))
    mail_to: list[str] = field(default_factory=list, metadata=_doc("recipients"))
    digest: bool = field(default=False, metadata=_doc("one mail per cycle instead of one per clone"))
    takedowns: bool = field(default=False, metadata=_doc(
        "also mail each takedown (seized or suspended) of a watched domain, once per status change"))
    max_attempts: int = field(default=20, metadata=_doc("delivery attempts before a row is marked failed", "positive"))
    retry_backoff: float = field(default=30.0, metadata=_doc(
        "seconds before the first retry of a failed delivery; doubles each time, capped at 1 h", "positive"))
    base_url: str = field(default="", metadata=_doc(
        "public URL of `hydrawatch serve` (with ?token=… if it has one); mails link to URL#/domain/NAME; "
        "\"\" = no link", "url_or_empty"))


@dataclass(frozen=True)
class ScheduleConfig:
    dns_interval: int = field(default=600, metadata=_doc("seconds between DNS probe rounds", "positive"))
    crawl_interval: int = field(default=21600, metadata=_doc("seconds between crawl rounds", "positive"))
    discovery_interval: int = field(default=3600, metadata=_doc("seconds between discovery sweeps", "positive"))
    alert_interval: int = field(default=60, metadata=_doc("seconds between outbox deliveries", "positive"))


@dataclass(frozen=True)
class ServeConfig:
    host: str = field(default="127.0.0.1", metadata=_doc("bind address of `hydrawatch serve`"))
    port: int = field(default=8750, metadata=_doc("port of `hydrawatch serve`", "port"))
    token: str = field(default="", metadata=_doc(
        "access token of `hydrawatch serve`: an Authorization: Bearer header, or the HttpOnly cookie a ?token= "
        "link sets; required, 32+ random characters, when host is not loopback "
        "(secret: read raw from the environment, never shown)", secret="value"))


@dataclass(frozen=True)
class LogConfig:
    format: str = field(default="text", metadata=_doc('"text" or "json"', "logformat"))
    level: str = field(default="INFO", metadata=_doc("DEBUG, INFO, WARNING or ERROR", "loglevel"))


@dataclass(frozen=True)
class Config:
    storage: StorageConfig = field(default_factory=StorageConfig)
    dns: DnsConfig = field(default_factory=DnsConfig)
    crawler: CrawlerConfig = field(default_factory=CrawlerConfig)
    rdap: RdapConfig = field(default_factory=RdapConfig)
    discovery: DiscoveryConfig = field(default_factory=DiscoveryConfig)
    scoring: ScoringConfig = field(default_factory=ScoringConfig)
    brands: BrandsConfig = field(default_factory=BrandsConfig)
    alerts: AlertsConfig = field(default_factory=AlertsConfig)
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    serve: ServeConfig = field(default_factory=ServeConfig)
    log: LogConfig = field(default_factory=LogConfig)
    source: str = field(default="(defaults)", compare=False)

    def replace(self, **sections: Any) -> Config:
        """A copy with whole sections or dotted keys changed: cfg.replace(**{"dns.timeout": 1.0})."""
        data = as_dict(self)
        for key, value in sections.items():
            section, _, name = key.partition(".")
            if name:
                data.setdefault(section, {})[name] = value
            else:
                data[section] = value
        return from_mapping(data, source=self.source)


SECTIONS: dict[str, type] = {f.name: typing.get_type_hints(Config)[f.name]
                             for f in dataclasses.fields(Config) if f.name != "source"}


def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", None) or str(tp).replace("typing.", "")


def _secret_kind(key: str) -> str:
    """"value", "url" or "" for a dotted key (list items and table entries inherit their key's kind)."""
    section, _, name = key.partition(".")
    name = name.split("[", 1)[0].split(".", 1)[0]
    cls = SECTIONS.get(section)
    known = {f.name: f for f in dataclasses.fields(cls)} if cls else {}
    return str(known[name].metadata.get("secret", "")) if name in known else ""


def _shown(key: str, value: Any) -> str:
    """``value`` as an error message may show it: a secret key's value never, any URL's password never."""
    kind = _secret_kind(key)
    if kind == "value":
        return f"({MASK}, value hidden)"
    text = repr(value)
    if kind == "url" and isinstance(value, str) and (password := url_password(value)):
        text = text.replace(password, MASK)
    return mask_url_passwords(text)


def _coerce(key: str, tp: Any, value: Any) -> Any:
    """Check ``value`` against the declared type; ints are accepted where floats are declared."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        for option in typing.get_args(tp):
            try:
                return _coerce(key, option, value)
            except ConfigError:
                continue
        raise ConfigError(f"{key}: expected {_type_name(tp)}, got {type(value).__name__} {_shown(key, value)}")
    if origin is list:
        (item,) = typing.get_args(tp)
        if not isinstance(value, list):
            raise ConfigError(f"{key}: expected a list, got {type(value).__name__} {_shown(key, value)}")
        return [_coerce(f"{key}[{i}]", item, v) for i, v in enumerate(value)]
    if origin is dict:
        _, item = typing.get_args(tp)
        if not isinstance(value, dict):
            raise ConfigError(f"{key}: expected a table, got {type(value).__name__} {_shown(key, value)}")
        return {str(k): _coerce(f"{key}.{k}", item, v) for k, v in value.items()}
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{key}: expected true or false, got {_shown(key, value)}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{key}: expected an integer, got {_shown(key, value)}")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{key}: expected a number, got {_shown(key, value)}")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(f"{key}: expected a string, got {type(value).__name__} {_shown(key, value)}")
        return value
    raise ConfigError(f"{key}: unsupported type {tp}")  # pragma: no cover - schema bug


def _check_url(key: str, value: str, schemes: tuple[str, ...] = ("http", "https")) -> None:
    parts = urlsplit(value)
    if parts.scheme not in schemes or not parts.netloc:
        raise ConfigError(f"{key}: not a valid {'/'.join(schemes)} URL: {_shown(key, value)}")


def _check_hostport(key: str, value: str) -> None:
    host, sep, port = value.rpartition(":") if value.count(":") == 1 else (value, "", "")
    if not host or (sep and not (port.isdigit() and 0 < int(port) < 65536)):
        raise ConfigError(f"{key}: expected host or host:port, got {_shown(key, value)}")


def _check(key: str, check: str, value: Any) -> None:
    if check == "positive" and value <= 0:
        raise ConfigError(f"{key}: must be greater than 0, got {_shown(key, value)}")
    if check == "nonnegative" and value < 0:
        raise ConfigError(f"{key}: must not be negative, got {_shown(key, value)}")
    if check == "unit" and not 0.0 <= value <= 1.0:
        raise ConfigError(f"{key}: must be between 0 and 1, got {_shown(key, value)}")
    if check == "port" and not 0 < value < 65536:
        raise ConfigError(f"{key}: not a port number: {_shown(key, value)}")
    if check == "url_or_empty" and value:
        _check_url(key, value)
    if check == "proxy_url" and value:  # crawler/tunnel.py speaks plain HTTP to the proxy
        _check_url(key, value, ("http",))
    if check == "url_map":
        for tld, url in value.items():
            _check_url(f"{key}.{tld}", url)
    if check == "hostports":
        for i, item in enumerate(value):
            _check_hostport(f"{key}[{i}]", item)
    if check == "dburl":
        from sqlalchemy.engine import make_url
        from sqlalchemy.exc import ArgumentError, NoSuchModuleError

        try:
            make_url(value).get_dialect()  # an unknown backend fails here, not deep in a command
        except (ArgumentError, ValueError):
            raise ConfigError(f"{key}: not a database URL: {_shown(key, value)}") from None
        except NoSuchModuleError:
            raise ConfigError(f"{key}: unknown database backend in {_shown(key, value)} "
                              "(sqlite:///… or postgresql+psycopg://…)") from None
    if check == "fuzzers":
        for name in value:
            if name not in FUZZERS:
                raise ConfigError(f"{key}: unknown fuzzer {name!r} (known: {', '.join(FUZZERS)})")
    if check == "tlds" and isinstance(value, str) and value != "all":
        raise ConfigError(f'{key}: expected "all" or a list of TLDs, got {_shown(key, value)}')
    if check == "logformat" and value not in ("text", "json"):
        raise ConfigError(f'{key}: expected "text" or "json", got {_shown(key, value)}')
    if check == "loglevel" and value.upper() not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        raise ConfigError(f"{key}: expected DEBUG, INFO, WARNING or ERROR, got {_shown(key, value)}")


def from_mapping(data: Mapping[str, Any], source: str = "(mapping)") -> Config:
    """Validate a parsed TOML document into a Config. Unknown sections/keys are errors."""
    sections: dict[str, Any] = {}
    for section_name, section_value in data.items():
        if section_name not in SECTIONS:
            raise ConfigError(f"[{section_name}]: unknown section (known: {', '.join(SECTIONS)})")
        if not isinstance(section_value, dict):
            raise ConfigError(f"[{section_name}]: expected a table, got {section_value!r}")
        cls = SECTIONS[section_name]
        hints = typing.get_type_hints(cls)
        known = {f.name: f for f in dataclasses.fields(cls)}
        values: dict[str, Any] = {}
        for key, value in section_value.items():
            full = f"{section_name}.{key}"
            if key not in known:
                raise ConfigError(f"{full}: unknown key (known in [{section_name}]: {', '.join(known)})")
            coerced = _coerce(full, hints[key], value)
            _check(full, known[key].metadata.get("check", ""), coerced)
            values[key] = coerced
        sections[section_name] = cls(**values)
    config = Config(**sections, source=source)
    if config.alerts.smtp_implicit_tls and config.alerts.smtp_starttls:
        raise ConfigError("alerts.smtp_implicit_tls: cannot be combined with alerts.smtp_starttls (choose one)")
    if config.serve.token == "" and config.serve.host not in ("127.0.0.1", "localhost", "::1"):
        raise ConfigError("serve.token: required when serve.host is not a loopback address")
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
