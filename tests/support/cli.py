"""The `hydrawatch` command run by a test: in this process (:func:`cli`) or in a fresh one
(:func:`cli_subprocess`, where the process is the point: peak memory, signals, start-up imports)."""

from __future__ import annotations

import contextlib
import io
import logging
import os
import re
import subprocess
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
ENV_PREFIX = "HYDRAWATCH_"


@dataclass(frozen=True)
class Result:
    """What a run of the command left: its exit code and output, as ``subprocess.CompletedProcess``
    names them, and the peak resident memory in KiB when it ran in a subprocess (0 in process)."""

    args: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str
    peak_rss_kib: int = 0


def _argv(config: Path | None, args: tuple[str, ...]) -> list[str]:
    return [*(["--config", str(config)] if config is not None else []), *args]


def clean_env(env: Mapping[str, str] | None = None) -> dict[str, str]:
    """This process's environment without HYDRAWATCH_* (the test's config file is the config), plus ``env``."""
    out = {k: v for k, v in os.environ.items() if not k.startswith(ENV_PREFIX)}
    out["PYTHONUNBUFFERED"] = "1"
    out.update(env or {})
    return out


@contextlib.contextmanager
def _isolated(env: Mapping[str, str] | None, cwd: Path | None) -> Iterator[None]:
    """Environment, working directory and logging as a fresh process would have them; put back after.
    ``hydrawatch.logs.setup`` replaces the root logger's handlers and sets levels on library loggers."""
    saved_env, saved_cwd = dict(os.environ), os.getcwd()
    manager = logging.Logger.manager
    root = logging.getLogger()
    saved_root = (root.handlers[:], root.level)
    saved_levels = {name: lg.level for name, lg in manager.loggerDict.items() if isinstance(lg, logging.Logger)}
    os.environ.clear()
    os.environ.update(clean_env(env))
    os.chdir(cwd or REPO)
    # As in a fresh process: no handler (a record logged before hydrawatch.logs.setup reaches the
    # command's stderr through logging.lastResort, not pytest's capture) and the root at WARNING.
    root.handlers[:] = []
    root.setLevel(logging.WARNING)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved_env)
        os.chdir(saved_cwd)
        root.handlers[:], level = saved_root
        root.setLevel(level)
        for name, lg in list(manager.loggerDict.items()):
            if isinstance(lg, logging.Logger):
                lg.setLevel(saved_levels.get(name, logging.NOTSET))


class _Stream(io.TextIOWrapper):
    """Never closed: a server thread of the test (the sandbox's or aiosmtpd's SMTP server) that picked
    up the command's log handler just before :func:`cli` put logging back may still write a line after
    the command returned; it lands in this orphaned buffer instead of printing "--- Logging error ---
    I/O operation on closed file" on the test run's terminal."""

    def close(self) -> None:
        if not self.closed:
            self.flush()


def _stream(stdin: str = "") -> io.TextIOWrapper:
    """A text stream over bytes (``export`` writes to ``sys.stdout.buffer``), not a terminal."""
    return _Stream(io.BytesIO(stdin.encode()), encoding="utf-8", errors="backslashreplace",
                   newline="", write_through=True)


def _text(stream: io.TextIOWrapper) -> str:
    stream.flush()
    raw = stream.buffer
    assert isinstance(raw, io.BytesIO)
    return raw.getvalue().decode("utf-8", errors="backslashreplace")


def cli(config: Path | None, *args: str, env: Mapping[str, str] | None = None, cwd: Path | None = None,
        timeout: float | None = None) -> Result:
    """Run ``hydrawatch [--config CONFIG] ARGS…`` in this process: ``hydrawatch.cli.main`` with its own
    stdout/stderr and an empty stdin, the environment without HYDRAWATCH_* plus ``env``, ``cwd`` (the
    repository by default) and the logging setup undone afterwards. Crawls reuse the process's one reactor.
    ``timeout`` is taken for the callers of :func:`cli_subprocess`'s signature; in process the test's
    pytest timeout (pyproject.toml) bounds the run."""
    del timeout
    from hydrawatch.cli import main

    argv = _argv(config, args)
    out, err, inp = _stream(), _stream(), _stream()
    saved = sys.stdin, sys.stdout, sys.stderr, sys.argv
    # click names the program after __main__'s package (pytest's here) or argv[0]: "hydrawatch", as installed
    main_module = sys.modules["__main__"]
    package = main_module.__dict__.get("__package__")
    with _isolated(env, cwd):
        sys.stdin, sys.stdout, sys.stderr, sys.argv = inp, out, err, ["hydrawatch", *argv]
        main_module.__package__ = None
        try:
            code = main(argv)
        except SystemExit as exc:  # what an uncaught exit would have been in a process of its own
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        finally:
            sys.stdin, sys.stdout, sys.stderr, sys.argv = saved
            main_module.__package__ = package
    return Result(tuple(argv), code, _text(out), _text(err))


# Reports the child's peak RSS on stderr as it exits (ru_maxrss, KiB on Linux).
_WRAPPER = ("import atexit, resource, sys\n"
            "atexit.register(lambda: sys.stderr.write("
            "f'\\nHW_MAXRSS={resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}\\n'))\n"
            "sys.argv[0] = 'hydrawatch'\n"
            "from hydrawatch.cli import main\n"
            "sys.exit(main(sys.argv[1:]))\n")
_RSS = re.compile(r"\nHW_MAXRSS=(\d+)\n")


def cli_subprocess(config: Path | None, *args: str, timeout: float = 120, env: Mapping[str, str] | None = None,
                   cwd: Path | None = None, stdin: str | None = None, preexec: Any = None) -> Result:
    """Run ``hydrawatch [--config CONFIG] ARGS…`` in a fresh interpreter (environment as :func:`cli`'s)
    and report its peak RSS. A run that outlasts ``timeout`` fails the test with its stderr."""
    argv = _argv(config, args)
    proc = subprocess.Popen([sys.executable, "-c", _WRAPPER, *argv], cwd=cwd or REPO, env=clean_env(env), text=True,
                            stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, preexec_fn=preexec)  # noqa: PLW1509
    try:
        out, err = proc.communicate(stdin, timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        raise AssertionError(f"hydrawatch {' '.join(args)} did not finish in {timeout} s: {err[-2000:]}") from None
    found = _RSS.search(err)
    rss = int(found.group(1)) if found else 0
    if found:
        err = err[: found.start()] + err[found.end():]
    return Result(tuple(argv), proc.returncode, out, err, rss)
