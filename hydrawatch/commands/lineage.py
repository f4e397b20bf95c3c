"""`hydrawatch lineage DOMAIN`: a domain's predecessors and successors, the evidence, a timeline."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.text import Text
from rich.tree import Tree

from detect.evidence_summary import AGAINST, MINOR_WEIGHT, group_evidence, visible
from hydrawatch.commands.views_common import check_format, normalise
from hydrawatch.context import CliError, state
from hydrawatch.render import dumps, iso, terminal_safe

if TYPE_CHECKING:
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


def _add_evidence(branch: Tree, edge: EdgeInfo, every: bool) -> None:
    """The edge's evidence by family, deciding families first; with ``every`` also the minor lines and,
    under each line, the stored items it stands for."""
    groups, hidden = visible(group_evidence(edge.evidence, predecessor=edge.from_domain), include_minor=every)
    for group in groups:
        head = Text(f"{group.family} {group.strength:.2f}", style="bold" if group.deciding else "")
        if group.deciding:
            head.append(" · decided" if group.family != AGAINST else " · lowered the confidence", style="dim")
        node = branch.add(head)
        for line in group.lines:
            row = node.add(Text(f"{line.weight:+.2f}  {terminal_safe(line.text, 200)}",
                                style="" if line.counted else "dim"))
            if every:
                for ev in line.items:
                    item = Text(f"• {terminal_safe(ev.kind, 60)} = {terminal_safe(ev.value, 200)}  ({ev.weight:+.2f})")
                    if ev.detail:
                        item.append(f"  {terminal_safe(ev.detail, 200)}", style="dim")
                    row.add(item)
    if hidden:
        branch.add(Text(f"{hidden} minor item{'s' if hidden != 1 else ''} hidden (weight under {MINOR_WEIGHT}); "
                        "--all shows every item", style="dim italic"))


def _grow(tree: Tree, family: Family, name: str, forward: bool, seen: set[str], every: bool) -> None:
    for edge in family.edges:
        near, far = (edge.from_domain, edge.to_domain) if forward else (edge.to_domain, edge.from_domain)
        if near != name:
            continue
        branch = tree.add(_node(family, far, edge, "→" if forward else "←"))
        _add_evidence(branch, edge, every)
        if far not in seen:  # a cycle is shown once
            _grow(branch, family, far, forward, seen | {far}, every)


def render_text(family: Family, *, every: bool = False) -> list[Tree | Text]:
    from hydrawatch.present import timeline

    root = Tree(_node(family, family.root, None, ""))
    preds = root.add(Text(f"predecessors ({len(family.predecessors)})", style="italic"))
    _grow(preds, family, family.root, False, {family.root}, every)
    succs = root.add(Text(f"successors ({len(family.successors)})", style="italic"))
    _grow(succs, family, family.root, True, {family.root}, every)
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
        every: Annotated[bool, typer.Option("--all", help="also the minor evidence, and every stored item "
                                            "under its line")] = False,
    ) -> None:
        """Show a domain's family: predecessors, successors, evidence and status timeline."""
        from hydrawatch.present import family_json
        from hydrawatch.wiring import open_store
        from storage import lineage

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
        for part in render_text(family, every=every):
            console.print(part)
