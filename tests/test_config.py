from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from hydrawatch import config as cfgmod

ROOT = Path(__file__).resolve().parents[1]


def test_shipped_config_is_valid_and_documents_every_key() -> None:
    shipped = (ROOT / "config" / "hydrawatch.toml").read_text()
    cfgmod.load(ROOT / "config" / "hydrawatch.toml", environ={})
    for section, key, _default, doc in cfgmod.documented_keys():
        assert f"[{section}]" in shipped, section
        assert f"{key} =" in shipped, f"{section}.{key} missing from config/hydrawatch.toml"
        assert doc, f"{section}.{key} has no doc"


def test_readme_documents_every_config_key() -> None:
    readme = (ROOT / "README.md").read_text()
    missing = [f"{s}.{k}" for s, k, _, _ in cfgmod.documented_keys() if f"`{s}.{k}`" not in readme]
    assert not missing, f"README lacks: {missing}"


def test_contract_defaults() -> None:
    c = cfgmod.Config()
    assert c.storage.url == "sqlite:///var/hydrawatch.db"
    assert c.dns.timeout == 3.0 and c.dns.concurrency == 512 and c.dns.nameservers == []
    assert c.crawler.allow_private_addresses is False and c.crawler.max_page_bytes == 5_000_000
    assert c.discovery.tlds == "all" and c.alerts.smtp_port == 25
    assert (c.schedule.dns_interval, c.schedule.crawl_interval, c.schedule.discovery_interval) == (600, 21600, 3600)


def test_env_values_parse_as_toml_or_strings() -> None:
    c = cfgmod.load(Path("/nonexistent-default"), environ={}) if False else cfgmod.from_mapping({})
    assert c.dns.retries == 2
    loaded = cfgmod.load(None, environ={"HYDRAWATCH_DNS__NAMESERVERS": '["127.0.0.1:5300"]',
                                        "HYDRAWATCH_ALERTS__SMTP_HOST": "mail.example",
                                        "HYDRAWATCH_CONFIG": str(ROOT / "config" / "hydrawatch.toml")})
    assert loaded.dns.nameservers == ["127.0.0.1:5300"] and loaded.alerts.smtp_host == "mail.example"


@pytest.mark.parametrize("data, key", [
    ({"dns": {"nameservers": ["1.2.3.4:99999"]}}, "dns.nameservers[0]"),
    ({"serve": {"host": "0.0.0.0"}}, "serve.token"),
    ({"scoring": {"threshold": 2}}, "scoring.threshold"),
    ({"rdap": {"servers": {"ltd": "nope"}}}, "rdap.servers.ltd"),
    ({"crawler": {"proxy": "https://proxy.example:3128"}}, "crawler.proxy: not a valid http URL"),
    ({"crawler": {"host_delay": -0.5}}, "crawler.host_delay: must not be negative"),
    ({"crawler": {"host_delay": "1s"}}, "crawler.host_delay: expected a number"),
    ({"crawler": {"host_concurrency": -1}}, "crawler.host_concurrency: must not be negative"),
    ({"crawler": {"retry_after_max": 0}}, "crawler.retry_after_max"),
    ({"crawler": {"rate_limit_retries": -1}}, "crawler.rate_limit_retries: must not be negative"),
])
def test_invalid_values_name_the_key(data: dict, key: str) -> None:  # type: ignore[type-arg]
    with pytest.raises(cfgmod.ConfigError, match=key.replace("[", r"\[").replace("]", r"\]")):
        cfgmod.from_mapping(data)


def test_to_toml_writes_what_load_reads_back(tmp_path: Path) -> None:
    data = {"storage": {"url": "sqlite:///x.db"}, "dns": {"nameservers": ["127.0.0.1:5300"], "timeout": 1.5},
            "rdap": {"servers": {"*": "http://127.0.0.1:8080/", "pm": "http://r/"}},
            "alerts": {"mail_from": "hw \"bot\" é 😀 \x7f", "digest": True, "mail_to": []}}
    path = tmp_path / "c.toml"
    path.write_text(cfgmod.to_toml(data), encoding="utf-8")
    assert tomllib.loads(path.read_text(encoding="utf-8")) == data
    loaded = cfgmod.load(path, environ={})
    assert loaded.rdap.servers == {"*": "http://127.0.0.1:8080/", "pm": "http://r/"} and loaded.alerts.digest


def test_config_from_a_pipe_is_read_like_a_file(tmp_path: Path) -> None:
    """`hydrawatch --config <(printf …) …` hands the program /dev/fd/N, a pipe: it is a config, not "not found"."""
    script = ("exec \"$PY\" -m hydrawatch.cli --config <(printf '[storage]\\nurl = \"sqlite:///%s\"\\n' \"$DB\") init")
    env = {k: v for k, v in os.environ.items() if not k.startswith("HYDRAWATCH_")}
    env.update(DB=str(tmp_path / "piped.db"), PY=sys.executable)
    proc = subprocess.run(["/bin/bash", "-c", script], env=env, cwd=tmp_path, check=False, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "piped.db").is_file()


def test_config_that_is_a_directory_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(cfgmod.ConfigError, match="is a directory"):
        cfgmod.load(tmp_path, environ={})


def test_the_fuzzer_vocabulary_is_the_generator_registry() -> None:
    """discovery.fuzzers is checked against detect.lookalike.GENERATORS itself (no second list)."""
    from detect.lookalike import GENERATORS

    assert cfgmod.from_mapping({"discovery": {"fuzzers": list(GENERATORS)}}).discovery.fuzzers == list(GENERATORS)
    with pytest.raises(cfgmod.ConfigError, match=r"discovery.fuzzers: unknown fuzzer 'typo'"):
        cfgmod.from_mapping({"discovery": {"fuzzers": ["tld-swap", "typo"]}})


def test_ct_search_has_its_own_timeout() -> None:
    c = cfgmod.from_mapping({"rdap": {"timeout": 2.5}})
    assert c.discovery.ct_timeout == 60.0 and c.rdap.timeout == 2.5  # crt.sh takes tens of seconds
    assert cfgmod.from_mapping({"discovery": {"ct_timeout": 3}}).discovery.ct_timeout == 3.0
    with pytest.raises(cfgmod.ConfigError, match="discovery.ct_timeout: must be greater than 0"):
        cfgmod.from_mapping({"discovery": {"ct_timeout": 0}})


@pytest.mark.parametrize("good, host, port", [
    ("9.9.9.9", "9.9.9.9", 53), ("127.0.0.1:5300", "127.0.0.1", 5300), ("[::1]:5353", "::1", 5353),
    ("[::1]", "::1", 53), ("::1", "::1", 53), ("2001:db8::53", "2001:db8::53", 53), ("dns.example", "dns.example", 53),
])
def test_nameserver_forms_are_parsed_in_one_place(good: str, host: str, port: int) -> None:
    from crawler.settings import Nameserver

    dns = cfgmod.from_mapping({"dns": {"nameservers": [good]}}).dns
    assert dns.servers == (Nameserver(host, port),)


BAD_NAMESERVERS = ["[::1]:x", "a:b:c", "[::1", "[::1]:0", "[::1]53", "[]:53", "host:", ":53", "1.2.3.4:99999",
                   "ns one", ""]


@pytest.mark.parametrize("bad", BAD_NAMESERVERS)
def test_invalid_nameserver_is_one_line_naming_the_key(bad: str) -> None:
    with pytest.raises(cfgmod.ConfigError, match=r"^dns\.nameservers\[1\]: expected host or host:port, got "):
        cfgmod.from_mapping({"dns": {"nameservers": ["9.9.9.9", bad]}})


@pytest.mark.parametrize("bad", ["[::1]:x", "a:b:c"])
def test_invalid_nameserver_stops_the_cli_with_one_line(bad: str, tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    """These two used to pass the check and end `hydrawatch probe` in a traceback."""
    from hydrawatch.cli import main

    path = tmp_path / "c.toml"
    path.write_text(cfgmod.to_toml({"dns": {"nameservers": [bad], "timeout": 0.2, "retries": 0}}), encoding="utf-8")
    code = main(["--config", str(path), "probe", "example.test"])
    out, err = capsys.readouterr()
    assert code == 2 and out == "", (code, out, err)
    assert err.strip().splitlines() == [f"hydrawatch: config error: dns.nameservers[0]: expected host or host:port, got {bad!r}"], err


def test_an_nrd_feed_with_an_unknown_date_field_is_a_config_error() -> None:
    with pytest.raises(cfgmod.ConfigError, match=r"discovery.nrd_feeds: .*unknown \{field\}"):
        cfgmod.from_mapping({"discovery": {"nrd_feeds": ["https://feeds.example/{day}.zip"]}})
    ok = cfgmod.from_mapping({"discovery": {"nrd_feeds": ["https://x/{date_base64:%Y-%m-%d.zip}/nrd"]}})
    assert ok.discovery.nrd_feeds == ["https://x/{date_base64:%Y-%m-%d.zip}/nrd"]
