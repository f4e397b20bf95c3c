"""Secrets never reach a message: the SMTP password, the serve token and a storage URL's password are
read as given and masked in every error line and log line, whatever is wrong around them."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from hydrawatch import config as cfgmod
from hydrawatch import logs
from hydrawatch.config import to_toml
from hydrawatch.secrets import mask_url_passwords
from tests.support import Result, cli

REPO = Path(__file__).resolve().parents[2]
SECRET = "Sup3rS3cret"


def hydrawatch(tmp_path: Path, *args: str, env: dict[str, str] | None = None,
               config: dict[str, dict[str, object]] | None = None) -> Result:
    """The real CLI (in this process) with ``config`` as its file and ``env`` added to a clean environment."""
    path = tmp_path / "hydrawatch.toml"
    data = {"storage": {"url": f"sqlite:///{tmp_path / 'store.db'}"}, **(config or {})}
    path.write_text(to_toml(data), encoding="utf-8")
    return cli(path, *args, env=env)


def one_line_without(done: Result, *secrets: str) -> str:
    for secret in secrets:
        assert secret not in done.stdout + done.stderr, (done.stdout, done.stderr)
    assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1, done.stderr
    return done.stderr.strip()


@pytest.mark.parametrize("name, value", [("HYDRAWATCH_ALERTS__SMTP_PASSWORD", "84736251"),
                                         ("HYDRAWATCH_SERVE__TOKEN", "1234567890"),
                                         ("HYDRAWATCH_ALERTS__SMTP_PASSWORD", "[oops"),
                                         ("HYDRAWATCH_SERVE__TOKEN", "true")])
def test_a_secret_from_the_environment_is_taken_as_written(tmp_path: Path, name: str, value: str) -> None:
    done = hydrawatch(tmp_path, "init", env={name: value})
    assert done.returncode == 0, done.stderr
    assert value not in done.stdout + done.stderr
    section, key = name.removeprefix("HYDRAWATCH_").lower().split("__")
    loaded = cfgmod.load(tmp_path / "hydrawatch.toml", environ={name: value})
    assert getattr(getattr(loaded, section), key) == value


def test_a_string_key_from_the_environment_stays_a_string() -> None:
    loaded = cfgmod.load(None, environ={"HYDRAWATCH_CRAWLER__USER_AGENT": "5", "HYDRAWATCH_ALERTS__MAIL_FROM": '"a@b"',
                                        "HYDRAWATCH_CONFIG": str(REPO / "config" / "hydrawatch.toml")})
    assert loaded.crawler.user_agent == "5" and loaded.alerts.mail_from == "a@b"


@pytest.mark.parametrize("section, key, value", [("alerts", "smtp_password", 84736251),
                                                 ("serve", "token", 987654321),
                                                 ("serve", "token", ["Sup3rS3cret"])])
def test_a_secret_of_the_wrong_type_is_refused_without_showing_it(tmp_path: Path, section: str, key: str,
                                                                  value: object) -> None:
    done = hydrawatch(tmp_path, "init", config={section: {key: value}})
    line = one_line_without(done, str(value).strip("[]'"))
    assert done.returncode == 2 and f"{section}.{key}" in line and "expected a string" in line


@pytest.mark.parametrize("url", [
    f"postgresql+pyscopg://hw:{SECRET}@127.0.0.1/test",          # a typo in the driver
    f"postgres:/hw:{SECRET}@127.0.0.1/test",                     # a typo in the scheme
    f"postgresql+psycopg://hw:{SECRET}@127.0.0.1:54x32/test",    # a typo in the port
    f"postgresql+pyscopg://hw:{SECRET}@p@127.0.0.1/test",        # a password holding "@"
])
@pytest.mark.parametrize("where", ["file", "env"])
def test_a_storage_url_typo_is_one_line_without_its_password(tmp_path: Path, url: str, where: str) -> None:
    if where == "file":
        done = hydrawatch(tmp_path, "status", config={"storage": {"url": url}})
    else:
        done = hydrawatch(tmp_path, "status", env={"HYDRAWATCH_STORAGE__URL": url})
    line = one_line_without(done, SECRET)
    assert done.returncode == 2 and "storage.url" in line and "hw:***@" in line, line


def test_an_unreachable_store_is_one_line_without_its_password(tmp_path: Path) -> None:
    done = hydrawatch(tmp_path, "status", env={"HYDRAWATCH_STORAGE__URL": f"postgresql+psycopg://hw:{SECRET}@127.0.0.1:1/x"})
    one_line_without(done, SECRET)
    assert done.returncode == 1


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_log_lines_mask_the_configured_secrets(capsys: pytest.CaptureFixture[str], fmt: str) -> None:
    config = cfgmod.from_mapping({"alerts": {"smtp_password": "84736251"}, "serve": {"token": "tok-e1n"},
                                  "storage": {"url": f"postgresql+psycopg://hw:{SECRET}@db/hw"}})
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        logs.setup(fmt, "INFO", cfgmod.redactor(config))
        log = logging.getLogger("hydrawatch.test")
        log.warning("smtp said: 535 bad credentials hw/84736251; token %s", "tok-e1n")
        try:
            raise RuntimeError(f"cannot connect to postgresql+psycopg://hw:{SECRET}@db/hw")
        except RuntimeError:
            log.exception("store failed")
    finally:
        root.handlers[:], _ = saved[0], root.setLevel(saved[1])
    err = capsys.readouterr().err
    assert "smtp said" in err and "store failed" in err
    for secret in ("84736251", "tok-e1n", SECRET):
        assert secret not in err, err
    if fmt == "json":
        assert all(json.loads(line) for line in err.splitlines() if line.startswith("{"))


@pytest.mark.parametrize("text, want", [
    ("postgresql+psycopg://hw:pw@db/x", "postgresql+psycopg://hw:***@db/x"),
    ("url 'https://u:p@ss@proxy:3128/' refused", "url 'https://u:***@proxy:3128/' refused"),
    ("http://host:8080/path", "http://host:8080/path"),
    ("12:30 at noon", "12:30 at noon"),
])
def test_url_passwords_are_masked_wherever_they_appear(text: str, want: str) -> None:
    assert mask_url_passwords(text) == want
