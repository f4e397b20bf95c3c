"""A small lineage world written straight through the storage functions, shared by the view tests:

    a.ltd (seized) ──replacement──▶ b.pm (seized) ──replacement──▶ c.so (active)
    a.ltd ──network──▶ n.info (active)          lone.fun (active, no edges)

b.pm and c.so share the analytics id G-SHARED1; b.pm's page title and one piece of evidence are hostile.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session

from detect.model import Classification, Evidence, Relation, Status
from storage import lineage, watchlist
from storage.models import IndicatorRow, ObservationRow

T0 = datetime(2024, 7, 1, tzinfo=UTC)
HOSTILE_TITLE = "<script>alert(1)</script>\x1b]0;pwned\x07\x1b[31mRED\r\nInjected: yes"
HOSTILE_VALUE = "\"><img src=x onerror=alert(1)>\x1b[2J=cmd|' /C calc'!A0\r\nline2"


def _status(session: Session, name: str, status: Status, reason: str, when: datetime) -> None:
    watchlist.set_status(session, name, Classification(status, reason), when)


def observe(session: Session, name: str, when: datetime, *, title: str = "", indicators: dict[str, str] | None = None,
            ) -> None:
    row = watchlist.domain_row(session, name)
    assert row is not None
    obs = ObservationRow(domain_id=row.id, kind="http", observed_at=when, url=f"https://{name}/",
                         final_url=f"https://{name}/", http_status=200, title=title, raw={})
    session.add(obs)
    session.flush()
    for kind, value in (indicators or {}).items():
        session.add(IndicatorRow(domain_id=row.id, observation_id=obs.id, kind=kind, value=value, observed_at=when))
    session.flush()


def fill(session: Session) -> dict[str, int]:
    """Write the world; returns the edge ids by "from>to"."""
    watchlist.add_domains(session, ["a.ltd", "n.info", "lone.fun"], campaign="doppelganger", origin="seed", now=T0)
    for name in ("a.ltd", "n.info", "lone.fun"):
        _status(session, name, Status.ACTIVE, "200 OK", T0)
    _status(session, "a.ltd", Status.SEIZED, "NS ns1.fbi.seized.gov", T0 + timedelta(days=60))
    watchlist.add_domains(session, ["b.pm"], campaign="doppelganger", origin="discovered", now=T0 + timedelta(days=61))
    _status(session, "b.pm", Status.ACTIVE, "200 OK", T0 + timedelta(days=61))
    observe(session, "a.ltd", T0 + timedelta(days=1), indicators={"ga": "G-OLD1", "ns": "ns1.host.example"})
    observe(session, "b.pm", T0 + timedelta(days=61), title=HOSTILE_TITLE,
            indicators={"ga": "G-SHARED1", "ns": "ns1.host.example"})
    ids: dict[str, int] = {}
    ids["a.ltd>b.pm"], _ = lineage.add_edge(
        session, from_domain="a.ltd", to_domain="b.pm", relation=Relation.REPLACEMENT, confidence=0.93,
        evidence=[Evidence("same_label_tld_swap", "a", 0.35, "label kept, TLD .ltd → .pm"),
                  Evidence("shared_ns", "ns1.host.example", 0.2),
                  Evidence("page_title", HOSTILE_VALUE, 0.1, HOSTILE_TITLE)],
        now=T0 + timedelta(days=61, hours=2))
    _status(session, "b.pm", Status.SEIZED, "registry serverHold", T0 + timedelta(days=120))
    watchlist.add_domains(session, ["c.so"], campaign="doppelganger", origin="discovered", now=T0 + timedelta(days=121))
    _status(session, "c.so", Status.ACTIVE, "200 OK", T0 + timedelta(days=121))
    observe(session, "c.so", T0 + timedelta(days=121), title="C news", indicators={"ga": "G-SHARED1"})
    observe(session, "c.so", T0 + timedelta(days=130), title="C news", indicators={"ga": "G-SHARED1"})
    ids["b.pm>c.so"], _ = lineage.add_edge(
        session, from_domain="b.pm", to_domain="c.so", relation=Relation.REPLACEMENT, confidence=0.87,
        evidence=[Evidence("shared_analytics_id", "G-SHARED1", 0.4)], now=T0 + timedelta(days=121, hours=1))
    ids["a.ltd>n.info"], _ = lineage.add_edge(
        session, from_domain="a.ltd", to_domain="n.info", relation=Relation.NETWORK, confidence=0.6,
        evidence=[Evidence("shared_ns", "ns1.host.example", 0.3)], now=T0 + timedelta(days=10))
    return ids
