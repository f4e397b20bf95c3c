"""The layers import one way (docs/architecture, STYLE "A layout that shows the architecture").

Every module of our packages is parsed with ``ast``; every import counts, wherever it sits: at the top,
under ``if TYPE_CHECKING:``, inside a function, and ``importlib.import_module("…")`` with a literal
name. Within a package anything goes; across packages only these directions:

    detect                 -> nothing of ours (the pure core)
    crawler, storage       -> detect
    scheduler              -> detect, crawler, storage
    hydrawatch (the shell) -> everything
    sandbox                -> only the shell's public config writer (to_toml, toml_value): the
                              offline internet must not lean on the code it is there to test

``hydrawatch.resources`` is the data directory config/ installed under the shell's name (pyproject
package-dir); reading it with importlib.resources is reading shipped data, not importing code, so it
is not counted here (whether the pure core may read files is issue 15 item 3's business).

A known exception is listed with its reason, and the test fails once it is no longer used, so the
list only shrinks.

And no cycles: no module of ours imports, directly or round a loop, a module that imports it back
(function-level imports count; ``if TYPE_CHECKING:`` ones do not).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("detect", "crawler", "storage", "scheduler", "hydrawatch", "sandbox")
OURS = (*PACKAGES, "tests", "bench", "config")
ALLOWED: dict[str, set[str]] = {
    "detect": set(),
    "crawler": {"detect"},
    "storage": {"detect"},
    "scheduler": {"detect", "crawler", "storage"},
    "hydrawatch": set(OURS) - {"tests", "bench"},
    "sandbox": set(),
}
# What a package may take from a module of another one it is otherwise not allowed to import.
ALLOWED_NAMES: dict[tuple[str, str], set[str]] = {
    ("sandbox", "hydrawatch.config"): {"to_toml", "toml_value"},
}
DATA_PACKAGE = "hydrawatch.resources"
# (importing file, imported module) -> why it is still there
EXCEPTIONS: dict[tuple[str, str], str] = {
}


def _literal(node: ast.AST) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def _is_module(dotted: str) -> bool:
    path = ROOT.joinpath(*dotted.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def imports(tree: ast.AST) -> Iterator[tuple[str, str]]:
    """(module, name taken from it or "") for every import in ``tree``."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, ""
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                submodule = f"{node.module}.{alias.name}"
                yield (submodule, "") if _is_module(submodule) else (node.module, alias.name)
        elif isinstance(node, ast.Call) and node.args and (name := _literal(node.args[0])):
            func = node.func
            called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if called == "import_module":
                yield name, ""


def violations() -> dict[tuple[str, str], str]:
    """(file, module) -> one line, for every import of ours against the layers."""
    found: dict[tuple[str, str], str] = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            file = path.relative_to(ROOT).as_posix()
            for module, name in imports(ast.parse(path.read_text(encoding="utf-8"), filename=file)):
                top = module.split(".")[0]
                if top not in OURS or top == package or top in ALLOWED[package] or module.startswith(DATA_PACKAGE):
                    continue
                if name and name in ALLOWED_NAMES.get((package, module), set()):
                    continue
                shown = f"{name} from {module}" if name else module
                found.setdefault((file, module), f"{file}: {package} must not import {shown}")
    return found


def test_layers_import_one_way() -> None:
    broken = {key: line for key, line in violations().items() if key not in EXCEPTIONS}
    assert not broken, "imports against the layers:\n" + "\n".join(sorted(broken.values()))


def test_every_listed_exception_is_still_needed() -> None:
    used = violations()
    stale = [f"{file} -> {module} ({why})" for (file, module), why in EXCEPTIONS.items() if (file, module) not in used]
    assert not stale, "exceptions no longer used, remove them from EXCEPTIONS:\n" + "\n".join(stale)


def test_the_checker_sees_type_checking_and_function_level_imports() -> None:
    source = (
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from hydrawatch.config import Config\n"
        "def f():\n    import scheduler.cycle\n    from storage import db\n"
        "    return importlib.import_module('crawler.fetch')\n"
    )
    found = {module for module, _ in imports(ast.parse(source))}
    assert {"hydrawatch.config", "scheduler.cycle", "storage.db", "crawler.fetch"} <= found


# --- Import cycles among our modules ------------------------------------------------------------------
# Every import that runs counts: at module level (in `if`, `try`, class bodies) and inside functions, as
# a lazy import hides a cycle rather than breaking it (two did: crawler/dns <-> dnspool, storage/export
# <-> stix). Imports under `if TYPE_CHECKING:` never run (annotations only) and are left out.


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _running_nodes(node: ast.AST) -> Iterator[ast.AST]:
    """``node`` and everything under it, except the bodies of ``if TYPE_CHECKING:``."""
    yield node
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.If) and _is_type_checking(child.test):
            for stmt in child.orelse:
                yield from _running_nodes(stmt)
        else:
            yield from _running_nodes(child)


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def running_imports(path: Path) -> set[str]:
    """Our modules that ``path`` imports when it runs (as dotted names, the most specific module)."""
    found: set[str] = set()
    for node in _running_nodes(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [f"{node.module}.{a.name}" if _is_module(f"{node.module}.{a.name}") else node.module
                     for a in node.names]
        else:
            continue
        found.update(n for n in names if n.split(".")[0] in PACKAGES and _is_module(n))
    return found


def import_graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            graph[_module_name(path)] = running_imports(path)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle (a -> … -> a) per strongly connected group of modules that import each other."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[set[str]] = []

    def visit(v: str) -> None:  # Tarjan's algorithm; the graph is a few hundred modules
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = set()
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.add(w)
                if w == v:
                    break
            if len(group) > 1 or v in graph.get(v, ()):
                groups.append(group)

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return [_a_cycle_in(graph, group) for group in groups]


def _a_cycle_in(graph: dict[str, set[str]], group: set[str]) -> list[str]:
    start = min(group)
    paths = {start: [start]}
    todo = [start]
    while todo:  # breadth first, so the cycle shown is a shortest one through `start`
        v = todo.pop(0)
        for w in sorted(graph[v] & group):
            if w == start:
                return [*paths[v], start]
            if w not in paths:
                paths[w] = [*paths[v], w]
                todo.append(w)
    raise AssertionError(f"no cycle in {group}")  # pragma: no cover


def test_no_import_cycles_among_our_modules() -> None:
    found = cycles(import_graph())
    assert not found, "import cycles among our modules:\n" + "\n".join(" -> ".join(c) for c in found)


def test_the_cycle_finder_sees_function_level_imports_and_ignores_type_checking(tmp_path: Path) -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": {"e"}}
    assert sorted(cycles(graph)) == [["a", "b", "c", "a"], ["e", "e"]]
    module = tmp_path / "m.py"
    module.write_text("from typing import TYPE_CHECKING\n"
                      "import storage.db\n"
                      "if TYPE_CHECKING:\n    import crawler.dns\n"
                      "try:\n    import scheduler.cycle\nexcept ImportError:\n    pass\n"
                      "def f():\n    import detect.scoring\n")
    assert running_imports(module) == {"storage.db", "scheduler.cycle", "detect.scoring"}
