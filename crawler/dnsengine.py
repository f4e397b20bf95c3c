"""The prober's transport: many queries in flight on a few connected UDP sockets.

One ``Engine`` per event loop owns the sockets (a few per nameserver, each multiplexing queries by
random 16-bit id), the retry and timeout policy, and the TCP fallback for truncated answers. It
knows nothing about names or result shapes: a ``Query`` carries an ``owner`` whose ``outcome`` method
receives the final word for that question (see crawler/dnssweep.py).

Timeouts cost one timer per engine, not one per query: every query waits the same ``timeout``, so
deadlines grow in send order and the insertion order of the queries in flight is already sorted. An
answered query leaves that order at once: a sweep of tens of thousands of names answered within the
timeout would otherwise keep every one of them (and its result) alive until its deadline passed.

A resolver that falls behind (too many questions in flight for what it answers per second) answers
late, then later still as the retries pile up on it, or drops what it cannot take. Two things keep such
a round from ending in timeouts: a try's answer that comes after its retry went out is still taken
(every id a question was sent with stays valid until the question is answered or given up), and the
window of questions in flight narrows when answers come late or only to retries and widens again as
answers come (crawler/dnswindow.py, shared with the bulk engine). While it is narrowed, a timed-out try
is waited on for another timeout rather than sent again (another copy would only lengthen the
resolver's queue), except the last, which is sent. Names that never answer (dead servers) do not
narrow it: a round full of them keeps its pace. A question is still given up after ``timeout`` ×
(``retries`` + 1).
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections import OrderedDict, deque
from typing import Any, Protocol

from crawler.dnswindow import Window
from crawler.dnswire import Question, Reply, WireError, judge, parse_reply, reply_id
from crawler.settings import Nameserver
from detect.model import Rcode

log = logging.getLogger(__name__)

_RCVBUF = 4 * 1024 * 1024


class Owner(Protocol):
    def outcome(self, query: Query, rcode: Rcode, reply: Reply | None, error: str) -> None: ...

    def pump(self) -> None: ...


class Query:
    """One question on its way: which socket and id it went out with, when it gives up, who wants it."""

    __slots__ = ("channel", "deadline", "earlier", "garbage", "owner", "qid", "question", "resend", "tag", "tries")

    def __init__(self, question: Question, owner: Owner, tag: Any) -> None:
        self.question = question
        self.owner = owner
        self.tag = tag
        self.channel: _Channel | None = None
        self.qid = 0
        self.deadline = 0.0
        self.tries = 0
        self.garbage = ""
        self.earlier: list[tuple[_Channel, int]] | None = None  # (socket, id) of tries that timed out
        self.resend = False  # timed out, waiting for room in the window to go out again

    def again(self) -> Query:
        """A fresh copy for a retry (another server, a new id, a new deadline)."""
        query = Query(self.question, self.owner, self.tag)
        query.tries, query.garbage = self.tries, self.garbage
        return query


class _Channel(asyncio.DatagramProtocol):
    """One connected UDP socket to one nameserver (the kernel drops datagrams from anyone else)."""

    def __init__(self, engine: Engine, server: Nameserver, sock: socket.socket) -> None:
        self.engine = engine
        self.server = server
        self.pending: dict[int, Query] = {}
        self.transport: asyncio.DatagramTransport | None = None
        self.sock: socket.socket | None = sock  # ours, so sends can skip the transport's bookkeeping
        self._ids = b""
        self._pos = 0

    def new_id(self) -> int:
        """A random id not in use on this socket (ids come from os.urandom in bulk)."""
        while True:
            if self._pos >= len(self._ids):
                self._ids = os.urandom(8192)
                self._pos = 0
            qid = (self._ids[self._pos] << 8) | self._ids[self._pos + 1]
            self._pos += 2
            if qid not in self.pending:
                return qid

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # the selector transport is not a subclass

    def sendto(self, data: bytes) -> None:
        """Send now with one syscall; fall back on the transport (which buffers) when the socket
        buffer is full or asyncio already has data queued."""
        transport = self.transport
        if transport is None:
            return
        if self.sock is not None and not transport.get_write_buffer_size():
            try:
                self.sock.send(data)
                return
            except (BlockingIOError, InterruptedError):
                pass
            except OSError as exc:  # e.g. ECONNREFUSED from an earlier ICMP: the query times out
                log.debug("UDP send to %s: %s", self.server, exc)
                return
        transport.sendto(data)

    def datagram_received(self, data: bytes, addr: Any) -> None:
        qid = reply_id(data)
        query = self.pending.get(qid)
        if query is None:
            return  # unsolicited, late, or a forged id: ignore and keep waiting
        try:
            reply = parse_reply(data, query.question)
        except WireError as exc:
            query.garbage = f"malformed answer: {exc}"
            return
        if reply is None:
            return  # the id matched but not the question
        # this try's answer or an earlier one's (late: the resolver lags); every id of the query is forgotten
        self.engine.answered(query, reply, late=qid != query.qid or query.channel is not self)

    def drain(self) -> None:
        """Take every answer already in the socket's buffer. asyncio reads one datagram per loop pass, and
        a pass runs the expiry timer after it: a loop held up past the timeout (a busy or starved process)
        would otherwise time out queries whose answers came in time and wait unread."""
        sock = self.sock
        while sock is not None and self.pending:
            try:
                data = sock.recv(65535)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:  # e.g. ECONNREFUSED from an earlier ICMP: left to the transport
                log.debug("UDP receive from %s: %s", self.server, exc)
                return
            self.datagram_received(data, None)
            sock = self.sock

    def error_received(self, exc: Exception) -> None:
        log.debug("UDP error from %s: %s", self.server, exc)

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        self.sock = None


class Engine:
    """Sockets, ids, retries, timeouts and TCP fallback for one event loop."""

    def __init__(self, servers: list[Nameserver], *, timeout: float, retries: int, concurrency: int,
                 sockets_per_server: int | None = None) -> None:
        if not servers:
            raise ValueError("no nameservers")
        self.servers = servers
        self.timeout = timeout
        self.retries = retries
        self.concurrency = concurrency
        self.window = Window(concurrency, timeout)  # questions allowed in flight now (crawler/dnswindow.py)
        self.waited = 0  # timed-out tries waited on again instead of sent again (the window narrowed)
        self.sockets_per_server = sockets_per_server or max(1, min(8, concurrency // 256 + 1))
        self.inflight = 0
        self.loop: asyncio.AbstractEventLoop | None = None
        self.channels: list[_Channel] = []
        self.owners: set[Any] = set()  # sweeps to pump when capacity frees up
        self._rr = 0
        self._sent: OrderedDict[Query, None] = OrderedDict()  # in flight, oldest deadline first
        # timed out, to be sent again when the window has room (still counted in ``inflight``: their
        # earlier tries may yet be answered); ``_queued`` of them not answered meanwhile
        self._resend: deque[Query] = deque()
        self._queued = 0
        self._ticker: asyncio.TimerHandle | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._tick = max(0.005, min(0.05, timeout / 10))

    async def open(self) -> None:
        self.loop = asyncio.get_running_loop()
        addresses = {}
        for server in self.servers:
            infos = await self.loop.getaddrinfo(server.host, server.port, type=socket.SOCK_DGRAM)
            addresses[server] = infos[0]
        for _ in range(self.sockets_per_server):
            for server in self.servers:
                family, kind, proto, _, address = addresses[server]
                sock = socket.socket(family, kind, proto)
                try:
                    sock.setblocking(False)
                    try:
                        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, _RCVBUF)
                    except OSError:  # pragma: no cover - capped by the kernel, harmless
                        pass
                    sock.connect(address)  # the kernel picks a random source port and filters senders
                    _, protocol = await self.loop.create_datagram_endpoint(
                        lambda s=server, k=sock: _Channel(self, s, k), sock=sock)
                except BaseException:
                    sock.close()
                    raise
                self.channels.append(protocol)

    def limit(self, concurrency: int) -> None:
        """At most ``concurrency`` questions in flight from now on (the window held under it at once)."""
        self.concurrency = concurrency
        self.window.limit(concurrency)

    def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        for channel in self.channels:
            if channel.transport is not None:
                try:
                    channel.transport.close()
                except RuntimeError:  # its loop is already closed: close the socket directly
                    if channel.sock is not None:
                        channel.sock.close()
        self.channels = []
        self._resend.clear()
        self._queued = 0
        if self._ticker is not None:
            self._ticker.cancel()
            self._ticker = None

    @property
    def room(self) -> bool:
        """Whether another question may go out now (fewer in flight than the window)."""
        return self.inflight < int(self.window.size)

    # sending ------------------------------------------------------------------------------
    def send(self, query: Query) -> None:
        """Put ``query`` on the wire (first try or a retry: the next socket, hence the next server)."""
        assert self.loop is not None, "Engine.open() was not awaited"
        channel = self.channels[self._rr % len(self.channels)]
        self._rr += 1
        qid = channel.new_id()
        query.channel, query.qid = channel, qid
        query.tries += 1
        query.deadline = self.loop.time() + self.timeout
        channel.pending[qid] = query
        self.inflight += 1
        self._sent[query] = None
        channel.sendto(query.question.query(qid))
        if self._ticker is None:
            self._ticker = self.loop.call_later(self._tick, self._expire)

    def _expire(self) -> None:
        assert self.loop is not None
        self._ticker = None
        now = self.loop.time()
        sent = self._sent
        if sent and next(iter(sent)).deadline <= now:
            for channel in self.channels:  # answers that arrived in time but are not read yet
                channel.drain()
        while sent:
            query = next(iter(sent))
            if query.deadline > now:
                break
            del sent[query]
            assert query.channel is not None
            if query.tries < self.retries and self.window.wait_on_timeouts:
                # the resolver lags (the window is narrowed): another copy of the question would only lengthen
                # its queue; this try is waited on for one more timeout instead (the last try is still sent)
                query.tries += 1
                query.deadline = now + self.timeout
                sent[query] = None  # still in flight: last in deadline order
                self.waited += 1
                continue
            if query.tries <= self.retries:
                # this try's id stays valid: a resolver that lags may still answer it, and that answer counts;
                # the question goes out again when the window has room (a burst of retries on top of the
                # window is what a resolver that drops questions drops again)
                if query.earlier is None:
                    query.earlier = []
                query.earlier.append((query.channel, query.qid))
                query.resend = True
                self._resend.append(query)
                self._queued += 1
            else:
                self.inflight -= 1
                self._forget(query)
                if query.garbage:
                    self._finish(query, Rcode.ERROR, None, query.garbage)
                else:
                    self._finish(query, Rcode.TIMEOUT, None,
                                 f"no answer after {query.tries} tries of {self.timeout:g} s")
        self._judge_period(now)
        self._send_queued()
        if sent and self._ticker is None:
            self._ticker = self.loop.call_later(self._tick, self._expire)

    def _send_queued(self) -> None:
        """Send the timed-out questions again, oldest first, while fewer than the window are on the wire."""
        resend = self._resend
        limit = int(self.window.size)
        while resend and self.inflight - self._queued < limit:
            query = resend.popleft()
            if not query.resend:
                continue  # answered (late) while it waited
            query.resend = False
            self._queued -= 1
            self.inflight -= 1  # send() counts it again
            self.send(query)

    def _judge_period(self, now: float) -> None:
        """Once every half ``timeout``: the window halved when the resolver lags (crawler/dnswindow.py)."""
        halved = self.window.judge(now)
        if halved is not None:
            signs, answers, before = halved
            log.info("DNS: %d of %d answers came after their %g s timeout or only to a retry: %d questions in "
                     "flight at most (was %d)", signs, answers, self.timeout, int(self.window.size), int(before))

    def _forget(self, query: Query) -> None:
        """Every id ``query`` went out with, released (answered, or given up)."""
        if query.channel is not None:
            query.channel.pending.pop(query.qid, None)
        if query.earlier:
            for channel, qid in query.earlier:
                channel.pending.pop(qid, None)
            query.earlier = None

    # answers ------------------------------------------------------------------------------
    def answered(self, query: Query, reply: Reply, *, late: bool = False) -> None:
        if query.resend:  # an earlier try's answer while the question waited to go out again
            query.resend = False
            self._queued -= 1
            late = True
        self._sent.pop(query, None)
        timed_out = query.earlier is not None  # an earlier try timed out and was sent again
        self._forget(query)
        self.inflight -= 1
        self.window.answered(late=late, retried=timed_out)
        if self._resend:
            self._send_queued()
        if reply.truncated:
            self.inflight += 1
            assert query.channel is not None
            task = asyncio.ensure_future(self._tcp(query, query.channel.server))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
            return
        outcome = judge(reply.rcode, query.channel.server if query.channel else "?",
                        may_retry=len(self.servers) > 1 and query.tries <= self.retries)
        if outcome is None:
            self.send(query.again())
        else:
            self._finish(query, outcome[0], None if outcome[0] is Rcode.ERROR else reply, outcome[1])

    async def _tcp(self, query: Query, server: Nameserver) -> None:
        """The truncated answer's question again over TCP (RFC 7766 length-prefixed framing)."""
        writer = None
        try:
            async with asyncio.timeout(self.timeout):
                reader, writer = await asyncio.open_connection(server.host, server.port)
                wire = query.question.query(int.from_bytes(os.urandom(2), "big"))
                writer.write(len(wire).to_bytes(2, "big") + wire)
                size = int.from_bytes(await reader.readexactly(2), "big")
                data = await reader.readexactly(size)
            reply = parse_reply(data, query.question)
            if reply is None or reply_id(data) != reply_id(wire):
                raise WireError("TCP answer does not match the question")
        except TimeoutError:
            self.inflight -= 1
            self._finish(query, Rcode.TIMEOUT, None, f"no TCP answer from {server} in {self.timeout:g} s")
            return
        except (OSError, EOFError, WireError, asyncio.IncompleteReadError) as exc:
            self.inflight -= 1
            self._finish(query, Rcode.ERROR, None, f"TCP to {server}: {exc or type(exc).__name__}")
            return
        finally:
            if writer is not None:
                writer.close()
        if reply.truncated:
            self.inflight -= 1
            self._finish(query, Rcode.ERROR, None, "truncated answer over TCP")
        else:
            self.answered(query, reply)

    def _finish(self, query: Query, rcode: Rcode, reply: Reply | None, error: str) -> None:
        query.owner.outcome(query, rcode, reply, error)
        if self.room and len(self.owners) > 1:
            for owner in list(self.owners):
                owner.pump()
