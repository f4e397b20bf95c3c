"""The CLI starts without loading what the command does not use (issue 16 item 3).

Each case runs the CLI's main in a fresh interpreter and lists the heavy packages it loaded: `--help`
and the help of `status`, `lineage` and `probe` load none; `status` and `lineage` on a store load
SQLAlchemy but never Scrapy, Twisted, the similarity index or SciPy; `probe` loads none of the store,
Scrapy or FastAPI. How fast that is, bench/startup.py measures (no timed assertions here).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.crawler import nanodns
from tests.crawler.nanodns import NanoServer

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("scrapy", "twisted", "sqlalchemy", "fastapi", "datasketch", "scipy", "numpy")
# What a command that reads the store may load, and what it still must not.
NOT_FOR_STORE_VIEWS = ("scrapy", "twisted", "fastapi", "datasketch", "scipy", "numpy")
NOT_FOR_PROBE = ("scrapy", "twisted", "sqlalchemy", "fastapi", "datasketch", "scipy", "numpy")

_SCRIPT = """
import contextlib, io, json, sys
from hydrawatch.cli import main
sink = io.StringIO()
with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
    try:
        code = main(json.loads(sys.argv[1]))
    except SystemExit as exc:
        code = exc.code
print(json.dumps({"code": code, "output": sink.getvalue(),
                  "loaded": sorted({name.partition(".")[0] for name in sys.modules})}))
"""


def loaded_by(argv: list[str], cwd: Path) -> tuple[int, str, set[str]]:
    """Exit code, output and top-level packages loaded when ``hydrawatch ARGV`` runs in a new interpreter."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("HYDRAWATCH_CONFIG", None)
    done = subprocess.run([sys.executable, "-c", _SCRIPT, json.dumps(argv)], check=False, cwd=cwd,
                          env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.splitlines()[-1])
    return result["code"], result["output"], set(result["loaded"])


@pytest.mark.parametrize("argv", [["--help"], ["status", "--help"], ["lineage", "--help"], ["probe", "--help"]],
                         ids=" ".join)
def test_help_loads_no_heavy_package(argv: list[str], tmp_path: Path) -> None:
    code, output, loaded = loaded_by(argv, tmp_path)
    assert code == 0 and "Usage" in output
    assert sorted(loaded & set(HEAVY)) == []


def test_status_and_lineage_on_a_store_load_no_crawler_or_similarity_index(tmp_path: Path) -> None:
    config = tmp_path / "hydrawatch.toml"
    config.write_text(f'[storage]\nurl = "sqlite:///{tmp_path / "store.db"}"\n')
    assert loaded_by(["--config", str(config), "init"], tmp_path)[0] == 0
    code, _, loaded = loaded_by(["--config", str(config), "status"], tmp_path)
    assert code == 0
    assert "sqlalchemy" in loaded  # the command did read the store
    assert sorted(loaded & {*NOT_FOR_STORE_VIEWS, "alembic"}) == []  # checking the revision needs no Alembic
    code, output, loaded = loaded_by(["--config", str(config), "lineage", "example.com"], tmp_path)
    assert code == 1 and "example.com is not in the store" in output
    assert sorted(loaded & set(NOT_FOR_STORE_VIEWS)) == []


def test_probe_of_one_name_with_the_shipped_config_loads_only_the_prober(tmp_path: Path) -> None:
    shipped = (ROOT / "config" / "hydrawatch.toml").read_text(encoding="utf-8")
    assert "\nnameservers = []\n" in shipped and '\nurl = "sqlite:///' in shipped
    with NanoServer(nanodns.answers_everything()) as server:
        config = tmp_path / "hydrawatch.toml"
        config.write_text(shipped.replace("\nnameservers = []\n", f'\nnameservers = ["{server.address}"]\n'))
        code, output, loaded = loaded_by(["--config", str(config), "probe", "example.test", "--types", "A"],
                                         tmp_path)
    assert code == 0 and output.split()[:2] == ["example.test", "NOERROR"]
    assert "crawler" in loaded  # the prober did run (dnspython itself is only loaded for rare names and types)
    assert sorted(loaded & set(NOT_FOR_PROBE)) == []


@pytest.mark.parametrize("url", ["sqlite:///var/hydrawatch.db", "sqlite:////tmp/a b.db", "sqlite:///",
                                 "sqlite:///%zz", "sqlite:///:memory:"])
def test_a_plain_sqlite_url_accepted_without_sqlalchemy_is_one_sqlalchemy_accepts(url: str) -> None:
    from sqlalchemy.engine import make_url

    from storage.settings import StorageSettings

    assert StorageSettings.from_mapping({"url": url}).url == url
    assert make_url(url).get_dialect().name == "sqlite"


def test_a_bad_sqlite_url_is_still_refused() -> None:
    from detect.settings import SettingsError
    from storage.settings import StorageSettings

    with pytest.raises(SettingsError, match="not a database URL|unknown database backend"):
        StorageSettings.from_mapping({"url": "sqlite:/var/x.db"})


@pytest.mark.parametrize("argv", [["nosuch"], ["status", "--bogus"]])
def test_a_usage_error_is_a_usage_line_not_a_traceback(argv: list[str]) -> None:
    """typer >= 0.29 raises its vendored click's UsageError: still usage and exit 2."""
    done = subprocess.run([sys.executable, "-c", "import sys; from hydrawatch.cli import main; sys.exit(main(sys.argv[1:]))", *argv], capture_output=True, text=True,
                          check=False, timeout=60, env={**os.environ, "HYDRAWATCH_CONFIG": os.devnull})
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr and "Error:" in done.stderr and "Usage:" in done.stderr


def test_fingerprinting_and_the_similarity_index_load_neither_datasketch_nor_scipy(tmp_path: Path) -> None:
    """Every worker, `run` and the tests' subprocesses fingerprint or index pages: detect.minhash does what
    datasketch did for them without its import (datasketch's package pulls in SciPy, 0.7 s)."""
    script = ("import json, sys\nimport detect.similarity, detect.simindex, scheduler.observe\n"
              "detect.simindex.SimilarityIndex().add('k', detect.similarity.minhash_of_text(' '.join(map(str, range(99)))))\n"
              "print(json.dumps(sorted({name.partition('.')[0] for name in sys.modules})))")
    done = subprocess.run([sys.executable, "-c", script], check=False, cwd=tmp_path, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=120)
    assert done.returncode == 0, done.stderr
    loaded = set(json.loads(done.stdout.splitlines()[-1]))
    assert "detect" in loaded and "scheduler" in loaded
    assert sorted(loaded & {"datasketch", "scipy"}) == []
