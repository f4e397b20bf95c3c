"""`hydrawatch probe DOMAIN… | --file FILE`: bulk DNS check, one result per name, nothing stored."""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING, Annotated

import typer

from detect.model import RECORD_TYPES, DnsResult
from detect.names import InvalidDomain, strip_to_host
from hydrawatch.context import CliError, state
from hydrawatch.render import dumps, terminal_safe

if TYPE_CHECKING:
    from crawler.dns import Prober

_LABEL = re.compile(r"^(?!-)[a-z0-9_-]{1,63}(?<!-)$")
# Already-clean names (the bulk of any list) skip the general normaliser.
_PLAIN = re.compile(r"(?:(?!-)[a-z0-9_-]{1,63}(?<!-)\.)*(?!-)[a-z0-9_-]{1,63}(?<!-)")
PROGRESS_MIN = 200  # names; shorter lists finish before a bar is worth drawing


def probe_name(text: str) -> str:
    """A host name to ask about: lower case, punycode, URL parts stripped; InvalidDomain otherwise.
    Unlike registrable_domain, subdomains stay (www.x.y and _dmarc.x.y are fair questions)."""
    if _PLAIN.fullmatch(text) and len(text) <= 253 and not text.replace(".", "").isdigit():
        return text
    host = strip_to_host(text)
    if re.fullmatch(r"[0-9.]+", host):
        raise InvalidDomain("an IP address is not a domain")
    if len(host) > 253:
        raise InvalidDomain("name longer than 253 characters")
    for label in host.split("."):
        if not _LABEL.match(label):
            raise InvalidDomain(f"bad label {label!r}")
    return host


def _lines(source: IO[str], where: str, report: Callable[[str], None]) -> Iterator[str]:
    for number, raw in enumerate(source, 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        try:
            yield probe_name(line)
        except InvalidDomain as exc:
            report(f"hydrawatch: {where}:{number}: skipped {terminal_safe(line, 80)!r}: {exc}")


def _arguments(domains: Iterable[str], report: Callable[[str], None]) -> Iterator[str]:
    for text in domains:
        try:
            yield probe_name(text)
        except InvalidDomain as exc:
            report(f"hydrawatch: skipped {terminal_safe(text, 80)!r}: {exc}")


def as_json(result: DnsResult, types: list[str]) -> str:
    """One JSON object: name, rcode, a list per asked type (and CNAME when seen), error."""
    if not result.records and not result.error and _PLAIN.fullmatch(result.name):
        # the common dead name: no escaping needed, skip the encoder
        empty = "".join(f', "{t}": []' for t in types)
        return f'{{"name": "{result.name}", "rcode": "{result.rcode.value}"{empty}, "error": ""}}'
    item: dict[str, object] = {"name": result.name, "rcode": result.rcode.value}
    for rtype in types:
        item[rtype] = list(result.get(rtype))
    for rtype, values in result.records.items():
        if rtype not in item:
            item[rtype] = list(values)
    item["error"] = result.error
    return dumps(item, indent=None)


def as_text(result: DnsResult, types: list[str], width: int) -> str:
    parts = [f"{result.name:<{width}}", f"{result.rcode.value:<8}"]
    for rtype in [*types, *(t for t in result.records if t not in types)]:
        values = result.get(rtype)
        if values:
            parts.append(f"{rtype}=" + ",".join(terminal_safe(v, 200) for v in values))
    if result.error:
        parts.append(f"error={terminal_safe(result.error, 200)!r}")
    return " ".join(parts).rstrip()


def register(app: typer.Typer) -> None:
    @app.command("probe")
    def probe(
        ctx: typer.Context,
        domains: Annotated[list[str] | None, typer.Argument(help="names to check")] = None,
        file: Annotated[str | None, typer.Option("--file", "-f", help="one name a line; - = stdin")] = None,
        fmt: Annotated[str, typer.Option("--format", help="text or jsonl")] = "text",
        types: Annotated[str, typer.Option("--types", help="record types, comma-separated")] =
            ",".join(RECORD_TYPES),
    ) -> None:
        """Bulk DNS check through [dns]: one result per name (rcode, records by type). Stores nothing."""
        from crawler.dns import Prober, ProberError, check_types

        if fmt not in ("text", "jsonl"):
            raise CliError(f"--format must be text or jsonl, not {fmt!r}", 2)
        if not domains and not file:
            raise CliError("give DOMAIN… or --file FILE", 2)
        try:
            kinds = [text for text, _ in check_types([t for t in types.split(",") if t.strip()])]
        except ProberError as exc:
            raise CliError(f"--types: {exc}", 2) from None
        prober = Prober.from_settings(state(ctx).config.dns)
        console: list[object] = [None]  # the progress bar's console, once it is drawn
        skipped = [0]

        def report(line: str) -> None:
            skipped[0] += 1
            live = console[0]
            if live is not None:
                live.print(line, markup=False, highlight=False)  # type: ignore[attr-defined]
            else:
                print(line, file=sys.stderr)

        total: int | None = None
        handle: IO[str] | None = None
        if file:
            if file == "-":
                names: Iterable[str] = _lines(sys.stdin, "stdin", report)
            else:
                path = Path(file)
                try:
                    if sys.stderr.isatty():  # the bar's total; not worth a second read otherwise
                        with path.open(encoding="utf-8", errors="replace") as counting:
                            total = sum(1 for line in counting if line.split("#", 1)[0].strip())
                    handle = path.open(encoding="utf-8", errors="replace")
                except OSError as exc:
                    raise CliError(f"{file}: {exc.strerror or exc}") from None
                names = _lines(handle, file, report)
            width = 32
        else:
            names = list(_arguments(domains or [], report))
            total = len(names)
            width = max((len(n) for n in names), default=0)
        try:
            if sys.stderr.isatty() and (total is None or total >= PROGRESS_MIN):
                _with_bar(prober, names, total, fmt, kinds, width, console, skipped)
            else:
                _write(prober.probe_all(names, kinds), sys.stdout, fmt, kinds, width)
        except ProberError as exc:
            raise CliError(str(exc)) from None
        finally:
            if handle is not None:
                handle.close()
            sys.stdout.flush()


def _write(results: Iterable[DnsResult], out: IO[str], fmt: str, kinds: list[str], width: int) -> None:
    write = out.write
    if fmt == "jsonl":
        for result in results:
            write(as_json(result, kinds) + "\n")
    else:
        for result in results:
            write(as_text(result, kinds, width) + "\n")


def _with_bar(prober: Prober, names: Iterable[str], total: int | None, fmt: str, kinds: list[str],
              width: int, holder: list[object], skipped: list[int]) -> None:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    console = Console(stderr=True)
    holder[0] = console
    out = sys.stdout
    with Progress(TextColumn("probing"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=console, transient=True, redirect_stdout=False, redirect_stderr=False) as bar:
        task = bar.add_task("probe", total=total)
        results = prober.probe_all(
            names, kinds, progress=lambda done: bar.update(task, completed=done + skipped[0]))
        _write(results, out, fmt, kinds, width)
