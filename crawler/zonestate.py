"""The files kept for each zone between reads, so each read gives the names added since the last.

Per TLD the state directory keeps:

- ``<tld>.names``: the sorted distinct names of the last file read (the base of the next difference);
- ``<tld>.added``: the names added by the last read, until the hunt has screened them all (a hunt cut
  short screens them again next time: nothing is lost);
- ``<tld>.json``: when the zone was last read, from where, and its counts.

A file that cannot be read leaves the state as it was. Files only, no network (crawler/zonefetch.py
downloads).
"""

from __future__ import annotations

import heapq
import json
import os
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from crawler import zonefile
from crawler.zonefile import ZoneFileError, ZoneStats
from detect.model import ErrorKind


@dataclass(frozen=True)
class ZoneSpec:
    """One configured zone: its TLD and where the file comes from (exactly one of ``url`` and ``path``)."""

    tld: str
    url: str = ""
    path: str = ""

    @property
    def source(self) -> str:
        return self.url or self.path


@dataclass(frozen=True)
class ZoneRead:
    """What a read of a zone gave: the file of added names to screen (None when there is nothing to
    screen), the counts, and whether this was the first read (the base: nothing is new yet)."""

    spec: ZoneSpec
    added: Path | None
    names: int = 0
    added_count: int = 0
    records: int = 0
    first: bool = False
    fetched: bool = False  # False: not due yet, only a pending difference (if any) to screen


class ZoneState:
    """The files kept for one TLD in the state directory (see the module docstring)."""

    def __init__(self, directory: Path, spec: ZoneSpec) -> None:
        tld = spec.tld.strip(".").lower()
        self.spec, self.dir = spec, directory
        self.names = directory / f"{tld}.names"
        self.added = directory / f"{tld}.added"
        self.meta_path = directory / f"{tld}.json"
        self.incoming = directory / f"{tld}.incoming"
        self.download = directory / f"{tld}.download"

    def meta(self) -> dict[str, object]:
        try:
            data = json.loads(self.meta_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def _write_meta(self, data: dict[str, object]) -> None:
        partial = self.meta_path.with_name(self.meta_path.name + ".part")
        partial.write_text(json.dumps(data, indent=1, sort_keys=True), encoding="utf-8")
        os.replace(partial, self.meta_path)

    def due(self, now: datetime, refresh_hours: float) -> bool:
        """Whether the zone should be read now: never read, read over ``refresh_hours`` ago, or (a local
        file) changed since."""
        meta = self.meta()
        read_at = meta.get("read_at")
        if not isinstance(read_at, str) or not self.names.exists():
            return True
        if self.spec.path:
            return meta.get("file") != _file_key(Path(self.spec.path))
        try:
            last = datetime.fromisoformat(read_at)
        except ValueError:
            return True
        return now - last >= timedelta(hours=refresh_hours)

    def pending(self) -> ZoneRead | None:
        """A difference read before and not yet screened in full."""
        if not self.added.exists():
            return None
        return ZoneRead(self.spec, self.added, added_count=int(str(self.meta().get("added", 0))))

    def screened(self) -> None:
        """The hunt has screened every added name: the difference is done with."""
        self.added.unlink(missing_ok=True)

    def absorb(self, source: Path, max_bytes: int, now: datetime) -> ZoneRead:
        """Read ``source`` (sync, CPU-bound: run it in a thread): its names become the base, and the names
        missing from the previous base are added to ``<tld>.added`` (kept with what an earlier read left
        unscreened). Raises ZoneFileError, the state unchanged."""
        stats = ZoneStats()
        self.dir.mkdir(parents=True, exist_ok=True)
        try:
            count = zonefile.sort_names(zonefile.ns_owners(zonefile.read_lines(source, max_bytes),
                                                           self.spec.tld, stats), self.incoming)
        except OSError as exc:
            self.incoming.unlink(missing_ok=True)
            raise ZoneFileError(ErrorKind.OTHER, f"cannot read or sort the zone: {exc}") from None
        except ZoneFileError:
            self.incoming.unlink(missing_ok=True)
            raise
        if count == 0:
            self.incoming.unlink(missing_ok=True)
            raise ZoneFileError(ErrorKind.MALFORMED, f"no delegation under .{self.spec.tld} in "
                                                     f"{stats.lines} lines: not this TLD's zone file")
        first = not self.names.exists()
        added = 0
        if not first:
            fresh = self.added.with_name(self.added.name + ".new")
            added = zonefile.diff_files(self.names, self.incoming, fresh)
            if self.added.exists():  # an earlier difference not screened in full: keep both
                added = _union(self.added, fresh)
            else:
                os.replace(fresh, self.added)
        os.replace(self.incoming, self.names)
        self._write_meta({"read_at": now.isoformat(), "source": self.spec.source, "names": count,
                          "added": added, "records": stats.records, "bad_lines": stats.bad,
                          "file": _file_key(Path(self.spec.path)) if self.spec.path else None})
        return ZoneRead(self.spec, None if first else self.added, names=count, added_count=added,
                        records=stats.records, first=first, fetched=True)


def _file_key(path: Path) -> list[int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return [st.st_size, st.st_mtime_ns]


def _union(pending: Path, fresh: Path) -> int:
    """Merge sorted ``fresh`` into sorted ``pending`` (distinct names); returns the count."""
    merged = pending.with_name(pending.name + ".merged")
    count = 0
    with merged.open("wb") as out:
        previous = None
        for name in heapq.merge(zonefile.read_sorted(pending), zonefile.read_sorted(fresh)):
            if name != previous:
                out.write(name.encode("ascii") + b"\n")
                previous = name
                count += 1
    os.replace(merged, pending)
    fresh.unlink(missing_ok=True)
    return count
