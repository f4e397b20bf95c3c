"""Side-by-side DNS sweep benchmark: dnstwist vs hydrawatch probe vs the server's own ceiling, one NSD.

Needs NSD (the authoritative server from NLnet Labs) and dnsperf (DNS-OARC's load generator) from
Debian's packages:

    apt-get install nsd dnsperf   # the NSD service need not run, this script starts its own

Run by hand from the repository root (not part of the test suite):

    .venv/bin/python bench/dns_sweep.py [--repeat 5] [--naive] [--write bench/RESULTS.md]

What it does: dnstwist 20250130 generates its own candidate lists for a few news domains; a root
NSD on 127.0.0.1:<high port> (response-rate limiting off) serves ~15% of them as zones of their own
(SOA, NS, A, some AAAA/MX/TXT) and answers NXDOMAIN for the rest from a root zone. Then ``--repeat``
rounds, each running every contender once, one after the other (so a change of the machine's load
hits all of them within a round): (a) dnstwist's own Scanner threads resolving the list (exactly its
--registered code path: NS, then A and AAAA, then MX; its CLI only takes port-53 resolvers, so the
threads get a Do53Nameserver with NSD's port), (b) with --naive, a naive dnspython asyncio loop,
(c) the real ``hydrawatch probe --file`` CLI in a subprocess with its default types (all seven),
(d) the same with ``--types A``, (e) and (f) ``Prober.probe_all`` in this process, seven types and A,
and (g) the ceiling: dnsperf sending NSD exactly the questions hydrawatch's seven-type sweep asks
(one per dead name, seven per live one), whose queries/s, divided by the questions per name, is the
most names/s a client could get from this server on this machine. Per contender: the median
names/s, the median of its per-round ratio to dnstwist and to the ceiling, its CPU seconds, and
its found set, which must be the same set of names for everyone (the script fails otherwise).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import queue
import random
import re
import resource
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


# the contenders: each returns (seconds, CPU seconds, the names it found resolving) ---------------
Outcome = tuple[float, float, set[str]]


def _cpu(who: int) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def run_dnstwist(names: list[str], port: int, threads: int) -> Outcome:
    """dnstwist's own resolving loop: its Scanner threads on a shared job queue, as dnstwist.run does."""
    import dns.nameserver
    import dnstwist

    jobs: queue.Queue[dict[str, str]] = queue.Queue()
    tasks = [{"fuzzer": "bench", "domain": n} for n in names]
    cpu, start = _cpu(resource.RUSAGE_SELF), time.perf_counter()
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
    elapsed, cpu = time.perf_counter() - start, _cpu(resource.RUSAGE_SELF) - cpu
    return elapsed, cpu, {t["domain"] for t in tasks if t.get("dns_a") or t.get("dns_ns")}


def run_naive(names: list[str], port: int, concurrency: int = 512) -> Outcome:
    import dns.asyncresolver
    import dns.exception

    async def resolve_all() -> set[str]:
        resolver = dns.asyncresolver.Resolver(configure=False)
        resolver.nameservers = ["127.0.0.1"]
        resolver.port = port
        resolver.timeout = resolver.lifetime = 5.0
        sem = asyncio.Semaphore(concurrency)
        found: set[str] = set()

        async def one(name: str) -> None:
            async with sem:
                try:
                    await resolver.resolve(name, "A")
                    found.add(name)
                except dns.exception.DNSException:
                    pass

        await asyncio.gather(*(one(n) for n in names))
        return found

    cpu, start = _cpu(resource.RUSAGE_SELF), time.perf_counter()
    found = asyncio.run(resolve_all())
    return time.perf_counter() - start, _cpu(resource.RUSAGE_SELF) - cpu, found


def run_cli(names_file: Path, config: Path, types: str | None) -> Outcome:
    """The installed command as a user runs it (interpreter start and imports included)."""
    argv = [str(ROOT / ".venv/bin/hydrawatch"), "--config", str(config), "probe", "--file", str(names_file),
            "--format", "jsonl"]
    if types:
        argv += ["--types", types]
    cpu, start = _cpu(resource.RUSAGE_CHILDREN), time.perf_counter()
    out = subprocess.run(argv, capture_output=True, check=True)
    elapsed, cpu = time.perf_counter() - start, _cpu(resource.RUSAGE_CHILDREN) - cpu
    found = {json.loads(line)["name"] for line in out.stdout.splitlines() if b'"NOERROR"' in line}
    return elapsed, cpu, found


def run_api(names: list[str], port: int, types: list[str]) -> Outcome:
    from crawler.dns import Prober
    from crawler.settings import DnsSettings

    prober = Prober.from_settings(DnsSettings(nameservers=[f"127.0.0.1:{port}"]))
    cpu, start = _cpu(resource.RUSAGE_SELF), time.perf_counter()
    found = {r.name for r in prober.probe_all(names, types) if r.rcode.value == "NOERROR"}
    return time.perf_counter() - start, _cpu(resource.RUSAGE_SELF) - cpu, found


def sweep_questions(names: list[str], existing: set[str], types: list[str]) -> list[str]:
    """The questions hydrawatch's sweep asks: the first type of every name, the others of live names."""
    out = []
    for name in names:
        out.append(f"{name} {types[0]}")
        if name in existing:
            out.extend(f"{name} {t}" for t in types[1:])
    return out


def run_dnsperf(dnsperf: str, questions: Path, port: int) -> float:
    """NSD's queries/s for these questions, from dnsperf (EDNS0 as hydrawatch asks, two passes over the
    file, two sockets, 512 in flight)."""
    done = subprocess.run([dnsperf, "-s", "127.0.0.1", "-p", str(port), "-d", str(questions), "-n", "2",
                           "-c", "2", "-q", "512", "-t", "5", "-e"], capture_output=True, text=True, check=True)
    lost = re.search(r"Queries lost:\s+(\d+)", done.stdout)
    if lost and int(lost.group(1)):
        print(f"  dnsperf lost {lost.group(1)} queries", file=sys.stderr)
    rate = re.search(r"Queries per second:\s+([\d.]+)", done.stdout)
    if not rate:
        sys.exit(f"dnsperf printed no rate:\n{done.stdout}\n{done.stderr}")
    return float(rate.group(1))


def _wall(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


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
    parser.add_argument("--repeat", type=int, default=5, help="rounds (every contender once per round)")
    parser.add_argument("--dnstwist-threads", type=int, default=0, help="0 = dnstwist's default")
    parser.add_argument("--naive", action="store_true", help="also time a naive dnspython asyncio loop")
    parser.add_argument("--write", type=Path, help="replace the DNS section of this RESULTS.md")
    args = parser.parse_args()
    nsd = find_nsd()
    dnsperf = shutil.which("dnsperf")
    if dnsperf is None:
        print("bench/dns_sweep.py: dnsperf is not installed (apt-get install dnsperf): no ceiling row",
              file=sys.stderr)
    import dnstwist

    from detect.model import RECORD_TYPES

    threads = args.dnstwist_threads or dnstwist.THREAD_COUNT_DEFAULT
    loads: list[float] = []
    with tempfile.TemporaryDirectory(prefix="hydrawatch-bench-") as tmp:
        work = Path(tmp)
        names = candidates()
        existing = write_zones(work, names)
        expected = existing & set(names)
        port = free_port()
        proc = start_nsd(nsd, work, port, existing)
        try:
            names_file = work / "names.txt"
            names_file.write_text("\n".join(names) + "\n")
            config = work / "hydrawatch.toml"
            config.write_text(f'[dns]\nnameservers = ["127.0.0.1:{port}"]\n')
            questions = sweep_questions(names, expected, list(RECORD_TYPES))
            questions_file = work / "questions.txt"
            questions_file.write_text("\n".join(questions) + "\n")
            a_file = work / "questions-a.txt"
            a_file.write_text("".join(f"{n} A\n" for n in names))
            n = len(names)
            per_name = len(questions) / n
            print(f"{n} candidate names from dnstwist for {len(DOMAINS)} domains, {len(expected)} exist in NSD; "
                  f"the seven-type sweep asks {len(questions)} questions ({per_name:.2f} a name)", file=sys.stderr)
            contenders: list[tuple[str, str, Callable[[], Outcome]]] = [
                ("dnstwist", f"(a) dnstwist 20250130, its Scanner threads ({threads}), NS→A/AAAA→MX per name",
                 lambda: run_dnstwist(names, port, threads)),
            ]
            if args.naive:
                contenders.append(("naive", "(b) naive dnspython asyncio (one Resolver, gather, semaphore 512), A",
                                   lambda: run_naive(names, port)))
            contenders += [
                ("cli", "(c) **`hydrawatch probe --file`** (CLI subprocess, jsonl), all seven types",
                 lambda: run_cli(names_file, config, None)),
                ("cli A", "(d) `hydrawatch probe --file --types A` (CLI subprocess, jsonl)",
                 lambda: run_cli(names_file, config, "A")),
                ("api", "(e) `Prober.probe_all` in process, all seven types",
                 lambda: run_api(names, port, list(RECORD_TYPES))),
                ("api A", "(f) `Prober.probe_all` in process, A", lambda: run_api(names, port, ["A"])),
            ]
            rates: dict[str, list[float]] = {key: [] for key, _, _ in contenders}
            cpus: dict[str, list[float]] = {key: [] for key, _, _ in contenders}
            ratios: dict[str, list[float]] = {key: [] for key, _, _ in contenders}
            of_ceiling: dict[str, list[float]] = {key: [] for key, _, _ in contenders}
            ceilings: list[float] = []
            ceilings_a: list[float] = []
            founds: dict[str, set[str]] = {}
            for round_ in range(1, args.repeat + 1):
                loads.append(os.getloadavg()[0])
                this: dict[str, float] = {}
                for key, _, fn in contenders:
                    elapsed, cpu, found = fn()
                    if found != expected:
                        sys.exit(f"{key} found {len(found)} names, not the {len(expected)} NSD serves: "
                                 f"missing {sorted(expected - found)[:5]}, extra {sorted(found - expected)[:5]}")
                    founds[key] = found
                    this[key] = n / elapsed
                    rates[key].append(n / elapsed)
                    cpus[key].append(cpu)
                    print(f"  round {round_} {key}: {elapsed:.2f} s = {n / elapsed:,.0f} names/s, CPU {cpu:.2f} s, "
                          f"{len(found)} found", file=sys.stderr)
                ceiling = ceiling_a = 0.0
                if dnsperf:
                    ceiling = run_dnsperf(dnsperf, questions_file, port) / per_name
                    ceiling_a = run_dnsperf(dnsperf, a_file, port)
                    ceilings.append(ceiling)
                    ceilings_a.append(ceiling_a)
                    print(f"  round {round_} ceiling: {ceiling:,.0f} names/s (seven types), {ceiling_a:,.0f} (A); "
                          f"load {loads[-1]:.1f}", file=sys.stderr)
                for key, rate in this.items():
                    ratios[key].append(rate / this["dnstwist"])
                    top = ceiling_a if key.endswith(" A") or key == "naive" else ceiling
                    if top:
                        of_ceiling[key].append(rate / top)
            one = names_file.with_name("one.txt")
            one.write_text(DOMAINS[0] + "\n")
            startup = statistics.median([_wall(lambda: run_cli(one, config, None)) for _ in range(args.repeat)])
        finally:
            proc.terminate()
            proc.wait(timeout=10)
    med = statistics.median
    table = [(f"| contender | names/s (median of {args.repeat}) | × dnstwist (median of the rounds' ratios) | "
             "share of the ceiling | CPU s per run | names found (the same set) |"),
             "| --- | ---: | ---: | ---: | ---: | ---: |"]
    for key, label, _ in contenders:
        share = f"{med(of_ceiling[key]):.0%}" if of_ceiling[key] else "—"
        table.append(f"| {label} | {med(rates[key]):,.0f} | {med(ratios[key]):.1f}× | {share} | "
                     f"{med(cpus[key]):.2f} | {len(founds[key])} |")
    if ceilings:
        twist = rates["dnstwist"]
        table.append(f"| (g) ceiling, seven types: dnsperf's queries/s on the sweep's {len(questions)} questions "
                     f"÷ {per_name:.2f} questions a name | {med(ceilings):,.0f} | "
                     f"{med([c / t for c, t in zip(ceilings, twist, strict=True)]):.1f}× | 100% | | |")
        table.append(f"| (g) ceiling, A: dnsperf's queries/s on one A question a name | {med(ceilings_a):,.0f} | "
                     f"{med([c / t for c, t in zip(ceilings_a, twist, strict=True)]):.1f}× | 100% | | |")
    text = "\n".join([
        "## DNS sweep: hydrawatch probe vs dnstwist, and the server's ceiling",
        "",
        (f"Produced by `.venv/bin/python bench/dns_sweep.py --repeat {args.repeat}"
        f"{' --naive' if args.naive else ''}` on {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}."),
        f"Machine: {machine()}, dnsperf {_dnsperf_version(dnsperf)}.",
        f"Load average (1 min) at the start of each round: {', '.join(f'{x:.1f}' for x in loads)}.",
        (f"Input: {n} names (dnstwist's permutations of {', '.join(DOMAINS)}); "
         f"{len(expected)} exist in NSD, the rest are NXDOMAIN. "
         "Each existing name is a zone of its own in NSD (SOA, NS, A, some AAAA/MX/TXT); a root zone answers "
         "NXDOMAIN for the rest. NSD on 127.0.0.1, one server process, `rrl-ratelimit: 0`, sharing the "
         f"machine's CPUs with the client. hydrawatch's seven-type sweep asks {len(questions)} questions "
         f"({per_name:.2f} a name: one for a dead name, seven for a live one)."),
        "",
        *table,
        "",
        (f"Every contender found the same {len(expected)} names in every round (the script checks the sets, "
         "not only their size). The CLI figures include its fixed cost per invocation (interpreter start, "
         f"imports, config): `hydrawatch probe --file` of a one-name file takes {startup:.2f} s here (median). "
         "The ceiling is what NSD itself answers on this machine for the same questions, with dnsperf (C) as "
         "the client; \"share of the ceiling\" is the contender's names/s over it in the same round. "
         "CPU s is the client's user+system time (the CLI's whole process; the server's time is not in it)."),
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


def _dnsperf_version(dnsperf: str | None) -> str:
    if dnsperf is None:
        return "not installed"
    done = subprocess.run([dnsperf, "-h"], capture_output=True, text=True, check=False)
    version = re.search(r"Version ([\d.]+)", done.stdout + done.stderr)
    return version.group(1) if version else "?"


if __name__ == "__main__":
    main()
