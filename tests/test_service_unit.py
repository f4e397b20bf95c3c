"""The shipped systemd unit is hardened: private files, no devices, no capabilities, inet/unix sockets
only, a system-call filter, the link-local (metadata) range denied, and its env file documented 0600."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

UNIT = Path(__file__).resolve().parents[1] / "config" / "hydrawatch.service"
WORKER_UNIT = UNIT.with_name("hydrawatch-worker@.service")  # cluster workers: the same hardening


def _service(unit: Path = UNIT) -> dict[str, list[str]]:
    section, out = "", {}
    for line in unit.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line.startswith("["):
            section = line
        elif section == "[Service]" and "=" in line and not line.startswith("#"):
            key, value = line.split("=", 1)
            out.setdefault(key, []).append(value)
    return out


@pytest.mark.parametrize("unit", [UNIT, WORKER_UNIT], ids=lambda u: u.name)
def test_unit_is_hardened(unit: Path) -> None:
    svc = _service(unit)
    assert svc["UMask"] == ["0077"]
    assert svc["PrivateDevices"] == ["true"] and svc["NoNewPrivileges"] == ["true"]
    assert svc["CapabilityBoundingSet"] == [""]
    families = svc["RestrictAddressFamilies"][0].split()
    assert set(families) == {"AF_INET", "AF_INET6", "AF_UNIX"}
    assert svc["SystemCallFilter"][0] == "@system-service"
    assert any(f.startswith("~") and "@privileged" in f for f in svc["SystemCallFilter"])
    assert "169.254.0.0/16" in " ".join(svc["IPAddressDeny"]).split()


def test_unit_states_the_env_file_permissions() -> None:
    text = UNIT.read_text(encoding="utf-8")
    assert "install -m 0600 -o root -g root /dev/null /etc/hydrawatch/env" in text


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="no systemd-analyze")
def test_systemd_accepts_the_unit(tmp_path: Path) -> None:
    copy = tmp_path / "hydrawatch.service"
    copy.write_bytes(UNIT.read_bytes())
    done = subprocess.run(["systemd-analyze", "verify", str(copy)], capture_output=True, text=True,
                          timeout=60, check=False)
    problems = [line for line in (done.stdout + done.stderr).splitlines()
                if line.strip() and "is not executable" not in line]  # /opt/hydrawatch is not installed here
    assert not problems, problems


def test_worker_unit_runs_the_worker() -> None:
    svc = _service(WORKER_UNIT)
    assert svc["ExecStart"][0].endswith(" worker") and svc["Restart"] == ["on-failure"]
    assert "ExecReload" not in svc
