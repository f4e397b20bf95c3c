"""One exceptions base: every error hydrawatch reports to a user derives from detect.errors.HydrawatchError.

The shell catches that one class (hydrawatch/cli.py), so a new user-facing error that forgets the base
would end as a traceback. This test imports every module of the packages, finds the exception classes
they define, and fails naming any that neither derives from the base nor is on the short list of
internal ones below.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import pytest

from detect.errors import HydrawatchError

PACKAGES = ("detect", "crawler", "storage", "scheduler", "hydrawatch")
# Modules that cannot be imported on their own: Alembic runs its env.py with a context it sets up.
NOT_IMPORTABLE = ("storage.migrations",)
# Exceptions that never reach a user as they are: each is caught inside its layer and turned into
# evidence, a typed outcome or a user-facing error. Listed with where that happens.
INTERNAL: dict[str, str] = {
    "crawler.resolver.ResolveError": "a fetch outcome: crawler/outcome.py maps it to ErrorKind (dns)",
    "crawler.resolver.BlockedAddress": "a fetch outcome: crawler/outcome.py maps it to blocked_private",
    "crawler.headcap.HeadersTooLarge": "a fetch outcome: crawler/outcome.py keeps the bounded head as evidence",
    "crawler.tunnel.UnpinnedRequest": "the SSRF guard refusing a request; ends as a failed fetch, never sent",
    "crawler.rdap.ServerPaused": "a gate refusing an RDAP request: RdapClient._ask records it as rate_limited",
    "crawler.dnswire.WireError": "a DNS wire problem: an outcome in dnsengine/dnssweep, a ProberError in dnstypes.py",
    "crawler.run.ReactorMismatch": "a programming error (the wrong reactor installed): a traceback is right",
    "detect.simindex.BadSignature": "a stored signature that does not decode: simindex skips it and logs",
    "hydrawatch.archive_warc.LimitExceeded": "hydrawatch/archive.py turns it into an ArchiveError naming the file",
}


def _modules() -> list[str]:
    names: list[str] = []
    for package in PACKAGES:
        root = importlib.import_module(package)
        names.append(package)
        for info in pkgutil.walk_packages(root.__path__, f"{package}."):
            if not info.name.startswith(NOT_IMPORTABLE) and not info.name.endswith(".__main__"):
                names.append(info.name)
    return names


def defined_exceptions() -> dict[str, type[BaseException]]:
    """Dotted name -> class, for every exception class defined (not re-exported) in our modules."""
    found: dict[str, type[BaseException]] = {}
    for name in _modules():
        module = importlib.import_module(name)
        for _, obj in inspect.getmembers(module, inspect.isclass):
            if issubclass(obj, BaseException) and obj.__module__ == name:
                found[f"{name}.{obj.__qualname__}"] = obj
    return found


def test_every_user_facing_exception_derives_from_hydrawatch_error() -> None:
    found = defined_exceptions()
    missing = sorted(name for name, cls in found.items()
                     if not issubclass(cls, HydrawatchError) and name not in INTERNAL and cls is not HydrawatchError)
    assert not missing, ("exceptions that reach the user must derive from detect.errors.HydrawatchError "
                         "(or be listed in INTERNAL with why):\n" + "\n".join(missing))


def test_the_internal_list_names_only_existing_classes_outside_the_base() -> None:
    found = defined_exceptions()
    stale = sorted(name for name in INTERNAL if name not in found or issubclass(found[name], HydrawatchError))
    assert not stale, "remove from INTERNAL (gone, or now a HydrawatchError):\n" + "\n".join(stale)


@pytest.mark.parametrize("dotted, base", [
    ("detect.names.InvalidDomain", ValueError),
    ("detect.lookalike.UnknownFuzzer", ValueError),
    ("detect.signatures.SignatureError", ValueError),
    ("detect.indicator_kinds.UnknownIndicatorKind", KeyError),
    ("hydrawatch.archive.ArchiveError", ValueError),
])
def test_the_base_keeps_the_builtin_bases_callers_catch(dotted: str, base: type[Exception]) -> None:
    module, _, name = dotted.rpartition(".")
    cls = getattr(importlib.import_module(module), name)
    assert issubclass(cls, HydrawatchError) and issubclass(cls, base)


def test_the_shell_prints_one_line_with_the_class_label_and_exit_code(capsys: pytest.CaptureFixture[str]) -> None:
    from hydrawatch.cli import main

    assert main(["--config", "/nonexistent/hydrawatch.toml", "status"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("hydrawatch: config error: ") and err.count("\n") == 1, err
