"""The synchronous bulk path: one process for small inputs, worker processes for large ones.

Each worker runs its own event loop, sockets and Engine, reads chunks of names from a pipe and
sends results back in batches. A feeder thread in the parent hands out chunks with credit-based flow
control (bounded memory for any input size), so the parent's main thread only receives results.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import multiprocessing
import os
import pickle
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime
from multiprocessing.connection import Connection, wait
from typing import TYPE_CHECKING, Any

from crawler.dnsengine import Engine, Nameserver
from crawler.dnssweep import Sweep
from crawler.dnstypes import check_types
from detect.model import DnsResult, Rcode

if TYPE_CHECKING:
    from crawler.dns import Prober

log = logging.getLogger(__name__)

AUTO_PROCESS_THRESHOLD = 4000  # below this many names one process is faster than starting workers
CHUNK = 512
BATCH = 256

_Row = tuple[str, str, dict[str, tuple[str, ...]], str]


def probe_all(prober: Prober, names: Iterable[str], types: Sequence[str], *, workers: int | None,
              progress: Callable[[int], None] | None, observed_at: datetime | None) -> Iterator[DnsResult]:
    kinds = check_types(types)
    it = iter(names)
    if workers is None:
        head = list(itertools.islice(it, AUTO_PROCESS_THRESHOLD))
        workers = 1 if len(head) < AUTO_PROCESS_THRESHOLD else (os.cpu_count() or 1)
        it = itertools.chain(head, it)
    if workers <= 1:
        return _in_process(prober, it, kinds, progress, observed_at)
    return _in_workers(prober, it, kinds, workers, progress, observed_at)


def _in_process(prober: Prober, names: Iterator[str], kinds: list[tuple[str, int]],
                progress: Callable[[int], None] | None, observed_at: datetime | None) -> Iterator[DnsResult]:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        pass
    else:
        raise RuntimeError("probe_all() is synchronous: inside a running loop use `async for … in probe()`")
    loop = asyncio.new_event_loop()
    engine = prober.new_engine()
    ready: list[DnsResult] = []
    state: dict[str, Any] = {"waiter": None}

    def wake() -> None:
        fut = state["waiter"]
        if fut is not None and not fut.done():
            fut.set_result(None)

    def on_result(result: DnsResult) -> None:
        ready.append(result)
        if len(ready) >= BATCH:
            wake()

    limit = max(BATCH * 4, engine.concurrency * 2)
    sweep = Sweep(engine, kinds, on_result, observed_at=observed_at, paused=lambda: len(ready) >= limit)
    sweep.on_finished = wake
    sweep.source = names

    async def next_batch() -> list[DnsResult]:
        if not ready and not sweep.finished:
            state["waiter"] = loop.create_future()
            loop.call_later(0.05, wake)  # flush small batches regularly
            await state["waiter"]
            state["waiter"] = None
        out = ready[:]
        ready.clear()
        sweep.pump()
        return out

    done = 0
    try:
        loop.run_until_complete(engine.open())
        engine.owners.add(sweep)
        sweep.pump()
        while True:
            batch = loop.run_until_complete(next_batch())
            if sweep.error is not None:
                raise sweep.error
            if batch:
                done += len(batch)
                yield from batch
                if progress is not None:
                    progress(done)
            elif sweep.finished and not ready:
                break
    finally:
        sweep.cancel()
        engine.close()
        loop.run_until_complete(asyncio.sleep(0))
        loop.close()


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
