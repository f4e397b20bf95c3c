"""The config sections the scheduler reads: [discovery], [alerts], [schedule] (see detect/settings.py),
and :class:`CycleSettings`, every section a cycle needs, which the shell's Config extends."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from crawler.settings import CrawlerSettings, DnsSettings, RdapSettings
from detect.settings import (
    BrandsSettings,
    ScoringSettings,
    SettingsError,
    Show,
    check_url,
    key,
    nonnegative,
    parse_section,
    plain,
    port,
    positive,
    url_or_empty,
)
from storage.settings import StorageSettings


def fuzzers(name: str, value: list[str], show: Show) -> None:
    # Imported here: the registry pulls in dnstwist and the PSL (~0.4 s), which a command whose config
    # names no fuzzers (config show, status, serve) should not pay for.
    from detect.lookalike import GENERATORS

    for fuzzer in value:
        if fuzzer not in GENERATORS:
            raise SettingsError(f"{name}: unknown fuzzer {fuzzer!r} (known: {', '.join(GENERATORS)})")


def certstream_url(name: str, value: str, show: Show) -> None:
    if value:
        check_url(name, value, show, ("ws", "wss"))


def nrd_templates(name: str, value: list[str], show: Show) -> None:
    from crawler.nrd_dates import template_problem

    for feed in value:
        if (problem := template_problem(feed)) is not None:
            raise SettingsError(f"{name}: {show(name, feed)}: {problem}")


def tlds(name: str, value: str | list[str], show: Show) -> None:
    if isinstance(value, str) and value != "all":
        raise SettingsError(f'{name}: expected "all" or a list of TLDs, got {show(name, value)}')


MAX_SLICE_NAMES = 100_000
"""The most names a sweep's ``names:<k>`` job may carry (a worker refuses a larger payload as malformed)."""


def slice_names(name: str, value: int, show: Show) -> None:
    positive(name, value, show)
    if value > MAX_SLICE_NAMES:
        raise SettingsError(f"{name}: at most {MAX_SLICE_NAMES}, got {show(name, value)}")


ZONE_TLD_MAX = 27
"""The longest zone TLD a config may name: each zone is a sweep source ``zone:<tld>``, a name the store keeps
in 32 characters (the longest TLD delegated today, an IDN in punycode, has 24)."""


def tld_labels_ok(tld: str) -> bool:
    """``tld`` is dot-separated labels of ASCII letters, digits and hyphens (a zone's TLD)."""
    return bool(tld) and all(part.replace("-", "").isalnum() and part.isascii() for part in tld.split("."))


def zone_files(name: str, value: list[dict[str, str]], show: Show) -> None:
    seen: set[str] = set()
    for i, entry in enumerate(value):
        where = f"{name}[{i}]"
        unknown = sorted(set(entry) - {"tld", "url", "path"})
        if unknown:
            raise SettingsError(f"{where}: unknown key {unknown[0]!r} (known: tld, url, path)")
        tld = entry.get("tld", "").strip(".").lower()
        if not tld_labels_ok(tld):
            raise SettingsError(f"{where}.tld: expected a TLD such as \"net\", got {show(where + '.tld', entry.get('tld', ''))}")
        if len(tld) > ZONE_TLD_MAX:
            raise SettingsError(f"{where}.tld: longer than {ZONE_TLD_MAX} characters")
        if tld in seen:  # one state a zone (<tld>.names …): two entries would read and write the same files
            raise SettingsError(f"{where}.tld: {tld!r} is listed twice (one entry a zone)")
        seen.add(tld)
        if bool(entry.get("url")) == bool(entry.get("path")):
            raise SettingsError(f"{where}: give exactly one of url and path")
        if entry.get("url"):
            check_url(f"{where}.url", entry["url"], show)


@dataclass(frozen=True)
class DiscoverySettings:
    tlds: str | list[str] = field(default="all", metadata=key(
        '"all" (every ICANN TLD in the bundled Public Suffix List) or a list of TLDs', tlds))
    fuzzers: list[str] = field(default_factory=lambda: [
        "tld-swap", "addition", "omission", "hyphenation", "repetition", "replacement",
        "transposition", "vowel-swap", "homoglyph", "bitsquatting"], metadata=key(
        "lookalike generators: tld-swap plus dnstwist's fuzzers", fuzzers))
    ct_search_url: str = field(default="", metadata=key(
        'crt.sh-compatible search URL with {query}: "http://host/?q={query}&output=json"', url_or_empty))
    ct_timeout: float = field(default=60.0, metadata=key(
        "seconds per CT search (crt.sh takes tens of seconds on a busy day)", positive))
    ct_min_keyword: int = field(default=6, metadata=key(
        "a CT keyword this long or longer is searched inside names (%keyword%); a shorter one only as a whole "
        "label on any suffix (keyword.%), as crt.sh cannot answer a short %keyword% before its timeout", positive))
    ct_attempts: int = field(default=3, metadata=key(
        "tries per CT query when the server answers 429/502/503/504 or times out", positive))
    ct_backoff: float = field(default=5.0, metadata=key(
        "seconds before the second try of a CT query, doubled each time; a longer Retry-After wins", nonnegative))
    ct_min_interval: float = field(default=2.0, metadata=key(
        "seconds between two CT queries (politeness: crt.sh is a free service)", nonnegative))
    ct_cache_hours: float = field(default=12.0, metadata=key(
        "a CT answer is kept per query for this long (in the store): sweeps within it do not ask again; "
        "0 = ask every sweep", nonnegative))
    ct_recent_days: float = field(default=7.0, metadata=key(
        "generic news words in the network's names (sentinel, gazette …) are searched in CT too, but only among "
        "certificates logged this many days back; 0 = never search them", nonnegative))
    ct_recent_max: int = field(default=100, metadata=key(
        "names kept per generic word's search, the most recently logged first", positive))
    certstream_url: str = field(default="", metadata=key(
        "a self-hosted CertStream-compatible websocket (ws:// or wss://, e.g. certstream-server-go); each sweep "
        "listens certstream_seconds and screens the names as an NRD feed's; \"\" = off", certstream_url))
    certstream_seconds: float = field(default=60.0, metadata=key(
        "seconds each sweep listens to the CertStream server", positive))
    nrd_feeds: list[str] = field(default_factory=list, metadata=key(
        "newly-registered-domain lists: file paths or http(s) URLs; plain, gzip or zip (one or several files), "
        "one domain a line; {date}, {date:%Y%m%d} or {date_base64:%Y-%m-%d.zip} in the address for daily files",
        nrd_templates))
    nrd_max_days: int = field(default=7, metadata=key(
        "a dated feed is read for the days since the one last read (the first time: yesterday and today), at most "
        "this many", positive))
    nrd_max_bytes: int = field(default=200_000_000, metadata=key(
        "a feed file over this many bytes, downloaded or decompressed, is reported and skipped", positive))
    max_candidates: int = field(default=200_000, metadata=key(
        "cap on the names of each NRD feed that are not lexically close to the network and are checked "
        "against its infrastructure by DNS (the rest is counted in candidates_truncated); lookalikes, links, "
        "CT and close feed names are never capped", positive))
    pdns_url: str = field(default="", metadata=key(
        'passive-DNS server, CIRCL-style REST/JSON (one COF object a line): "https://www.circl.lu/pdns/query/"; '
        'the network\'s addresses and name servers are appended; "" = no pDNS route', url_or_empty, secret="url"))
    pdns_user: str = field(default="", metadata=key("pDNS basic-auth user (CIRCL gives accounts on request)"))
    pdns_password: str = field(default="", metadata=key(
        "pDNS basic-auth password (secret: read raw from the environment, never shown)", secret="value"))
    pdns_max_per_query: int = field(default=50, metadata=key(
        "an address or name server on which pDNS shows more registrable names than this is shared hosting: "
        "skipped whole (noted), never cut to a sample", positive))
    pdns_timeout: float = field(default=30.0, metadata=key("seconds per pDNS query", positive))
    recheck_rejected_hours: float = field(default=168.0, metadata=key(
        "a rejected candidate whose DNS answer is unchanged is not crawled again for this long", positive))
    zone_files: list[dict[str, str]] = field(default_factory=list, metadata=key(
        'TLD zone files (ICANN CZDS layout, .txt.gz or plain) whose day-to-day difference gives new names: '
        '[{tld = "net", url = "https://czds-api.icann.org/czds/downloads/net.zone"}, {tld = "org", path = '
        '"/data/org.txt.gz"}]', zone_files))
    zone_state_dir: str = field(default="var/zones", metadata=key(
        "directory keeping each zone's sorted names between reads (about 20 bytes a name)"))
    zone_max_bytes: int = field(default=4_000_000_000, metadata=key(
        "a zone file larger than this, compressed or decompressed, is reported and skipped", positive))
    zone_timeout: float = field(default=120.0, metadata=key(
        "seconds a zone download may wait to connect or for its next bytes", positive))
    zone_token: str = field(default="", metadata=key(
        "bearer token sent with zone_files URLs (CZDS: the accessToken from ICANN's authenticate API, valid "
        "24 h); sent over https or to loopback only (secret: read raw from the environment, never shown)",
        secret="value"))
    zone_refresh_hours: float = field(default=24.0, metadata=key(
        "a zone URL read less than this long ago is not downloaded again (CZDS terms: once a day); a zone "
        "path is read again when the file changes", positive))

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], show: Show = plain) -> DiscoverySettings:
        return parse_section(cls, "discovery", data, show)


@dataclass(frozen=True)
class AlertsSettings:
    smtp_host: str = field(default="", metadata=key('SMTP server; "" disables e-mail'))
    smtp_port: int = field(default=25, metadata=key("SMTP port", port))
    smtp_starttls: bool = field(default=False, metadata=key("upgrade with STARTTLS before auth"))
    smtp_implicit_tls: bool = field(default=False, metadata=key(
        "TLS from the first byte (SMTPS, usually port 465) instead of STARTTLS; not with smtp_starttls"))
    smtp_ca_file: str = field(default="", metadata=key(
        'PEM file of the CA certificates that may sign the SMTP server\'s certificate; "" = the system\'s'))
    allow_plaintext_auth: bool = field(default=False, metadata=key(
        "send AUTH (the password) over a connection without TLS; only for a trusted local relay"))
    smtp_username: str = field(default="", metadata=key("SMTP AUTH user; \"\" = no auth"))
    smtp_password: str = field(default="", metadata=key(
        "SMTP AUTH password (secret: read raw from the environment, never shown)", secret="value"))
    mail_from: str = field(default="hydrawatch@localhost", metadata=key("From address"))
    mail_to: list[str] = field(default_factory=list, metadata=key("recipients"))
    digest: bool = field(default=False, metadata=key("one mail per cycle instead of one per clone"))
    takedowns: bool = field(default=False, metadata=key(
        "also mail each takedown (seized or suspended) of a watched domain, once per status change"))
    max_attempts: int = field(default=20, metadata=key("delivery attempts before a row is marked failed", positive))
    retry_backoff: float = field(default=30.0, metadata=key(
        "seconds before the first retry of a failed delivery; doubles each time, capped at 1 h", positive))
    base_url: str = field(default="", metadata=key(
        "public URL of `hydrawatch serve` (with ?token=… if it has one); mails link to URL#/domain/NAME; "
        "\"\" = no link", url_or_empty))

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], show: Show = plain) -> AlertsSettings:
        alerts = parse_section(cls, "alerts", data, show)
        if alerts.smtp_implicit_tls and alerts.smtp_starttls:
            raise SettingsError("alerts.smtp_implicit_tls: cannot be combined with alerts.smtp_starttls (choose one)")
        return alerts


@dataclass(frozen=True)
class ScheduleSettings:
    dns_interval: int = field(default=600, metadata=key("seconds between DNS probe rounds", positive))
    crawl_interval: int = field(default=21600, metadata=key("seconds between crawl rounds", positive))
    discovery_interval: int = field(default=3600, metadata=key("seconds between discovery sweeps", positive))
    alert_interval: int = field(default=60, metadata=key("seconds between outbox deliveries", positive))

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], show: Show = plain) -> ScheduleSettings:
        return parse_section(cls, "schedule", data, show)


@dataclass(frozen=True)
class ClusterSettings:
    enabled: bool = field(default=False, metadata=key(
        "true: jobs go through the PostgreSQL job queue (procrastinate, the `cluster` extra) and "
        "`hydrawatch worker` processes run them; false: the embedded daemon, `hydrawatch run`"))
    periodic: bool = field(default=True, metadata=key(
        "true: the workers queue each stage's periodic job from [schedule] (once a period, whatever the number of "
        "workers); false: they queue none, and cycles come only from `run --once` (a systemd timer or cron); the "
        "stalled-job reaper runs either way"))
    stalled_seconds: float = field(default=30.0, metadata=key(
        "a worker silent (no heartbeat) this long is taken for dead and its running jobs are queued again",
        positive))
    poll_seconds: float = field(default=5.0, metadata=key(
        "seconds a worker waits before it looks again for a job no notification announced (one queued again "
        "by a reaper or after an error, one whose lock another job held); a new job wakes it at once", positive))
    keep_jobs_hours: int = field(default=72, metadata=key(
        "finished jobs are deleted from the queue after this many hours (failed ones are kept)", positive))
    observe_batch: int = field(default=500, metadata=key(
        "domains per probe or crawl batch: a round over more is split into batches (embedded: run one after "
        "another; cluster mode: `observe` jobs that any worker takes, several at once); a crawl round never splits "
        "one host's sites over two batches unless that host has more sites than this", positive))
    sweep_labels: int = field(default=20, metadata=key(
        "network labels per discovery sweep part: each part generates and resolves its labels' lookalikes "
        "(embedded: one after another; cluster mode: `sweep_part` jobs that any worker takes, several at once)",
        positive))
    sweep_names: int = field(default=2000, metadata=key(
        "cluster mode: names a discovery sweep read from the store (deferred by an earlier hunt, hub links and "
        "redirect targets of live network sites, stored pages similar to the network's) resolved per `source` job "
        "(`names:<k>`), which any worker takes, several at once; embedded: all in one (at most 100000)",
        slice_names))
    score_batch: int = field(default=100, metadata=key(
        "cluster mode: candidates per `score` job: a hunt that observed more scores them in such jobs, which "
        "any worker takes, each reading the network's profiles, every candidate's profile and the store's "
        "statistics itself (about 1 s at 1,000 network sites on PostgreSQL, read in bulk); no more: scored in "
        "the hunt's own job, as the embedded process always does. Scoring a candidate costs ~0.1 s at 1,000 "
        "network sites and grows with the network and the store, so 100 candidates are ~10 s of scoring for "
        "~1 s of reading (bench/RESULTS.md \"A hunt's scoring\")", positive))
    resume_max_age: float = field(default=3600.0, metadata=key(
        "seconds: a stage's job retried after its worker died (or after an error) resumes its first attempt "
        "(same cycle-log row, same `now`, only the batches and parts not done) only if that attempt began less "
        "than this long ago; otherwise it starts a fresh cycle at the current time, the old row marked abandoned "
        "and its still-queued batches, parts and sweep sources cancelled", positive))
    takedown_slices: int = field(default=4, metadata=key(
        "cluster mode: a takedown hunt's lookalikes of each label group are resolved in this many `sweep_part` "
        "jobs (slices by a hash of the name, each generating the group's lookalikes and resolving its share), so "
        "the takedown of one big label spreads over the workers; 1 = one part per group; embedded: always one",
        positive))
    dns_budget: int = field(default=0, metadata=key(
        "cluster mode: most DNS questions in flight to the resolvers across every worker together (a shared "
        "recursive resolver's or a provider's limit); each worker takes an equal share among the workers at work "
        "(running a job that asks DNS, a heartbeat within stalled_seconds), counted again as each job starts and "
        "every heartbeat, never above [dns] concurrency; 0 = no budget: each worker up to [dns] concurrency, "
        "narrowing on its own signs of a resolver falling behind", nonnegative))
    zone_worker: bool = field(default=True, metadata=key(
        "true: this worker takes the `zones` queue, where a sweep's zone-file sources run (one job a zone, under "
        "that zone's lock), and so must hold the "
        "zone state ([discovery] zone_state_dir); set it true on exactly one machine, or on every machine whose "
        "zone_state_dir is one shared directory; false: it takes every other job"))
    zone_wait_seconds: float = field(default=300.0, metadata=key(
        "seconds a sweep waits for its zone-file job while no running worker takes the `zones` queue "
        "(cluster.zone_worker); then the zone source is reported as a source error, the sweep goes on, and the "
        "zone's difference waits for the next sweep", positive))

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], show: Show = plain) -> ClusterSettings:
        return parse_section(cls, "cluster", data, show)


@dataclass(frozen=True)
class CycleSettings:
    """Every section a cycle and the daemon read, each the settings of the package that reads it."""

    storage: StorageSettings = field(default_factory=StorageSettings)
    dns: DnsSettings = field(default_factory=DnsSettings)
    crawler: CrawlerSettings = field(default_factory=CrawlerSettings)
    rdap: RdapSettings = field(default_factory=RdapSettings)
    discovery: DiscoverySettings = field(default_factory=DiscoverySettings)
    scoring: ScoringSettings = field(default_factory=ScoringSettings)
    brands: BrandsSettings = field(default_factory=BrandsSettings)
    alerts: AlertsSettings = field(default_factory=AlertsSettings)
    schedule: ScheduleSettings = field(default_factory=ScheduleSettings)
    cluster: ClusterSettings = field(default_factory=ClusterSettings)
