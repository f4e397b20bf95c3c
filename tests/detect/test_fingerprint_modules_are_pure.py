"""The fingerprint and classification modules stay pure: no network, store, scheduler or clock imports."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

DETECT = Path(__file__).parents[2] / "detect"
MODULES = ("classify", "evidence_summary", "fingerprints", "indicator_kinds", "minhash", "page_parse", "page_signals", "signatures",
           "similarity", "textsafe", "trackers")
FORBIDDEN = {"socket", "requests", "httpx", "urllib.request", "dns", "scrapy", "twisted", "sqlalchemy",
             "crawler", "storage", "scheduler", "hydrawatch", "smtplib", "subprocess", "time"}


@pytest.mark.parametrize("module", MODULES)
def test_module_imports_nothing_impure(module: str) -> None:
    tree = ast.parse((DETECT / f"{module}.py").read_text(encoding="utf-8"))
    names = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    names |= {n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    assert not {name for name in names if name in FORBIDDEN or name.split(".")[0] in FORBIDDEN}
    source = (DETECT / f"{module}.py").read_text(encoding="utf-8")
    assert "datetime.now" not in source and "open(" not in source
