"""The in-process runner behaves as the process it replaces: same exit code and output, and nothing of
the run (environment, working directory, logging) left behind for the next test."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import pytest

from tests.support import cli, cli_subprocess, config_data, write_config


def _store_config(tmp_path: Path, **sections: dict[str, object]) -> Path:
    return write_config(tmp_path / "hw.toml", None, f"sqlite:///{tmp_path / 'store.db'}", **sections)


@pytest.mark.parametrize("args", [("init",), ("status", "--format", "json"), ("no-such-command",)])
def test_in_process_and_subprocess_runs_agree(tmp_path: Path, args: tuple[str, ...]) -> None:
    inproc_dir, sub_dir = tmp_path / "a", tmp_path / "b"
    inproc_dir.mkdir()
    sub_dir.mkdir()
    if args[0] == "status":
        assert cli(_store_config(inproc_dir), "init").returncode == 0
        assert cli(_store_config(sub_dir), "init").returncode == 0
    here = cli(_store_config(inproc_dir), *args)
    there = cli_subprocess(_store_config(sub_dir), *args)
    assert here.returncode == there.returncode, (here, there)
    assert there.peak_rss_kib > 0 and here.peak_rss_kib == 0
    if args[0] == "status":
        assert json.loads(here.stdout) == json.loads(there.stdout) == []
    else:  # the same text once the folders' names are set aside (rich may wrap a long path anywhere)
        assert _unwrapped(here.stdout, inproc_dir) == _unwrapped(there.stdout, sub_dir)
        assert _unwrapped(here.stderr, inproc_dir) == _unwrapped(there.stderr, sub_dir)


def _unwrapped(text: str, folder: Path) -> str:
    return "".join(text.split()).replace("".join(str(folder).split()), "D")


def test_the_environment_cwd_and_logging_are_put_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HYDRAWATCH_STORAGE__URL", "nosuch://x")  # the config file must win: stripped
    root = logging.getLogger()
    handlers, level, cwd = root.handlers[:], root.level, os.getcwd()
    scrapy_level = logging.getLogger("scrapy").level
    done = cli(_store_config(tmp_path, log={"level": "DEBUG"}), "init", env={"HYDRAWATCH_X": "1"}, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert os.environ["HYDRAWATCH_STORAGE__URL"] == "nosuch://x" and "HYDRAWATCH_X" not in os.environ
    assert os.getcwd() == cwd
    assert root.handlers == handlers and root.level == level
    assert logging.getLogger("scrapy").level == scrapy_level


def test_a_binary_stdout_is_captured(tmp_path: Path) -> None:
    conf = _store_config(tmp_path)
    assert cli(conf, "init").returncode == 0
    assert cli(conf, "seed", "add", "alpha-news.info", "beta-news.info").returncode == 0
    done = cli(conf, "export", "--format", "json")  # written to sys.stdout.buffer
    assert done.returncode == 0, done.stderr
    assert {d["domain"] for d in json.loads(done.stdout)["domains"]} == {"alpha-news.info", "beta-news.info"}


def test_sections_replace_keys_and_deep_merges_maps() -> None:
    base = {"rdap": {"servers": {"*": "http://a/", "info": "http://b/"}, "timeout": 5.0}}
    flat = config_data(None, None, preset=base, rdap={"servers": {"*": "http://c/"}})
    deep = config_data(None, None, preset=base, deep=True, rdap={"servers": {"*": "http://c/"}})
    assert flat["rdap"] == {"servers": {"*": "http://c/"}, "timeout": 5.0}
    assert deep["rdap"] == {"servers": {"*": "http://c/", "info": "http://b/"}, "timeout": 5.0}
