"""detect/ is the pure core: no module in it opens a file or reads package data; the shell loads
data files (signatures …) and passes the parsed values in."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

DETECT = Path(__file__).parents[2] / "detect"
IO_MODULES = {"importlib.resources", "importlib_resources", "pathlib", "os", "io", "shutil", "glob", "tempfile",
              "socket", "urllib.request", "http.client", "smtplib", "subprocess", "sqlite3"}
IO_CALLS = {"open", "read_text", "read_bytes", "write_text", "write_bytes", "iterdir", "files", "Path", "urlopen"}


@pytest.mark.parametrize("path", sorted(DETECT.glob("*.py")), ids=lambda p: p.name)
def test_detect_module_does_no_file_or_network_io(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    imported = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    imported |= {n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    assert not {m for m in imported if m in IO_MODULES or m.split(".")[0] in {"pathlib", "shutil", "socket"}}
    called = {c.func.id if isinstance(c.func, ast.Name) else c.func.attr
              for c in ast.walk(tree) if isinstance(c, ast.Call) and isinstance(c.func, (ast.Name, ast.Attribute))}
    assert not called & IO_CALLS, f"{path.name} calls {sorted(called & IO_CALLS)}"
