"""`hydrawatch lineage DOMAIN`: a domain's predecessors and successors, the evidence, a timeline."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.text import Text
from rich.tree import Tree

from hydrawatch.commands.views_common import check_format, normalise
from hydrawatch.context import CliError, state
from hydrawatch.present import family_json, timeline
from hydrawatch.render import dumps, iso, terminal_safe
from hydrawatch.wiring import open_store
from storage import lineage
from storage.lineage import Family
from storage.values import EdgeInfo

STATUS_STYLE = {"active": "green", "seized": "bold red", "suspended": "red", "parked": "yellow",
                "redirecting": "cyan", "dead": "bright_black", "unknown": "white"}


def _node(family: Family, name: str, edge: EdgeInfo | None, arrow: str) -> Text:
    member = family.member(name)
    label = Text()
    if edge is not None:
        label.append(f"{arrow} {edge.relation} {edge.confidence:.2f} ", style="bold")
    label.append(terminal_safe(name), style="bold")
    label.append(f"  [{member.domain.status}]", style=STATUS_STYLE.get(member.domain.status, ""))
    if member.domain.campaign:
        label.append(f"  {terminal_safe(member.domain.campaign, 40)}", style="dim")
    if edge is not None:
        label.append(f"  detected {iso(edge.detected_at)}", style="dim")
    return label


def _add_evidence(branch: Tree, edge: EdgeInfo) -> None:
    for ev in edge.evidence:
        line = Text(f"• {terminal_safe(ev.kind, 60)} = {terminal_safe(ev.value, 200)}  ({ev.weight:+.2f})")
        if ev.detail:
            line.append(f"  {terminal_safe(ev.detail, 200)}", style="dim")
        branch.add(line)


def _grow(tree: Tree, family: Family, name: str, forward: bool, seen: set[str]) -> None:
    for edge in family.edges:
        near, far = (edge.from_domain, edge.to_domain) if forward else (edge.to_domain, edge.from_domain)
        if near != name:
            continue
        branch = tree.add(_node(family, far, edge, "→" if forward else "←"))
        _add_evidence(branch, edge)
        if far not in seen:  # a cycle is shown once
            _grow(branch, family, far, forward, seen | {far})


def render_text(family: Family) -> list[Tree | Text]:
    root = Tree(_node(family, family.root, None, ""))
    preds = root.add(Text(f"predecessors ({len(family.predecessors)})", style="italic"))
    _grow(preds, family, family.root, False, {family.root})
    succs = root.add(Text(f"successors ({len(family.successors)})", style="italic"))
    _grow(succs, family, family.root, True, {family.root})
    out: list[Tree | Text] = [root, Text("\ntimeline", style="bold")]
    for ev in timeline(family):
        if ev["event"] == "status":
            out.append(Text(f"  {ev['at']}  {ev['domain']}  {ev['previous'] or '-'} → {ev['status']}  "
                            f"{terminal_safe(ev['reason'], 120)}"))
        else:
            out.append(Text(f"  {ev['at']}  {ev['from']} → {ev['to']}  {ev['relation']} detected "
                            f"({ev['confidence']:.2f})", style="cyan"))
    return out


def register(app: typer.Typer) -> None:
    @app.command("lineage")
    def lineage_cmd(
        ctx: typer.Context,
        domain: Annotated[str, typer.Argument(help="a domain in the store")],
        fmt: Annotated[str, typer.Option("--format", help="text or json")] = "text",
    ) -> None:
        """Show a domain's family: predecessors, successors, evidence and status timeline."""
        check_format(fmt, ("text", "json"))
        name = normalise(domain)
        with open_store(state(ctx).config) as store, store.transaction() as session:
            try:
                family = lineage.family(session, name)
            except KeyError:
                raise CliError(f"{name} is not in the store") from None
        if fmt == "json":
            typer.echo(dumps(family_json(family)))
            return
        console = Console(highlight=False)
        for part in render_text(family):
            console.print(part)
