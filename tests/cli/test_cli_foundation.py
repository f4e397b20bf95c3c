"""The CLI as a user drives it: init, seed add/import, status, and one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hydrawatch.cli import main


@pytest.fixture
def cfg_file(tmp_path: Path, store_url: str) -> Path:
    path = tmp_path / "hw.toml"
    path.write_text(f'[storage]\nurl = "{store_url}"\n')
    return path


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_shipped_seed_list_imports_and_lists_as_json(cfg_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    seeds = Path(__file__).resolve().parents[2] / "config" / "seeds" / "doppelganger.csv"
    assert run(capsys, "--config", str(cfg_file), "init")[0] == 0
    code, _, err = run(capsys, "--config", str(cfg_file), "seed", "import", str(seeds), "--campaign", "doppelganger")
    assert code == 0 and "added 224" in err
    code, out, _ = run(capsys, "--config", str(cfg_file), "status", "--format", "json")
    rows = json.loads(out)
    names = {r["domain"] for r in rows}
    assert code == 0 and len(rows) == 224
    assert {"washingtonpost.pm", "fox-news.in", "rrn.media", "bild.eu.com"} <= names
    assert all(r["campaign"] == "doppelganger" and r["origin"] == "seed" for r in rows)


def test_bad_lines_are_reported_and_good_ones_kept(cfg_file: Path, tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    seeds = tmp_path / "s.txt"
    seeds.write_text("# comment\nHTTPS://WWW.Spiegel.LTD/path\nnot a domain\nlocalhost\nspiegel[.]fun  # defanged\n")
    run(capsys, "--config", str(cfg_file), "init")
    code, _, err = run(capsys, "--config", str(cfg_file), "seed", "import", str(seeds))
    assert code == 0
    assert "line 3" in err and "line 4" in err and "added 2" in err and "rejected 2" in err
    code, out, _ = run(capsys, "--config", str(cfg_file), "status", "spiegel.ltd", "--format", "json")
    assert json.loads(out)[0]["domain"] == "spiegel.ltd"


def test_csv_without_domain_column_is_treated_as_lines_and_rejected(cfg_file: Path, tmp_path: Path,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    seeds = tmp_path / "s.csv"
    seeds.write_text("host,role\na.ltd,spoof\n")
    run(capsys, "--config", str(cfg_file), "init")
    code, _, err = run(capsys, "--config", str(cfg_file), "seed", "import", str(seeds))
    assert code == 1 and "no valid domain" in err


@pytest.mark.parametrize("body, key", [
    ("[dns]\ntimeout = 'soon'\n", "dns.timeout"),
    ("[dns]\nbogus = 1\n", "dns.bogus"),
    ("[nope]\n", "[nope]"),
    ("[discovery]\nct_search_url = 'ftp://x'\n", "discovery.ct_search_url"),
    ("[storage\n", "not valid TOML"),
])
def test_broken_config_is_one_line_naming_the_key(tmp_path: Path, body: str, key: str,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(body)
    code, _, err = run(capsys, "--config", str(path), "status")
    assert code == 2 and key in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_env_override_wins_over_file(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "hw.toml"
    path.write_text('[dns]\ntimeout = 2.0\n')
    monkeypatch.setenv("HYDRAWATCH_DNS__TIMEOUT", "nope")
    code, _, err = run(capsys, "--config", str(path), "status")
    assert code == 2 and "dns.timeout" in err


def test_uninitialised_store_says_run_init(cfg_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "--config", str(cfg_file), "status")
    assert code == 1 and "hydrawatch init" in err


def test_unreachable_database_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "hw.toml"
    path.write_text('[storage]\nurl = "postgresql+psycopg://nobody@127.0.0.1:1/none"\n')
    code, _, err = run(capsys, "--config", str(path), "init")
    assert code == 1 and "database unavailable" in err and len(err.strip().splitlines()) == 1


def test_unknown_domain_status_is_clear(cfg_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run(capsys, "--config", str(cfg_file), "init")
    code, _, err = run(capsys, "--config", str(cfg_file), "status", "nothere.ltd")
    assert code == 1 and "not in the store" in err


def test_an_error_whose_message_spans_lines_is_printed_as_one(monkeypatch: pytest.MonkeyPatch,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    """A library's message with line breaks inside (procrastinate's "lost the job queue's database
    (\\n    Database error.\\n    )" once reached a worker's last line) is still one line on stderr."""
    import typer

    from detect.errors import HydrawatchError
    from hydrawatch import cli

    app = typer.Typer()

    @app.command()
    def worker() -> None:
        raise HydrawatchError("worker stopped: lost the job queue's database (\n    Database error.\n    )")

    @app.command()
    def other() -> None:  # two commands: typer then expects the command's name
        pass

    monkeypatch.setattr(cli, "build_app", lambda: app)
    code, _, err = run(capsys, "worker")
    assert code != 0
    assert err.strip().splitlines() == ["hydrawatch: worker stopped: lost the job queue's database ( Database error. )"]
