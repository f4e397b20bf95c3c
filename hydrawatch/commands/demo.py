"""`hydrawatch demo`: the September 2024 Doppelganger seizure replayed on the offline sandbox internet,
through the same cycle as `hydrawatch run`."""

from __future__ import annotations

import shlex
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from hydrawatch import logs
from hydrawatch.config import Config, as_dict, from_mapping, redactor, to_toml
from hydrawatch.context import CliError, state
from hydrawatch.render import dumps, iso, terminal_safe

WORLD = "doppelganger-2024"


def demo_config(base: Config, overrides: dict[str, Any], store_url: str) -> Config:
    """The user's config (log, scoring, brands …) pointed at the sandbox and a throw-away store."""
    data = as_dict(base)
    for section, keys in overrides.items():
        data.setdefault(section, {}).update(keys)
    data["storage"] = {"url": store_url}
    data["schedule"] = as_dict(Config())["schedule"]
    return from_mapping(data, source="(demo)")


def _emails(messages: list[Any]) -> list[dict[str, Any]]:
    out = []
    for msg in messages:
        body = msg.get_body(preferencelist=("plain",)) if hasattr(msg, "get_body") else None
        out.append({"subject": str(msg.get("Subject", "")), "to": str(msg.get("To", "")),
                    "message_id": str(msg.get("Message-ID", "")),
                    "body": body.get_content() if body is not None else str(msg.get_payload())})
    return out


def _show(console: Console, cycles: list[tuple[str, dict[str, Any]]], export: dict[str, Any],
          emails: list[dict[str, Any]]) -> None:
    for phase, stats in cycles:
        table = Table(title=f"phase {phase}: status changes", title_justify="left")
        for col in ("domain", "from", "to", "reason"):
            table.add_column(col)
        for ch in stats["status_changes"]:
            table.add_row(ch["domain"], str(ch["from"]), ch["to"], Text(terminal_safe(ch["reason"], 90)))
        console.print(table)
    console.print(_edges_table(export["edges"]))
    mails = Table(title=f"{len(emails)} alert e-mails received by the sandbox's SMTP server", title_justify="left")
    mails.add_column("subject")
    for m in emails:
        mails.add_row(Text(terminal_safe(m["subject"], 120)))
    console.print(mails)


def _edges_table(edges: list[dict[str, Any]]) -> Table:
    """Each clone with its predecessor, and the families of evidence that decided it (the lines that
    counted): narrow enough for 80 columns, nothing cut (cells fold)."""
    from detect.evidence_summary import group_evidence, visible
    from storage.codec import evidence_from_raw

    table = Table(title="replacements and other lineage found (`hydrawatch lineage CLONE` shows all the evidence)",
                  title_justify="left")
    width = max((len(e[k]) + 2 for e in edges for k in ("from", "to")), default=12)
    table.add_column("clone ← predecessor", overflow="fold", min_width=min(width, 26))
    table.add_column("deciding evidence, by family", overflow="fold")
    for e in edges:
        groups, _ = visible(group_evidence(evidence_from_raw(e["evidence"]), predecessor=e["from"]))
        cell = Text()
        for group in (g for g in groups if g.deciding):
            if cell:
                cell.append("\n")
            cell.append(f"{group.family} {group.strength:.2f}", style="bold")
            cell.append(": " + "; ".join(terminal_safe(line.text, 120) for line in group.lines if line.counted))
        table.add_row(Text(f"{terminal_safe(e['to'])}\n← {terminal_safe(e['from'])}\n"
                           f"{e['relation']} {e['confidence']:.2f}"), cell)
    return table


def register(app: typer.Typer) -> None:
    @app.command("demo")
    def demo(ctx: typer.Context,
             fmt: Annotated[str, typer.Option("--format", help="text or json")] = "text",
             keep: Annotated[bool, typer.Option("--keep", help="leave the sandbox and `serve` running")] = False,
             ) -> None:
        """Replay the September 2024 Doppelganger seizure offline and show what hydrawatch finds."""
        if fmt not in ("text", "json"):
            raise CliError(f"--format must be text or json, not {fmt!r}", 2)
        from crawler import run as reactor_run
        from hydrawatch.bundled import load_signatures
        from hydrawatch.wiring import open_store, utcnow
        from sandbox.net import Sandbox
        from scheduler import cycle
        from scheduler.components import Components
        from storage import export as exporter
        from storage import watchlist

        base = state(ctx).config
        logs.setup(base.log.format, "WARNING" if base.log.level.upper() == "INFO" else base.log.level,
                   redactor(base))
        console = Console(stderr=fmt == "json", highlight=False)
        workdir = Path(tempfile.mkdtemp(prefix="hydrawatch-demo-"))
        with Sandbox.start(WORLD, phase="before") as sb:
            cfg = demo_config(base, sb.config_overrides(), f"sqlite:///{workdir / 'demo.db'}")
            with open_store(cfg, check=False) as store:
                store.init()
                with store.transaction() as session:
                    watchlist.add_domains(session, sb.seeds, campaign=sb.campaign, origin="seed", now=sb.clock())
                parts = Components.from_settings(cfg, store, load_signatures())
                cycles: list[tuple[str, dict[str, Any]]] = []

                async def main() -> None:
                    try:
                        for phase in ("before", "seizure"):
                            sb.set_phase(phase)
                            console.print(f"[bold]{phase}[/]: the sandbox clock reads {iso(sb.clock())}; "
                                          f"running one full cycle …")
                            report = await cycle.run_cycle(parts, now=sb.clock())
                            cycles.append((phase, report.stats()))
                    finally:
                        await parts.close()

                reactor_run.run(main)
                deadline = time.monotonic() + 5
                expected = sum(s["alerts_sent"] for _, s in cycles)
                while len(sb.messages) < expected and time.monotonic() < deadline:
                    time.sleep(0.05)
                with store.transaction() as session:
                    export = exporter.to_json(exporter.snapshot(session), utcnow())
                emails = _emails(list(sb.messages))
                if fmt == "json":
                    typer.echo(dumps({**export, "emails": emails}))
                else:
                    _show(console, cycles, export, emails)
                    config_file = _leave_config(workdir, cfg.storage.url)
                    console.print(f"the demo store is kept in {workdir}", markup=False)
                    console.print("look at it with:")
                    # one unwrapped line, quoted for any POSIX shell: it must work when pasted
                    console.print(shlex.join([*self_command(), "--config", str(config_file), "lineage", "rrn.so"]),
                                  markup=False, soft_wrap=True)
                if keep:
                    _keep_serving(cfg, store, console)


def _leave_config(workdir: Path, store_url: str) -> Path:
    """A config file beside the demo store that points every command at it."""
    path = workdir / "hydrawatch.toml"
    path.write_text("# written by `hydrawatch demo`: the demo store\n" + to_toml({"storage": {"url": store_url}}),
                    encoding="utf-8")
    return path


def self_command() -> list[str]:
    """How to run this same hydrawatch again from any directory: `hydrawatch` when that name on PATH is
    this program, else the script's absolute path, else this interpreter with ``-m hydrawatch.cli``."""
    script = Path(sys.argv[0])
    if script.name == "hydrawatch":
        on_path = shutil.which("hydrawatch")
        if on_path is not None and Path(on_path).resolve() == script.resolve():
            return ["hydrawatch"]
        if script.is_file():
            return [str(script.absolute())]
    return [sys.executable, "-m", "hydrawatch.cli"]


def _keep_serving(cfg: Config, store: Any, console: Console) -> None:
    from hydrawatch.web.server import build, serve_forever

    def announce(url: str) -> None:
        console.print(f"the sandbox stays up; the demo store is served at {url} — Ctrl-C stops both",
                      markup=False)

    try:
        serve_forever(build(store.sessions, host=cfg.serve.host, token=cfg.serve.token), cfg.serve.host,
                      cfg.serve.port, announce)
    except KeyboardInterrupt:
        pass
