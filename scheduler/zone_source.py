"""The zone-file route of the hunt: the names a TLD's zone gained since its last read, through the same
name screen as the NRD feeds (scheduler/name_screen.py).

Each configured zone (``[discovery] zone_files``) is read when due (crawler/zonefetch.py); its added
names are screened and, once every one has been, the difference is done with. A zone that cannot be
fetched or read is one line in ``source_errors`` and the hunt goes on; a hunt cut short leaves the
difference to the next one. The counts (names read, added, screened in) are notes in the cycle's stats.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path

from crawler.sources import SourceError
from crawler.zonefetch import ZoneLimits, read_zone
from crawler.zonefile import ZoneFileError, read_sorted
from crawler.zonestate import ZoneRead, ZoneSpec, ZoneState
from detect.model import Candidate
from scheduler.components import Components
from scheduler.hunt_report import HuntReport
from scheduler.name_screen import NameScreen, ScreenStats
from scheduler.settings import DiscoverySettings

log = logging.getLogger(__name__)


def zone_specs(cfg: DiscoverySettings) -> list[ZoneSpec]:
    return [ZoneSpec(tld=e["tld"].strip(".").lower(), url=e.get("url", ""), path=e.get("path", ""))
            for e in cfg.zone_files]


def zone_limits(cfg: DiscoverySettings) -> ZoneLimits:
    return ZoneLimits(max_bytes=cfg.zone_max_bytes, timeout=cfg.zone_timeout, token=cfg.zone_token,
                      refresh_hours=cfg.zone_refresh_hours)


async def _added(path: Path) -> AsyncIterator[str]:
    for name in read_sorted(path):
        yield name


async def zone_candidates(parts: Components, screen: NameScreen, report: HuntReport,
                          now: datetime, screened: list[ZoneState] | None = None,
                          only: str | None = None) -> AsyncIterator[Candidate]:
    """The added names of every due zone (``only``: of zone ``only`` alone) that pass the screen, as
    ``zone`` candidates. ``screened``: where the zones whose difference was screened whole go, for the
    caller to mark done once their candidates are recorded (default: marked at once)."""
    cfg = parts.config.discovery
    state_dir = Path(cfg.zone_state_dir)
    limits = zone_limits(cfg)
    for spec in zone_specs(cfg):
        if only is not None and spec.tld != only:
            continue
        try:
            read = await read_zone(spec, state_dir, limits, now)
        except (SourceError, ZoneFileError) as exc:
            report.source_errors.append(f"zone {spec.tld} {spec.source}: {exc}")
            log.warning("zone %s (%s) skipped: %s", spec.tld, spec.source, exc)
            continue
        if read is None:
            continue
        stats = ScreenStats()
        if read.added is not None:
            async for c in screen.screen(_added(read.added), source="zone", via=f".{spec.tld} zone", stats=stats):
                yield c
            if screened is None:
                ZoneState(state_dir, spec).screened()
            else:
                screened.append(ZoneState(state_dir, spec))
        report.truncated += stats.beyond
        report.source_notes.append(_note(read, stats))


def _note(read: ZoneRead, stats: ScreenStats) -> str:
    spec = read.spec
    if read.first:
        return f"zone {spec.tld}: {read.names} names read (the base: new names from the next read on)"
    head = f"zone {spec.tld}: {read.names} names read, " if read.fetched else f"zone {spec.tld}: earlier read, "
    return f"{head}{read.added_count} new, {stats.passed} screened in"
