"""The synchronous bulk path: the synchronous engine in this process (the default), or, when asked for
(``workers`` > 1), asyncio worker processes.

One process is the default whatever the input's size: crawler/dnsfast.py keeps hundreds of questions
in flight on one core, and on a small machine the resolver needs the other (bench/RESULTS.md). Each worker runs its own event loop, sockets and Engine, reads chunks of names from a pipe and
sends results back in batches. A feeder thread in the parent hands out chunks with credit-based flow
control (bounded memory for any input size), so the parent's main thread only receives results.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import multiprocessing
import pickle
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime
from multiprocessing.connection import Connection, wait
from typing import TYPE_CHECKING

from crawler import dnsfast
from crawler.dnsengine import Engine, Nameserver
from crawler.dnssweep import Sweep
from crawler.dnstypes import check_types
from detect.model import DnsResult, Rcode

if TYPE_CHECKING:
    from crawler.dns import Prober

log = logging.getLogger(__name__)

CHUNK = 512
BATCH = 256

_Row = tuple[str, str, dict[str, tuple[str, ...]], str]


def probe_all(prober: Prober, names: Iterable[str], types: Sequence[str], *, workers: int | None,
              progress: Callable[[int], None] | None, observed_at: datetime | None) -> Iterator[DnsResult]:
    kinds = check_types(types)
    if not workers or workers <= 1:
        return _in_process(prober, iter(names), kinds, progress, observed_at)
    return _in_workers(prober, iter(names), kinds, workers, progress, observed_at)


def _in_process(prober: Prober, names: Iterator[str], kinds: list[tuple[str, int]],
                progress: Callable[[int], None] | None, observed_at: datetime | None) -> Iterator[DnsResult]:
    """The synchronous engine (crawler/dnsfast.py) in this process: no event loop, no workers."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        pass
    else:
        raise RuntimeError("probe_all() is synchronous: inside a running loop use `async for … in probe()`")
    done = 0
    for rows in dnsfast.sweep(prober.nameservers, kinds, names, timeout=prober.timeout, retries=prober.retries,
                              concurrency=prober.concurrency):
        for name, rcode, records, error in rows:
            yield DnsResult(name, rcode, records, error, observed_at)
        done += len(rows)
        if progress is not None:
            progress(done)


# worker processes ------------------------------------------------------------------------------
def _context() -> multiprocessing.context.BaseContext:
    """fork when it is safe (no other threads: a single-threaded CLI), else spawn. Forked workers
    start in milliseconds; spawned ones re-import the program first."""
    if "fork" in multiprocessing.get_all_start_methods() and threading.active_count() == 1:
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context("spawn")


def _in_workers(prober: Prober, names: Iterator[str], kinds: list[tuple[str, int]], workers: int,
                progress: Callable[[int], None] | None, observed_at: datetime | None) -> Iterator[DnsResult]:
    ctx = _context()
    per_worker = max(1, prober.concurrency // workers)
    settings = (prober.nameservers, prober.timeout, prober.retries, per_worker, kinds)
    procs, inputs, outputs = [], [], []
    for _ in range(workers):
        in_recv, in_send = ctx.Pipe(duplex=False)
        out_recv, out_send = ctx.Pipe(duplex=False)
        proc = ctx.Process(target=_worker, args=(settings, in_recv, out_send), daemon=True)
        proc.start()
        in_recv.close()
        out_send.close()
        procs.append(proc)
        inputs.append(in_send)
        outputs.append(out_recv)
    window = max(CHUNK * 4, per_worker * 8) // CHUNK  # chunks a worker may hold
    credits = [window] * workers
    room = threading.Condition()
    failure: list[BaseException] = []
    stop = threading.Event()

    def feed() -> None:
        try:
            while not stop.is_set():
                chunk = list(itertools.islice(names, CHUNK))
                if not chunk:
                    break
                with room:
                    while not stop.is_set() and max(credits) <= 0:
                        room.wait(0.1)
                    i = max(range(workers), key=credits.__getitem__)  # the worker with most room
                    credits[i] -= 1
                inputs[i].send_bytes(pickle.dumps(chunk, pickle.HIGHEST_PROTOCOL))
        except BaseException as exc:  # noqa: BLE001 - the caller's iterator failed, or a worker died
            failure.append(exc)
        finally:
            for conn in inputs:
                try:
                    conn.send_bytes(b"")
                except OSError:
                    pass

    feeder = threading.Thread(target=feed, name="dns-feeder", daemon=True)
    feeder.start()
    counts = [0] * workers
    done = 0
    live = dict(enumerate(outputs))
    try:
        while live:
            for conn in wait(list(live.values())):
                i = outputs.index(conn)  # type: ignore[arg-type]
                try:
                    data = conn.recv_bytes()  # type: ignore[union-attr]
                except EOFError:
                    raise RuntimeError("a DNS worker process died") from None
                if not data:
                    del live[i]
                    continue
                rows: list[_Row] = pickle.loads(data)
                for name, rcode, records, error in rows:
                    yield DnsResult(name, Rcode(rcode), records, error, observed_at)
                done += len(rows)
                counts[i] += len(rows)
                if counts[i] >= CHUNK:
                    with room:
                        credits[i] += counts[i] // CHUNK
                        counts[i] %= CHUNK
                        room.notify()
                if progress is not None:
                    progress(done)
        if failure:
            raise failure[0]
    finally:
        stop.set()
        feeder.join(timeout=5)
        for proc in procs:
            proc.join(timeout=2)
            if proc.is_alive():
                proc.terminate()
        for conn in (*inputs, *outputs):
            conn.close()


def _worker(settings: tuple[list[Nameserver], float, int, int, list[tuple[str, int]]],
            inbox: Connection, outbox: Connection) -> None:
    servers, timeout, retries, concurrency, kinds = settings
    asyncio.run(_work(Engine(servers, timeout=timeout, retries=retries, concurrency=concurrency),
                      kinds, inbox, outbox))


async def _work(engine: Engine, kinds: list[tuple[str, int]], inbox: Connection, outbox: Connection) -> None:
    loop = asyncio.get_running_loop()
    await engine.open()
    finished = loop.create_future()
    rows: list[_Row] = []

    def flush() -> None:
        if rows:
            outbox.send_bytes(pickle.dumps(rows, pickle.HIGHEST_PROTOCOL))
            rows.clear()

    def on_result(result: DnsResult) -> None:
        rows.append((result.name, result.rcode.value, result.records, result.error))
        if len(rows) >= BATCH:
            flush()

    sweep = Sweep(engine, kinds, on_result)
    engine.owners.add(sweep)
    sweep.on_finished = lambda: finished.done() or finished.set_result(None)

    def readable() -> None:
        try:
            data = inbox.recv_bytes()
        except EOFError:
            data = b""
        if data:
            sweep.buffer.extend(pickle.loads(data))
        else:
            loop.remove_reader(inbox.fileno())
            sweep.input_done = True
        sweep.pump()

    def tick() -> None:
        flush()
        if not finished.done():
            loop.call_later(0.05, tick)

    loop.add_reader(inbox.fileno(), readable)
    tick()
    await finished
    flush()
    outbox.send_bytes(b"")
    engine.close()
