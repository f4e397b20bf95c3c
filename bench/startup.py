"""CLI start-up, before and after, in one run: wall time and peak memory of the commands people type.

Run by hand from the repository root (not part of the test suite), with a checkout of the commit to
compare against:

    git worktree add /tmp/startup-before <commit>      # e.g. the commit before the start-up work
    /work/main/.venv/bin/python bench/startup.py [--runs 15] [--before /tmp/startup-before]

Each command runs ``--runs`` times as a new process through the installed console script (the one
beside this interpreter), with PYTHONPATH set to the tree under test, before and after interleaved so
both see the same machine load: ``python -c pass`` (the interpreter's own floor), ``hydrawatch --help``,
a one-name ``probe`` (all seven record types) against the sandbox's loopback DNS server, and
``status`` on an empty SQLite store. The config is the shipped config/hydrawatch.toml with the
sandbox's nameserver and a throw-away store, read from a scratch directory. Medians of wall time and
of peak RSS (``wait4``'s ru_maxrss) are printed as Markdown; the outputs of both trees must be
byte-identical (record lists compared as sets: the sandbox rotates NS answers), else the bench stops.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


# Spawns one command and reports its wall time and peak RSS. A small process of its own: a child's
# ru_maxrss also counts the memory of the process it was forked (or vforked) from, up to its exec,
# which for this bench (the sandbox, all of hydrawatch) would be more than `--help` itself uses.
_RUNNER = """
import json, os, sys, time
out = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
argv = sys.argv[2:]
start = time.perf_counter()
pid = os.posix_spawn(argv[0], argv, os.environ, file_actions=[(os.POSIX_SPAWN_DUP2, out, 1),
                                                             (os.POSIX_SPAWN_DUP2, out, 2)])
_, status, usage = os.wait4(pid, 0)
print(json.dumps([time.perf_counter() - start, usage.ru_maxrss, os.waitstatus_to_exitcode(status)]))
"""


def run_once(argv: list[str], env: dict[str, str], out_file: Path) -> tuple[float, float, bytes]:
    """Wall seconds, peak RSS in MB and stdout+stderr of one run of ``argv`` in the current directory."""
    report = subprocess.run([sys.executable, "-I", "-S", "-c", _RUNNER, str(out_file), *argv], env=env,
                            capture_output=True, text=True, check=True).stdout
    wall, max_kb, code = json.loads(report)
    output = out_file.read_bytes()
    if code != 0:
        raise SystemExit(f"bench/startup.py: {' '.join(argv)} exited {code}:\n{output.decode()}")
    return wall, max_kb / 1024, output


def comparable(output: bytes) -> bytes:
    """``output`` with each comma-separated record list sorted: the sandbox rotates its NS answers."""
    def token(text: bytes) -> bytes:
        key, eq, values = text.rpartition(b"=")
        return key + eq + b",".join(sorted(values.split(b",")))

    return b"\n".join(b" ".join(token(t) for t in line.split(b" ")) for line in output.splitlines())


def tree_env(tree: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HYDRAWATCH_")}
    env["PYTHONPATH"] = str(tree)
    return env


def check_tree(tree: Path) -> None:
    """The console script with PYTHONPATH=tree must run that tree's code, not the installed checkout's."""
    where = subprocess.run([sys.executable, "-c", "import hydrawatch; print(hydrawatch.__file__)"],
                           env=tree_env(tree), capture_output=True, text=True, check=True).stdout.strip()
    if not Path(where).resolve().is_relative_to(tree.resolve()):
        raise SystemExit(f"bench/startup.py: PYTHONPATH={tree} imports hydrawatch from {where}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--before", type=Path, default=Path("/tmp/startup-before"),
                        help="checkout of the commit to compare with (git worktree add …)")
    parser.add_argument("--after", type=Path, default=ROOT, help="checkout under test (default: this one)")
    args = parser.parse_args()
    if not (args.before / "hydrawatch" / "cli.py").exists():
        sys.exit(f"bench/startup.py: no checkout at {args.before}; make one with "
                 f"`git worktree add {args.before} <commit>`")
    script = Path(sys.executable).with_name("hydrawatch")
    if not script.exists():
        sys.exit(f"bench/startup.py: no console script {script} (pip install -e . in this venv)")

    from sandbox.net import Sandbox

    trees = {"before": args.before.resolve(), "after": args.after.resolve()}
    shipped = (ROOT / "config" / "hydrawatch.toml").read_text(encoding="utf-8")
    with tempfile.TemporaryDirectory(prefix="hw-startup-") as scratch, Sandbox.start("doppelganger-2024") as sb:
        work = Path(scratch)
        os.chdir(work)  # no config/hydrawatch.toml of the current directory is read
        out_file = work / "output"
        name = sb.seeds[0]
        configs: dict[str, Path] = {}
        for label, tree in trees.items():
            check_tree(tree)
            text = shipped.replace("\nnameservers = []\n", f'\nnameservers = ["127.0.0.1:{sb.ports["dns"]}"]\n')
            text = text.replace('url = "sqlite:///var/hydrawatch.db"', f'url = "sqlite:///{work / label}.db"')
            assert text.count(str(work)) == 1 and f':{sb.ports["dns"]}"' in text, "shipped config changed shape"
            configs[label] = work / f"{label}.toml"
            configs[label].write_text(text, encoding="utf-8")
            run_once([str(script), "--config", str(configs[label]), "init"], tree_env(tree), out_file)

        def commands(label: str) -> dict[str, list[str]]:
            cfg = ["--config", str(configs[label])]
            return {"`python -c pass` (floor)": [sys.executable, "-c", "pass"],
                    "`hydrawatch --help`": [str(script), "--help"],
                    f"`hydrawatch probe {name}` (7 types, loopback DNS)": [str(script), *cfg, "probe", name],
                    "`hydrawatch status` (empty SQLite store)": [str(script), *cfg, "status"]}

        rows = list(commands("after"))
        walls = {(label, row): [] for label in trees for row in rows}
        rss = {(label, row): [] for label in trees for row in rows}
        outputs: dict[tuple[str, str], bytes] = {}
        for _ in range(args.runs):
            for row in rows:
                for label, tree in trees.items():
                    wall, peak, out = run_once(commands(label)[row], tree_env(tree), out_file)
                    walls[label, row].append(wall)
                    rss[label, row].append(peak)
                    outputs.setdefault((label, row), comparable(out).replace(str(configs[label]).encode(), b"CONFIG")
                                       .replace(f"{work / label}.db".encode(), b"STORE"))
        for row in rows:
            if outputs["before", row] != outputs["after", row]:
                sys.exit(f"bench/startup.py: {row} prints differently before and after:\n"
                         f"{outputs['before', row].decode()}\n---\n{outputs['after', row].decode()}")

    print(f"{args.runs} runs each, before = {args.before}, after = {args.after}; medians; "
          f"Python {sys.version.split()[0]}, {os.cpu_count()} CPUs; outputs identical before and after\n")
    print("| command | before s | after s | after / before | before RSS MB | after RSS MB |")
    print("|---|---:|---:|---:|---:|---:|")
    for row in rows:
        b, a = statistics.median(walls["before", row]), statistics.median(walls["after", row])
        print(f"| {row} | {b:.3f} | {a:.3f} | {a / b:.2f}× | {statistics.median(rss['before', row]):.0f} | "
              f"{statistics.median(rss['after', row]):.0f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
