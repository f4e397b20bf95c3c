"""`python -m sandbox --world doppelganger-2024`: bring a world up on loopback for people to dig/curl.

Prints the endpoints and the hydrawatch config overrides (TOML); type a phase name (and Enter) to
switch phase, or use --switch-after SECONDS to move to the next phase automatically.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading

from hydrawatch.config import to_toml
from sandbox.errors import SandboxStartError, WorldError
from sandbox.net import PORT_NAMES, Sandbox


def describe(sb: Sandbox) -> str:
    p = sb.ports
    some = sb.seeds[0] if sb.seeds else "example.test"
    return "\n".join([
        (f"# sandbox world {sb.world.name!r}, mode {sb.mode}, phase {sb.phase!r} "
         f"(clock {sb.clock().isoformat()}); phases: {', '.join(sb.phases)}"),
        f"#   dns    127.0.0.1:{p['dns']} (UDP+TCP)   dig @127.0.0.1 -p {p['dns']} {some} A",
        f"#   proxy  http://127.0.0.1:{p.get('proxy')}   curl -x http://127.0.0.1:{p.get('proxy')} http://{some}/",
        f"#   rdap   http://127.0.0.1:{p['rdap']}/domain/{some}",
        f"#   ct     http://127.0.0.1:{p['ct']}/?q=%25{some.split('.')[0]}%25&output=json",
        f"#   nrd    http://127.0.0.1:{p['nrd']}/nrd.txt",
        f"#   whois  127.0.0.1:{p['whois']} (port-43 protocol)   whois -h 127.0.0.1 -p {p['whois']} {some}",
        f"#   pdns   http://127.0.0.1:{p['pdns']}/query/{some}   (basic auth; [discovery] keys: sb.pdns_settings())",
        f"#   smtp   127.0.0.1:{p['smtp']}",
        f"#   smtps  127.0.0.1:{p['smtps']} (implicit TLS; trust the CA from --ca-file)",
        "# hydrawatch config overrides:",
        to_toml(sb.config_overrides()),
    ])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sandbox", description=__doc__.splitlines()[0])
    parser.add_argument("--world", default="doppelganger-2024", help="packaged world name or folder")
    parser.add_argument("--phase", default=None, help="start phase (default: the first)")
    parser.add_argument("--mode", choices=("proxy", "direct"), default="proxy")
    for name in PORT_NAMES:
        parser.add_argument(f"--{name}-port", type=int, default=0, help=f"{name} port (0 = ephemeral)")
    parser.add_argument("--switch-after", type=float, default=0.0, help="move to the next phase every N seconds")
    parser.add_argument("--ca-file", default="", help="write the sandbox CA certificate (PEM) here")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    ports = {name: getattr(args, f"{name}_port") for name in PORT_NAMES if getattr(args, f"{name}_port")}
    try:
        sb = Sandbox.start(args.world, args.phase, mode=args.mode, ports=ports)
    except (WorldError, SandboxStartError, ValueError) as exc:
        print(f"sandbox: {exc}", file=sys.stderr)
        return 2
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    with sb:
        if args.ca_file:
            with open(args.ca_file, "w", encoding="ascii") as fh:
                fh.write(sb.ca_pem)
        print(describe(sb), flush=True)
        if args.switch_after > 0:
            def advance() -> None:
                while not done.wait(args.switch_after):
                    i = sb.phases.index(sb.phase)
                    if i + 1 >= len(sb.phases):
                        return
                    sb.set_phase(sb.phases[i + 1])
                    print(f"# phase -> {sb.phase} (clock {sb.clock().isoformat()})", flush=True)
            threading.Thread(target=advance, daemon=True).start()
        try:
            for line in sys.stdin:
                name = line.strip()
                if not name:
                    continue
                if name in ("quit", "exit"):
                    break
                try:
                    sb.set_phase(name)
                    print(f"# phase -> {sb.phase} (clock {sb.clock().isoformat()})", flush=True)
                except ValueError as exc:
                    print(f"# {exc}", flush=True)
            else:
                done.wait()  # stdin closed (e.g. run in the background): serve until SIGTERM/SIGINT
        except KeyboardInterrupt:
            pass
        done.set()
    return 0


if __name__ == "__main__":
    sys.exit(main())
