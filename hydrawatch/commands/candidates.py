"""`hydrawatch candidates DOMAIN [--registered]`: the lookalike names discovery would try for DOMAIN."""

from __future__ import annotations

import functools
from collections.abc import Iterable, Iterator
from typing import Annotated

import typer

from detect.model import Candidate, DnsResult
from hydrawatch.config import Config
from hydrawatch.context import CliError, state
from hydrawatch.render import dumps

TYPES = ("A", "AAAA", "NS")


def register(app: typer.Typer) -> None:
    @app.command("candidates")
    def candidates(
        ctx: typer.Context,
        domain: Annotated[str, typer.Argument(help="the domain to derive lookalikes from")],
        registered: Annotated[bool, typer.Option(
            "--registered", help="only names that resolve (asks [dns] nameservers)")] = False,
        fmt: Annotated[str, typer.Option("--format", help="text or jsonl")] = "text",
        fuzzers: Annotated[str | None, typer.Option(
            "--fuzzers", help="comma-separated fuzzers (default: [discovery] fuzzers)")] = None,
        tld: Annotated[list[str] | None, typer.Option(
            "--tld", help="also put each typo label on this suffix, as the hunt does with the network's "
                          "TLDs (repeatable)")] = None,
    ) -> None:
        """List the lookalike names discovery would try for DOMAIN, each with its fuzzer.

        Typo labels stay on DOMAIN's own suffix unless --tld adds more (the hunt adds every suffix
        the network uses)."""
        from detect.lookalike import UnknownFuzzer, lookalikes
        from detect.names import InvalidDomain

        if fmt not in ("text", "jsonl"):
            raise CliError(f"--format must be text or jsonl, not {fmt!r}", 2)
        config = state(ctx).config
        names = [f.strip() for f in fuzzers.split(",") if f.strip()] if fuzzers else config.discovery.fuzzers
        try:
            found = lookalikes(domain, fuzzers=names, tlds=config.discovery.tlds, typo_tlds=tld or ())
        except InvalidDomain as exc:
            raise CliError(f"{domain!r}: {exc}", 2) from None
        except UnknownFuzzer as exc:
            raise CliError(str(exc), 2) from None
        if registered:
            for cand, result in resolve(config, found):
                typer.echo(render(cand, fmt, result))
        else:
            for cand in found:
                typer.echo(render(cand, fmt))


def resolve(config: Config, found: Iterable[Candidate]) -> Iterator[tuple[Candidate, DnsResult]]:
    """The candidates that resolve, with their answers, in the prober's order (streamed)."""
    from crawler.dns import Prober

    by_name: dict[str, Candidate] = {}

    def names() -> Iterator[str]:
        for cand in found:
            by_name[cand.domain] = cand
            yield cand.domain

    prober = Prober.from_settings(config.dns)
    for result in prober.probe_all(names(), types=TYPES):
        cand = by_name.pop(result.name, None)
        if cand is not None and result.resolves:
            yield cand, result


@functools.cache
def _width() -> int:
    """The longest fuzzer name (the registry loads dnstwist and the PSL: only when a list is printed)."""
    from detect.lookalike import GENERATORS

    return max(len(name) for name in GENERATORS)


def render(cand: Candidate, fmt: str, result: DnsResult | None = None) -> str:
    if fmt == "jsonl":
        item: dict[str, object] = {"domain": cand.domain, "fuzzer": cand.via}
        if result is not None:
            item.update({"rcode": result.rcode.value, **{t: list(result.get(t)) for t in TYPES}})
        return dumps(item, indent=None)
    width = _width()
    line = f"{cand.via:<{width}}  {cand.domain}"
    if result is not None:
        line = f"{line:<{width + 40}}  {' '.join(result.get('A') + result.get('AAAA'))}"
        if result.get("NS"):
            line += f"  NS {' '.join(result.get('NS'))}"
    return line.rstrip()
