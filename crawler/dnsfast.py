"""The synchronous bulk sweep: names in, one row per name out, no event loop.

Same questions and the same outcomes as the asyncio path (crawler/dnssweep.py over
crawler/dnsengine.py), built for one job, a big sweep from a script or the CLI: a few connected,
non-blocking UDP sockets, a window of at most ``concurrency`` questions in flight, each socket's
``pending`` table (id -> question, in send order, which is also deadline order: every question waits
the same timeout) serving both the answer lookup and the timeout queue. Per name the first record
type is asked alone; NXDOMAIN or a failure there ends the name with one query (most names of a
lookalike sweep do not exist), otherwise the other types follow, ahead of new names, so the pipe
stays full across types and names. A dead name costs one small question object and an output row;
only a live name gets a record collector. Truncated answers are asked again over TCP, in line
(blocking, bounded by the timeout): they are rare, and a bulk sweep's result does not depend on it.

A resolver that falls behind is handled as in crawler/dnsengine.py: the id of a try that timed out stays
valid (in ``stale``) until its question is answered or given up, so a late answer counts; the window of
questions in flight narrows when answers come late or only to retries and widens as answers come
(crawler/dnswindow.py, shared with the asyncio engine); while it is narrowed a timed-out try (but the
last) is waited on, not sent again. Names that never answer do not narrow it.
"""

from __future__ import annotations

import os
import select
import socket
import time
from collections import OrderedDict, deque
from collections.abc import Iterator
from typing import Any

from crawler.dnswindow import Window
from crawler.dnswire import (
    RCODE_NOERROR,
    RCODE_NXDOMAIN,
    RCODES,
    Question,
    Reply,
    WireError,
    judge,
    normalise,
    parse_reply,
    reply_id,
)
from crawler.settings import Nameserver
from detect.model import Rcode

_RCVBUF = 4 * 1024 * 1024
_SNDBUF = 1024 * 1024
_TICK = 0.05  # longest wait before the output is flushed and deadlines are looked at
_MAX_ANSWER = 65535


_NXDOMAIN = Reply(RCODE_NXDOMAIN, False)
_NODATA = Reply(RCODE_NOERROR, False)

# name, rcode, records (type -> values, in asked order), error: what a DnsResult is built from
Row = tuple[str, Rcode, dict[str, tuple[str, ...]], str]


class _Live:
    """The answers gathered so far for a name whose first type did not end it."""

    __slots__ = ("cnames", "errors", "name", "records", "waiting")

    def __init__(self, name: str) -> None:
        self.name = name
        self.records: dict[str, tuple[str, ...]] = {}
        self.cnames: list[str] = []
        self.errors: list[str] = []
        self.waiting = 0


class _Ask:
    """One question on its way. ``live`` is None for a name's first question."""

    __slots__ = ("deadline", "garbage", "index", "live", "name", "qid", "qname", "question", "resend", "sock", "stale",
                 "tries")

    def __init__(self, name: str, qname: bytes, index: int, live: _Live | None) -> None:
        self.name = name
        self.qname = qname
        self.index = index
        self.live = live
        self.question: Question | None = None  # built when first needed (parsing a record, TCP)
        self.tries = 0
        self.deadline = 0.0
        self.qid = 0
        self.sock = 0
        self.garbage = ""
        self.stale: list[tuple[int, int]] | None = None  # (socket, id) of its tries that timed out
        self.resend = False  # timed out, waiting for room in the window to go out again


class FastSweep:
    """One synchronous sweep over ``servers``; ``rows`` yields lists of finished rows."""

    def __init__(self, servers: list[Nameserver], types: list[tuple[str, int]], *, timeout: float,
                 retries: int, concurrency: int, sockets_per_server: int = 1) -> None:
        if not servers:
            raise ValueError("no nameservers")
        self.servers = servers
        self.types = types
        self.timeout = timeout
        self.retries = retries
        self.concurrency = max(1, concurrency)
        self.window = Window(self.concurrency, timeout)  # questions allowed in flight now (crawler/dnswindow.py)
        self.sockets_per_server = sockets_per_server
        self.socks: list[socket.socket] = []
        self.owners: list[Nameserver] = []  # the server of each socket
        self.pending: list[OrderedDict[int, _Ask]] = []
        self.stale: list[dict[int, _Ask]] = []  # per socket: ids of timed-out tries whose question still waits
        self.inflight = 0
        # timed out, to be sent again when the window has room (still counted in ``inflight``);
        # ``queued`` of them not answered meanwhile
        self._resend: deque[_Ask] = deque()
        self.queued = 0
        self.out: list[Row] = []
        self._rr = 0
        self._ids = b""
        self._pos = 0
        # the wire of each asked type's question minus the id, around the qname
        self._head = Question(b"\x00", 1).body[:10]
        self._tails = [Question(b"\x00", rdtype).body[11:] for _, rdtype in types]
        self._typeclass = [tail[:4] for tail in self._tails]
        self._followups: deque[_Ask] = deque()

    # sockets --------------------------------------------------------------------------------
    def open(self) -> None:
        for _ in range(self.sockets_per_server):
            for server in self.servers:
                family, kind, proto, _, address = socket.getaddrinfo(server.host, server.port,
                                                                     type=socket.SOCK_DGRAM)[0]
                sock = socket.socket(family, kind, proto)
                try:
                    sock.setblocking(False)
                    for option, size in ((socket.SO_RCVBUF, _RCVBUF), (socket.SO_SNDBUF, _SNDBUF)):
                        try:
                            sock.setsockopt(socket.SOL_SOCKET, option, size)
                        except OSError:  # pragma: no cover - capped by the kernel, harmless
                            pass
                    sock.connect(address)  # a random source port; the kernel drops other senders
                except BaseException:
                    sock.close()
                    raise
                self.socks.append(sock)
                self.owners.append(server)
                self.pending.append(OrderedDict())
                self.stale.append({})

    def close(self) -> None:
        for sock in self.socks:
            sock.close()
        self.socks = []

    def _new_id(self, pending: OrderedDict[int, _Ask], stale: dict[int, _Ask]) -> int:
        while True:
            if self._pos >= len(self._ids):
                self._ids = os.urandom(8192)
                self._pos = 0
            qid = (self._ids[self._pos] << 8) | self._ids[self._pos + 1]
            self._pos += 2
            if qid not in pending and qid not in stale:
                return qid

    def _send(self, ask: _Ask, now: float) -> None:
        """Put ``ask`` on the wire (a first try or a retry: the next socket, hence the next server)."""
        i = self._rr % len(self.socks)
        self._rr += 1
        pending = self.pending[i]
        qid = self._new_id(pending, self.stale[i])
        ask.sock, ask.qid = i, qid
        ask.tries += 1
        ask.deadline = now + self.timeout
        pending[qid] = ask
        self.inflight += 1
        try:
            self.socks[i].send(qid.to_bytes(2, "big") + self._head + ask.qname + self._tails[ask.index])
        except (BlockingIOError, InterruptedError):
            pass  # the send buffer is full: the question times out and is asked again
        except OSError:
            pass  # e.g. ECONNREFUSED from an earlier ICMP: the same

    # the sweep ------------------------------------------------------------------------------
    def rows(self, names: Iterator[str], batch: int = 512) -> Iterator[list[Row]]:
        """Lists of finished rows, in completion order, until ``names`` is exhausted and answered."""
        if not self.socks:
            self.open()
        followups = self._followups
        pending = self.pending
        socks = self.socks
        out = self.out
        source: Iterator[str] | None = names
        next_expiry = time.monotonic() + _TICK
        receive = self._receive
        send = self._send
        window = self.window
        resend = self._resend
        while True:
            now = time.monotonic()
            while resend and self.inflight - self.queued < window.size:  # timed-out questions first
                ask = resend.popleft()
                if ask.resend:  # else answered (late) while it waited
                    ask.resend = False
                    self.queued -= 1
                    self.inflight -= 1  # _send counts it again
                    send(ask, now)
            while self.inflight < window.size:
                if followups:
                    send(followups.popleft(), now)
                    continue
                if source is None:
                    break
                try:
                    raw = next(source)
                except StopIteration:
                    source = None
                    break
                try:
                    name, qname = normalise(raw)
                except WireError as exc:
                    out.append((raw.strip(), Rcode.ERROR, {}, str(exc)))
                    continue
                send(_Ask(name, qname, 0, None), now)
            if not self.inflight and not followups:
                if out:
                    yield out
                    self.out = out = []
                return
            got = receive()
            if not got:
                if len(out) >= 1:
                    yield out
                    self.out = out = []
                wait = _TICK
                for table in pending:
                    if table:
                        wait = min(wait, next(iter(table.values())).deadline - time.monotonic())
                select.select(socks, [], [], max(0.0, wait))
                receive()
            if len(out) >= batch:
                yield out
                self.out = out = []
            now = time.monotonic()
            if now >= next_expiry:
                self._expire(now)
                next_expiry = now + _TICK

    def _receive(self) -> int:
        """Read every datagram waiting on every socket; the number read."""
        got = 0
        typeclass = self._typeclass
        window = self.window
        for i, sock in enumerate(self.socks):
            pending = self.pending[i]
            stale = self.stale[i]
            recv = sock.recv
            while True:
                try:
                    data = recv(_MAX_ANSWER)
                except (BlockingIOError, InterruptedError):
                    break
                except OSError:  # ICMP unreachable reported on a connected socket: questions time out
                    continue
                got += 1
                if len(data) < 12:
                    continue
                ask = pending.get((data[0] << 8) | data[1])
                if ask is None:
                    ask = stale.get((data[0] << 8) | data[1]) if stale else None
                    if ask is not None:  # an earlier try's answer, late: the resolver lags
                        self._answer(ask, data, late=True)
                    continue  # else unsolicited, given up on, or a forged id: ignore and keep waiting
                # The common answers need no parser: a response (QR, query opcode, not truncated) that
                # echoes the question as sent and says NXDOMAIN (a dead name's only question) or
                # NOERROR with an empty answer section (a type a live name does not have).
                qlen = len(ask.qname)
                rcode = data[3] & 0x0F
                if (data[2] & 0xFA == 0x80 and data[4:6] == b"\x00\x01"
                        and (rcode == RCODE_NXDOMAIN or (rcode == RCODE_NOERROR and data[6:8] == b"\x00\x00"))
                        and data[12:12 + qlen] == ask.qname and data[12 + qlen:16 + qlen] == typeclass[ask.index]):
                    del pending[ask.qid]
                    self.inflight -= 1
                    if ask.stale is not None:  # an earlier try timed out and was sent again
                        self._drop_stale(ask)
                        window.answered(retried=True)
                    else:
                        window.answered()
                    if ask.live is None and rcode == RCODE_NXDOMAIN:
                        self.out.append((ask.name, Rcode.NXDOMAIN, {}, ""))
                    else:
                        self._outcome(ask, RCODES[rcode], _NXDOMAIN if rcode else _NODATA, "")
                    continue
                self._answer(ask, data)
        return got

    def _question(self, ask: _Ask) -> Question:
        if ask.question is None:
            ask.question = Question(ask.qname, self.types[ask.index][1])
        return ask.question

    def _answer(self, ask: _Ask, data: bytes, *, late: bool = False) -> None:
        try:
            reply = parse_reply(data, self._question(ask))
        except WireError as exc:
            ask.garbage = f"malformed answer: {exc}"
            return
        if reply is None:
            return  # the id matched but not the question
        if ask.resend:  # an earlier try's answer while the question waited to go out again
            ask.resend = False
            self.queued -= 1
        else:
            del self.pending[ask.sock][ask.qid]
        timed_out = ask.stale is not None  # an earlier try timed out and was sent again
        if timed_out:
            self._drop_stale(ask)
        self.inflight -= 1
        self.window.answered(late=late, retried=timed_out)
        self._answered(ask, reply)

    def _drop_stale(self, ask: _Ask) -> None:
        """The ids of ``ask``'s timed-out tries, released (it is answered or given up)."""
        for sock, qid in ask.stale or ():
            self.stale[sock].pop(qid, None)
        ask.stale = None

    def _answered(self, ask: _Ask, reply: Reply) -> None:
        if reply.truncated:
            self._tcp(ask)
            return
        outcome = judge(reply.rcode, self.owners[ask.sock], may_retry=len(self.servers) > 1 and ask.tries <= self.retries)
        if outcome is None:
            retry = _Ask(ask.name, ask.qname, ask.index, ask.live)
            retry.tries, retry.garbage, retry.question = ask.tries, ask.garbage, ask.question
            self._send(retry, time.monotonic())
        else:
            self._outcome(ask, outcome[0], None if outcome[0] is Rcode.ERROR else reply, outcome[1])

    def _expire(self, now: float) -> None:
        self.window.judge(now)
        narrowed = self.window.wait_on_timeouts
        for table in self.pending:
            while table:
                ask = next(iter(table.values()))
                if ask.deadline > now:
                    break
                del table[ask.qid]
                if narrowed and ask.tries < self.retries:
                    # the resolver lags: wait on this try one more timeout instead of lengthening its queue
                    ask.tries += 1
                    ask.deadline = now + self.timeout
                    table[ask.qid] = ask  # last in send order, and so in deadline order
                    continue
                if ask.tries <= self.retries:
                    self.stale[ask.sock][ask.qid] = ask  # its answer still counts if it comes late
                    if ask.stale is None:
                        ask.stale = []
                    ask.stale.append((ask.sock, ask.qid))
                    # sent again when the window has room (rows()), not in a burst on top of it
                    ask.resend = True
                    self._resend.append(ask)
                    self.queued += 1
                    continue
                self.inflight -= 1
                self._drop_stale(ask)
                if ask.garbage:
                    self._outcome(ask, Rcode.ERROR, None, ask.garbage)
                else:
                    self._outcome(ask, Rcode.TIMEOUT, None,
                                  f"no answer after {ask.tries} tries of {self.timeout:g} s")

    def _tcp(self, ask: _Ask) -> None:
        """The truncated answer's question again over TCP (RFC 7766 framing), in line."""
        server = self.owners[ask.sock]
        question = self._question(ask)
        wire = question.query(int.from_bytes(os.urandom(2), "big"))
        deadline = time.monotonic() + self.timeout
        try:
            with socket.create_connection((server.host, server.port), timeout=self.timeout) as conn:
                conn.sendall(len(wire).to_bytes(2, "big") + wire)
                size = int.from_bytes(_read_exactly(conn, 2, deadline), "big")
                data = _read_exactly(conn, size, deadline)
            reply = parse_reply(data, question)
            if reply is None or reply_id(data) != reply_id(wire):
                raise WireError("TCP answer does not match the question")
        except TimeoutError:
            self._outcome(ask, Rcode.TIMEOUT, None, f"no TCP answer from {server} in {self.timeout:g} s")
            return
        except (OSError, EOFError, WireError) as exc:
            self._outcome(ask, Rcode.ERROR, None, f"TCP to {server}: {exc or type(exc).__name__}")
            return
        if reply.truncated:
            self._outcome(ask, Rcode.ERROR, None, "truncated answer over TCP")
        else:
            self._answered(ask, reply)

    # per name -------------------------------------------------------------------------------
    def _outcome(self, ask: _Ask, rcode: Rcode, reply: Reply | None, error: str) -> None:
        """The final word on one question; a name's row once its last question is answered."""
        rtype = self.types[ask.index][0]
        live = ask.live
        if live is None:  # the name's first question
            if reply is None or rcode is not Rcode.NOERROR:
                self.out.append((ask.name, rcode, {}, f"{rtype}: {error}" if error else ""))
                return
            live = _Live(ask.name)
            live.waiting = len(self.types) - 1
            for i in range(1, len(self.types)):
                self._followups.append(_Ask(ask.name, ask.qname, i, live))
        else:
            live.waiting -= 1
        if reply is not None and rcode is Rcode.NOERROR:
            live.records[rtype] = reply.records
            if reply.cname and reply.cname not in live.cnames:
                live.cnames.append(reply.cname)
        elif rcode is not Rcode.NXDOMAIN:
            live.errors.append(f"{rtype}: {error or rcode.value}")
        if live.waiting == 0:
            self.out.append(_row(live, self.types))


def _row(live: _Live, types: list[tuple[str, int]]) -> Row:
    records = {text: live.records[text] for text, _ in types if text in live.records}
    if live.cnames:
        records["CNAME"] = tuple(dict.fromkeys((*records.get("CNAME", ()), *live.cnames)))
    rcode = Rcode.NOERROR if any(records.values()) else Rcode.NOANSWER
    return (live.name, rcode, records, "; ".join(live.errors))


def _read_exactly(conn: socket.socket, size: int, deadline: float) -> bytes:
    data = b""
    while len(data) < size:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError
        conn.settimeout(left)
        chunk = conn.recv(size - len(data))
        if not chunk:
            raise EOFError("connection closed")
        data += chunk
    return data


def sweep(servers: list[Nameserver], types: list[tuple[str, int]], names: Iterator[str], *, timeout: float,
          retries: int, concurrency: int, **options: Any) -> Iterator[list[Row]]:
    """Rows of ``names`` in batches, completion order; the sockets are closed when it ends or is dropped."""
    engine = FastSweep(servers, types, timeout=timeout, retries=retries, concurrency=concurrency, **options)
    engine.open()
    try:
        yield from engine.rows(names)
    finally:
        engine.close()
