"""`hydrawatch alerts list|retry|send`: the alert queues (clone and takedown mails) by hand.

After SMTP was misconfigured for days, alerts that used up `[alerts] max_attempts` are `failed` and
stay in the store; `retry` gives them a fresh round and `send` delivers what is due now (when no
daemon runs: the daemon delivers every `schedule.alert_interval` itself).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from hydrawatch.commands.views_common import check_format
from hydrawatch.context import CliError, state
from hydrawatch.render import dumps, iso, terminal_safe

if TYPE_CHECKING:
    from storage import outbox

STATES = ("pending", "sending", "sent", "failed")


def _parse_ref(ref: str) -> tuple[outbox.Queue, int]:
    from storage import outbox

    kind, _, number = ref.partition(":")
    if kind not in tuple(outbox.Queue) or not number.isdigit():
        raise CliError(f"{terminal_safe(ref, 40)!s}: expected clone:ID or takedown:ID (see `hydrawatch alerts list`)", 2)
    return outbox.Queue(kind), int(number)


def register(app: typer.Typer) -> None:
    alerts = typer.Typer(help="The alert queues: list them, retry failed alerts, send what is due.",
                         no_args_is_help=True)
    app.add_typer(alerts, name="alerts")

    @alerts.command("list")
    def list_(ctx: typer.Context,
              only: Annotated[str, typer.Option("--state", help="pending, sending, sent or failed")] = "",
              fmt: Annotated[str, typer.Option("--format", help="text or json")] = "text") -> None:
        """Every queued alert, oldest first, with its state, attempts and last error."""
        from hydrawatch.wiring import open_store
        from storage import outbox

        check_format(fmt, ("text", "json"))
        if only and only not in STATES:
            raise CliError(f"--state must be one of {', '.join(STATES)}, not {terminal_safe(only, 20)!r}", 2)
        with open_store(state(ctx).config) as store, store.transaction() as session:
            rows = outbox.queued(session, state=only or None)
        if fmt == "json":
            typer.echo(dumps([{"ref": f"{a.kind}:{a.id}", "kind": a.kind, "state": a.state, "attempts": a.attempts,
                               "about": a.about, "detail": a.detail, "created_at": iso(a.created_at),
                               "sent_at": iso(a.sent_at), "last_error": a.last_error} for a in rows]))
            return
        table = Table("ref", "state", "attempts", "about", "detail", "queued", "last error",
                      title=f"{len(rows)} alerts")
        for a in rows:
            table.add_row(f"{a.kind}:{a.id}", a.state, str(a.attempts), Text(a.about), Text(terminal_safe(a.detail, 60)),
                          iso(a.created_at) or "", Text(terminal_safe(a.last_error, 80)))
        Console(highlight=False).print(table)

    @alerts.command("retry")
    def retry(ctx: typer.Context,
              refs: Annotated[list[str] | None, typer.Argument(help="clone:ID or takedown:ID (default: every failed alert)")]
              = None) -> None:
        """Give failed alerts a fresh round of delivery attempts (the next delivery sends them)."""
        from hydrawatch.wiring import open_store, utcnow
        from storage import outbox

        wanted: dict[outbox.Queue, list[int]] = {}
        for kind, number in (_parse_ref(r) for r in refs or ()):
            wanted.setdefault(kind, []).append(number)
        now = utcnow()
        with open_store(state(ctx).config) as store, store.transaction() as session:
            count = sum(outbox.retry(session, queue, wanted.get(queue) if refs else None, now=now)
                        for queue in outbox.Queue if not refs or queue in wanted)
        Console(stderr=True, highlight=False).print(f"{count} failed alert(s) queued again", markup=False)

    @alerts.command("send")
    def send(ctx: typer.Context) -> None:
        """Deliver the alerts due now, once (not while a daemon runs on this store: it does this itself)."""
        from hydrawatch.wiring import open_store, utcnow
        from scheduler.deliver import deliver
        from storage.lock import AlreadyRunning, StoreLock

        cfg = state(ctx).config
        with open_store(cfg) as store:
            lock = StoreLock(store.engine)
            try:
                lock.acquire()
            except AlreadyRunning as exc:
                raise CliError(f"{exc}; the running daemon delivers alerts itself", 3) from None
            try:
                report = deliver(store, cfg.alerts, now=utcnow())
            finally:
                lock.release()
        if report.skipped:
            raise CliError(report.skipped)
        Console(stderr=True, highlight=False).print(f"sent {report.sent}, failed {report.failed}", markup=False)
        if report.failed:
            raise typer.Exit(1)
