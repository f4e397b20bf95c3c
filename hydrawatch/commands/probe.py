"""`hydrawatch probe DOMAIN… | --file FILE`: bulk DNS check, one result per name, nothing stored."""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Annotated

import typer

from detect.model import RECORD_TYPES, DnsResult, Rcode
from detect.names import InvalidDomain, strip_to_host
from detect.textsafe import json_dumps
from hydrawatch.context import CliError, state
from hydrawatch.render import terminal_safe

if TYPE_CHECKING:
    from rich.console import Console

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
    return json_row(result.name, result.rcode, result.records, result.error, types)


def json_row(name: str, rcode: Rcode, records: dict[str, tuple[str, ...]], error: str, types: list[str]) -> str:
    """as_json from a result's parts (the sweep's rows, with no DnsResult built per name)."""
    if not records and not error and _PLAIN.fullmatch(name):
        # the common dead name: no escaping needed, skip the encoder
        empty = "".join(f', "{t}": []' for t in types)
        return f'{{"name": "{name}", "rcode": "{rcode.value}"{empty}, "error": ""}}'
    item: dict[str, object] = {"name": name, "rcode": rcode.value}
    for rtype in types:
        item[rtype] = list(records.get(rtype, ()))
    for rtype, values in records.items():
        if rtype not in item:
            item[rtype] = list(values)
    item["error"] = error
    return json_dumps(item, indent=None)  # plain strings and lists already: render.dumps's conversion not needed


def as_text(result: DnsResult, types: list[str], width: int) -> str:
    return text_row(result.name, result.rcode, result.records, result.error, types, width)


def text_row(name: str, rcode: Rcode, records: dict[str, tuple[str, ...]], error: str, types: list[str],
             width: int) -> str:
    """as_text from a result's parts."""
    parts = [f"{name:<{width}}", f"{rcode.value:<8}"]
    for rtype in [*types, *(t for t in records if t not in types)]:
        values = records.get(rtype, ())
        if values:
            parts.append(f"{rtype}=" + ",".join(terminal_safe(v, 200) for v in values))
    if error:
        parts.append(f"error={terminal_safe(error, 200)!r}")
    return " ".join(parts).rstrip()


def line_renderer(fmt: str, types: list[str], width: int) -> Callable[[str, Rcode, dict[str, tuple[str, ...]], str], str]:
    """A sweep row to its output line (newline included), the same text as as_json / as_text. Dead
    names (no records, no error, a plain name: nearly every line of a lookalike sweep) take a
    precomputed template."""
    if fmt == "jsonl":
        empty = "".join(f', "{t}": []' for t in types) + ', "error": ""}\n'

        def jsonl(name: str, rcode: Rcode, records: dict[str, tuple[str, ...]], error: str) -> str:
            if not records and not error and _PLAIN.fullmatch(name):
                return f'{{"name": "{name}", "rcode": "{rcode.value}"{empty}'
            return json_row(name, rcode, records, error, types) + "\n"

        return jsonl

    def text(name: str, rcode: Rcode, records: dict[str, tuple[str, ...]], error: str) -> str:
        if not records and not error:
            return f"{name:<{width}} {rcode.value}\n"
        return text_row(name, rcode, records, error, types, width) + "\n"

    return text


class _Skipped:
    """Reports a skipped input line and counts it: on stderr, or above the progress bar once one is
    drawn (the bar's count includes the skipped lines, so it reaches the total)."""

    def __init__(self) -> None:
        self.count = 0
        self.console: Console | None = None

    def __call__(self, line: str) -> None:
        self.count += 1
        if self.console is not None:
            self.console.print(line, markup=False, highlight=False)
        else:
            print(line, file=sys.stderr)


@dataclass
class _Input:
    """The names to probe, how many there are when known (for the bar), the text column's width, and
    the file to close afterwards."""

    names: Iterable[str]
    total: int | None
    width: int
    handle: IO[str] | None = None


def _record_types(fmt: str, domains: list[str] | None, file: str | None, types: str) -> list[str]:
    """The checked record types; CliError (exit 2) for a bad option."""
    from crawler.dns import ProberError, check_types

    if fmt not in ("text", "jsonl"):
        raise CliError(f"--format must be text or jsonl, not {fmt!r}", 2)
    if not domains and not file:
        raise CliError("give DOMAIN… or --file FILE", 2)
    try:
        return [text for text, _ in check_types([t for t in types.split(",") if t.strip()])]
    except ProberError as exc:
        raise CliError(f"--types: {exc}", 2) from None


def _open_input(domains: list[str] | None, file: str | None, report: _Skipped) -> _Input:
    """Names from the arguments, stdin (``-``) or a file, normalised lazily; bad ones are reported."""
    if not file:
        names = list(_arguments(domains or [], report))
        return _Input(names, len(names), max((len(n) for n in names), default=0))
    if file == "-":
        return _Input(_lines(sys.stdin, "stdin", report), None, 32)
    path = Path(file)
    total: int | None = None
    try:
        if sys.stderr.isatty():  # the bar's total; not worth a second read otherwise
            with path.open(encoding="utf-8", errors="replace") as counting:
                total = sum(1 for line in counting if line.split("#", 1)[0].strip())
        handle = path.open(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise CliError(f"{file}: {exc.strerror or exc}") from None
    return _Input(_lines(handle, file, report), total, 32, handle)


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
        from crawler.dns import Prober, ProberError

        kinds = _record_types(fmt, domains, file, types)
        prober = Prober.from_settings(state(ctx).config.dns)
        report = _Skipped()
        given = _open_input(domains, file, report)
        try:
            if sys.stderr.isatty() and (given.total is None or given.total >= PROGRESS_MIN):
                _with_bar(prober, given, fmt, kinds, report)
            else:
                _write(prober, given, sys.stdout, fmt, kinds)
        except ProberError as exc:
            raise CliError(str(exc)) from None
        finally:
            if given.handle is not None:
                given.handle.close()
            sys.stdout.flush()


def _write(prober: Prober, given: _Input, out: IO[str], fmt: str, kinds: list[str],
           progress: Callable[[int], None] | None = None) -> None:
    write = out.write
    for text in prober.probe_text(given.names, kinds, line_renderer(fmt, kinds, given.width), progress=progress):
        write(text)


def _with_bar(prober: Prober, given: _Input, fmt: str, kinds: list[str], report: _Skipped) -> None:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    console = Console(stderr=True)
    report.console = console
    out = sys.stdout
    with Progress(TextColumn("probing"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=console, transient=True, redirect_stdout=False, redirect_stderr=False) as bar:
        task = bar.add_task("probe", total=given.total)
        _write(prober, given, out, fmt, kinds,
               progress=lambda done: bar.update(task, completed=done + report.count))
