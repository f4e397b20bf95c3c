"""`python -m sandbox.worldgen SEED [--out DIR] [--now ISO]`: write one generated world for a human to read.

DIR/world.toml is the inline world as a world file (load it with `python -m sandbox --world DIR`),
DIR/answers.json its answer key.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hydrawatch.config import toml_value
from sandbox.worldgen import generate


def to_toml(table: dict[str, Any], prefix: str = "") -> str:
    """Nested tables as TOML: scalars and lists inline, sub-tables as [a.b] headers (keys quoted)."""
    scalars = {k: v for k, v in table.items() if not isinstance(v, dict)}
    subs = {k: v for k, v in table.items() if isinstance(v, dict)}
    out = ""
    if prefix and (scalars or not subs):
        out += f"\n[{prefix}]\n"
    out += "".join(f"{json.dumps(k)} = {toml_value(v)}\n" for k, v in scalars.items())
    for key, sub in subs.items():
        out += to_toml(sub, f"{prefix}.{json.dumps(key)}" if prefix else json.dumps(key))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sandbox.worldgen", description=__doc__)
    parser.add_argument("seed", type=int)
    parser.add_argument("--out", type=Path, default=None, help="folder to write (default: generated-<seed>)")
    parser.add_argument("--now", default=None, help="the takedown phase's clock, ISO 8601 UTC (default: now)")
    args = parser.parse_args(argv)
    now = datetime.fromisoformat(args.now) if args.now else datetime.now(UTC)
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    gw = generate(args.seed, now)
    out: Path = args.out or Path(f"generated-{args.seed}")
    out.mkdir(parents=True, exist_ok=True)
    (out / "world.toml").write_text(f"# {gw.world['world']['description']}\n" + to_toml(gw.world), encoding="utf-8")
    (out / "answers.json").write_text(json.dumps(gw.answers, indent=2) + "\n", encoding="utf-8")
    a = gw.answers
    print(f"{out}: {len(gw.world['domains'])} domains, {len(a['seeds'])} seeds, "
          f"{len(a['replacements'])} replacements, {len(a['decoys'])} decoys", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
