"""site_profiles (a few queries a chunk of names, storage/observations.py's batched readers) reads what
site_profile (the per-name readers, six or so queries a name) reads, name by name."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.orm import Session

from detect.model import Classification, DnsResult, HttpFetch, Indicator, Rcode, RdapRecord, Status
from storage import cycles, inlist, observations, profiles, watchlist
from storage.observations import DnsWrite, HttpWrite, PageSketch
from storage.store import Store

T0 = datetime(2024, 9, 1, tzinfo=UTC)
DAY = timedelta(days=1)


# --- the world -------------------------------------------------------------------------------------------

def _dns(session: Session, names: list[str], when: datetime, ip: str, rcode: Rcode = Rcode.NOERROR) -> None:
    writes = [DnsWrite(n, DnsResult(n, rcode, {"A": (ip,)} if rcode is Rcode.NOERROR else {}),
                       (Indicator("ip", ip), Indicator("ns", f"ns.{n}")) if rcode is Rcode.NOERROR else ())
              for n in names]
    observations.record_dns_batch(session, writes, now=when)


def _crawl_of(session: Session, name: str, when: datetime, tag: str, *, pages: int = 3, final: str = "",
              cycle: bool = True) -> None:
    cycle_id = cycles.start(session, "watched", when) if cycle else None
    writes = []
    for p in range(pages):
        url = f"https://{name}/{p}"
        fetch = HttpFetch(domain=name, url=url, final_url=final or url, status=200, body=f"{tag} {p}".encode())
        inds = (Indicator("ga", f"G-{tag}"), Indicator("outlink", f"{tag}-friend.info"), Indicator("title", f"{tag}{p}"))
        sketch = PageSketch(title=f"{tag} page {p}", minhash=None if p == 1 else f"{tag}{p}".encode(),
                            tlsh=f"T{tag}{p}")
        writes.append(HttpWrite(fetch, inds, sketch))
    observations.record_http_batch(session, writes, now=when, cycle_id=cycle_id)


def _rdap_of(session: Session, name: str, when: datetime, registrar: str, *, failed: bool = False,
             whois: bool = False) -> None:
    from detect.model import ErrorKind
    rec = RdapRecord(domain=name, http_status=None if failed else 200, registrar=registrar,
                     registered=None if failed else T0 - 30 * DAY, error_kind=ErrorKind.TIMEOUT if failed else None,
                     error="slow" if failed else "", source="whois" if whois else "rdap")
    observations.record_rdap(session, rec, [] if failed else [Indicator("registrar", registrar)], now=when)


def _status(session: Session, name: str, status: Status, when: datetime) -> None:
    watchlist.set_status(session, name, Classification(status, status.value), when)


NAMES = ["act.com", "seized.ltd", "dead.info", "redir.net", "parked.org", "bare.de", "nordap.fr", "nocycle.io",
         "lostnothing.eu", "suspended.ru", "dnsfail.biz", "race.co", "early.us", "hop.ws"]
LATE = T0 + 2 * DAY + timedelta(hours=3)  # after every site's third crawl, before the redirect is classified


def _world(store: Store) -> None:
    with store.transaction() as session:
        watchlist.add_domains(session, [n for n in NAMES if n != "bare.de"], campaign="c", origin="seed", now=T0)
        watchlist.add_domains(session, ["bare.de"], campaign="", origin="discovered", now=T0, watched=False)
        for n in NAMES:
            _status(session, n, Status.ACTIVE, T0)
        live = [n for n in NAMES if n not in ("bare.de", "lostnothing.eu")]
        for day in range(3):
            _dns(session, live, T0 + day * DAY, "192.0.2.1")
            for n in live:
                if n not in ("nordap.fr", "nocycle.io"):
                    _crawl_of(session, n, T0 + day * DAY + timedelta(hours=1), f"{n.split('.')[0]}{day}")
            _crawl_of(session, "nocycle.io", T0 + day * DAY, f"nc{day}", cycle=False)
        _rdap_of(session, "act.com", T0, "First Registrar")
        _rdap_of(session, "act.com", T0 + DAY, "Second Registrar", whois=True)
        _rdap_of(session, "act.com", T0 + 2 * DAY, "", failed=True)
        for n in ("seized.ltd", "dead.info", "redir.net", "parked.org", "suspended.ru"):
            _rdap_of(session, n, T0, f"{n} registrar")
        _crawl_of(session, "nordap.fr", T0, "nr", pages=1)
        # the losses and the redirect, then what the store sees after them
        _status(session, "seized.ltd", Status.SEIZED, T0 + 2 * DAY + timedelta(hours=2))
        _status(session, "suspended.ru", Status.SUSPENDED, T0 + 2 * DAY + timedelta(hours=2))
        _status(session, "dead.info", Status.DEAD, T0 + DAY + timedelta(hours=2))
        _status(session, "redir.net", Status.REDIRECTING, T0 + DAY + timedelta(hours=2))
        _status(session, "parked.org", Status.PARKED, T0 + DAY)
        _status(session, "lostnothing.eu", Status.DEAD, T0 + DAY)
        for day in range(3, 5):
            _dns(session, ["seized.ltd", "act.com", "suspended.ru"], T0 + day * DAY, "203.0.113.9")
            _dns(session, ["dead.info", "dnsfail.biz"], T0 + day * DAY, "", Rcode.NXDOMAIN)
            _crawl_of(session, "seized.ltd", T0 + day * DAY, f"banner{day}", pages=1)
            _crawl_of(session, "redir.net", T0 + day * DAY, f"target{day}", pages=2, final="https://www.other.org/x")
            _crawl_of(session, "act.com", T0 + day * DAY, f"act{day}", pages=2 + day)
        _rdap_of(session, "seized.ltd", T0 + 4 * DAY, "Seizing Registry")
    with store.transaction() as session:  # crawls that follow a redirect, committed before any classification
        _crawl_of(session, "race.co", LATE, "target", pages=2, final="https://www.elsewhere.com/x")
        _crawl_of(session, "early.us", LATE, "landing", pages=2, final="https://news.landing.net/")
        _crawl_of(session, "hop.ws", LATE, "hoplate", pages=2, final="https://www.hop.ws/x")
    with store.transaction() as session:  # then the classification of race.co's batch: redirecting
        _status(session, "race.co", Status.REDIRECTING, LATE + timedelta(hours=2))


@pytest.fixture
def world(store: Store) -> Store:
    _world(store)
    return store


def test_batched_profiles_equal_the_per_name_reads(world: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    """Lost (seized, suspended, dead) and redirecting sites described as of before their status_since,
    outlinks apart, the first foreign redirect target of the latest crawl, the newest successful RDAP,
    parked, seeded, no crawl, no RDAP, no observation at all; in query chunks of three names, and read in
    chunks of four (PROFILE_CHUNK) or all at once."""
    real = inlist.chunks
    for module in (observations, watchlist):
        monkeypatch.setattr(module, "chunks", lambda values, size=3: real(values, min(size, 3)))
    with world.transaction() as session:
        expected = {n: profiles.site_profile(session, n, in_network=True) for n in NAMES}
        whole = profiles.site_profiles(session, [*NAMES, "act.com"], in_network=True)
        monkeypatch.setattr(profiles, "PROFILE_CHUNK", 4)
        assert len(NAMES) > 4
        got = profiles.site_profiles(session, [*NAMES, "act.com"], in_network=True)
        assert got == whole and list(got) == list(whole)
        alone = {n: profiles.site_profiles(session, [n], in_network=True)[n] for n in NAMES}
        assert profiles.site_profiles(session, [], in_network=False) == {}
    assert list(got) == NAMES
    assert got == expected == alone
    # the world covers what it claims to
    assert got["seized.ltd"].lost_after == T0 + 2 * DAY + timedelta(hours=1)
    assert got["seized.ltd"].title == "seized2 page 0" and "G-seized2" in {i.value for i in got["seized.ltd"].indicators}
    assert Indicator("ip", "192.0.2.1") in got["seized.ltd"].indicators
    assert got["redir.net"].redirects_to == "other.org" and got["redir.net"].title == "redir1 page 0"
    assert got["act.com"].redirects_to is None and got["act.com"].registrar == "Second Registrar"
    assert got["act.com"].registered_via and got["act.com"].outlinks == {"act4-friend.info"}
    assert got["dead.info"].lost_after is not None and got["lostnothing.eu"].lost_after is None
    assert got["parked.org"].parked and not got["bare.de"].seeded and got["bare.de"].indicators == frozenset()
    assert got["nordap.fr"].registrar == "" and got["nocycle.io"].title == "nc2 page 0"
    assert Indicator("ip", "192.0.2.1") not in got["dnsfail.biz"].indicators


def test_a_name_not_in_the_store_is_a_key_error_as_for_one_name(world: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    with world.transaction() as session:
        with pytest.raises(KeyError, match="gone.ltd"):
            profiles.site_profiles(session, ["act.com", "gone.ltd"], in_network=False)
        monkeypatch.setattr(profiles, "PROFILE_CHUNK", 1)  # the first missing name, in its own chunk
        with pytest.raises(KeyError, match="gone.ltd"):
            profiles.site_profiles(session, ["act.com", "gone.ltd", "lost.biz"], in_network=False)
        with pytest.raises(KeyError, match="gone.ltd"):
            profiles.site_profile(session, "gone.ltd", in_network=False)


def _profiles_of(store: Store, name: str) -> tuple[profiles.SiteProfile, profiles.SiteProfile]:
    with store.transaction() as session:
        return (profiles.site_profile(session, name, in_network=True),
                profiles.site_profiles(session, [name], in_network=True)[name])


def test_a_crawl_redirected_to_another_site_before_its_classification_is_not_the_sites_profile(world: Store) -> None:
    """The cluster race of the honest list: a crawl that followed race.co's redirect to elsewhere.com is
    committed, then its batch's classification marks race.co redirecting (status_since after the crawl).
    race.co is described by its own last crawl, not by elsewhere.com's page; so is early.us, whose crawl
    went elsewhere and was never classified; a redirect within the site (www.hop.ws) is the site's page."""
    for profile in _profiles_of(world, "race.co"):
        values = {i.value for i in profile.indicators}
        assert profile.status is Status.REDIRECTING and profile.status_since == LATE + timedelta(hours=2)
        assert profile.title == "race2 page 0" and "G-race2" in values, profile
        assert "G-target" not in values and "target0" not in values and profile.outlinks == {"race2-friend.info"}
        assert profile.redirects_to == "elsewhere.com"
    for profile in _profiles_of(world, "early.us"):
        assert profile.status is Status.ACTIVE and profile.title == "early2 page 0"
        assert "G-landing" not in {i.value for i in profile.indicators} and "G-early2" in {i.value for i in profile.indicators}
        assert profile.redirects_to == "landing.net"
    for profile in _profiles_of(world, "hop.ws"):
        assert profile.title == "hoplate page 0" and "G-hoplate" in {i.value for i in profile.indicators}
        assert profile.redirects_to is None


def test_the_migration_marks_the_redirected_fetches_an_existing_store_holds(config) -> None:  # type: ignore[no-untyped-def]
    """A store written before 0009 (no off_site) holding the race: `hydrawatch init` marks the fetch
    that ended on another registered domain, from its final URL, and the profile then skips it."""
    import sqlalchemy as sa

    from storage import migrate
    from storage.models import UtcDateTime

    store = Store.from_url(config.storage.url)
    try:
        migrate.upgrade(store.engine, "0008")
        with store.transaction() as session:
            watchlist.add_domains(session, ["race.co"], campaign="c", origin="seed", now=T0)
        old = sa.table("observations", sa.column("id"), sa.column("domain_id"), sa.column("kind"),
                       sa.column("observed_at", UtcDateTime()), sa.column("last_seen_at", UtcDateTime()),
                       sa.column("error"), sa.column("url"), sa.column("final_url"), sa.column("title"),
                       sa.column("raw", sa.JSON()))
        ind = sa.table("indicators", sa.column("domain_id"), sa.column("observation_id"), sa.column("kind"),
                       sa.column("value"), sa.column("observed_at", UtcDateTime()))
        with store.engine.begin() as conn:
            for oid, final, tag in ((1, "https://race.co/", "own"), (2, "https://www.race.co/", "www"),
                                    (3, "https://www.elsewhere.com/x", "target")):
                when = T0 + oid * DAY
                conn.execute(old.insert().values(id=oid, domain_id=1, kind="http", observed_at=when, last_seen_at=when,
                                                 error="", url="https://race.co/", final_url=final, title=tag,
                                                 raw={"domain": "race.co", "url": "https://race.co/", "final_url": final}))
                conn.execute(ind.insert().values(domain_id=1, observation_id=oid, kind="ga", value=f"G-{tag}",
                                                 observed_at=when))
        migrate.upgrade(store.engine)
        with store.transaction() as session:
            from storage.models import ObservationRow

            marked = {oid: off for oid, off in session.execute(sa.select(ObservationRow.id, ObservationRow.off_site))}
            _status(session, "race.co", Status.REDIRECTING, T0 + 4 * DAY)
        assert marked == {1: False, 2: False, 3: True}
        for profile in _profiles_of(store, "race.co"):
            assert {i.value for i in profile.indicators} == {"G-www"} and profile.redirects_to == "elsewhere.com"
    finally:
        store.close()


def test_the_store_crowd_and_the_similarity_index_never_hold_a_redirect_targets_page(world: Store) -> None:
    """A page fetched through a redirect to another registered domain stands for no domain in the store's
    crowd of page texts and looks or in the similarity index's feed; a redirect within the site does."""
    with world.transaction() as session:
        texts, looks = observations.latest_page_signatures(session)
        fed = list(observations.page_sketches(session))
    assert texts["race.co"] == b"race22" and looks["race.co"] == "Trace22", (texts["race.co"], looks["race.co"])
    assert texts["early.us"] == b"early22" and texts["redir.net"] == b"redir22"
    assert texts["hop.ws"] == b"hoplate0"  # www.hop.ws is the site itself
    offsite = {b"target0", b"landing0"} | {f"target{day}0".encode() for day in (3, 4)}
    assert not [row for row in fed if row[2] in offsite], [row for row in fed if row[2] in offsite]
    assert ("hop.ws", b"hoplate0") in {(name, sketch) for name, _, sketch in fed}
    after = max(obs_id for name, obs_id, _ in fed if name == "act.com")
    with world.transaction() as session:  # an incremental refresh skips them as well
        assert not [row for row in observations.page_sketches(session, after=0) if row[2] in offsite]
        assert all(obs_id > after for _, obs_id, _ in observations.page_sketches(session, after=after))
