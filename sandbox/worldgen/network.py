"""The campaign network before the takedown: operators, their hosting, the legitimate outlets some of
their sites impersonate, the seeded domains (clones and unique media brands) and the live hub.

Per the field notes: analytics ids are often per site, a WordPress theme folder may be named after
the site, og:locale may contradict the page language, clones copy the outlet's look and link back to
it, and operators differ in hosting, name servers and registrar.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from sandbox.worldgen import names
from sandbox.worldgen.builder import Builder, Host, favicon_png
from sandbox.worldgen.templates import FAMILIES, SiteDoc
from sandbox.worldgen.text import LANGS, NAV, OG_LOCALE, headline, local_article, news_article, short, slugify

COLORS = ("#1a3d6d", "#b30000", "#0b6e4f", "#5a189a", "#222222", "#c75000", "#005f73", "#7f5539")


@dataclass
class Operator:
    name: str
    langs: list[str]
    families: list[str]
    host: Host
    alt_host: Host | None
    analytics: str                    # "per-site", "shared" or "none"
    ga: str
    ym: str
    named_theme: bool                 # wp-custom themes named after the site
    wrong_locale: bool                # og:locale ru_RU on every page
    domains: list[str] = field(default_factory=list)


@dataclass
class Outlet:
    domain: str
    label: str
    lang: str
    family: str
    host: Host


@dataclass
class Seed:
    domain: str
    label: str
    tld: str
    parts: list[str]
    operator: Operator
    host: Host
    ip: str
    doc: SiteDoc
    favicon: bytes
    clone_of: Outlet | None = None


@dataclass
class Network:
    operators: list[Operator]
    outlets: list[Outlet]
    seeds: list[Seed]
    hub: Seed
    shared_hosts: list[Host]

    def seed(self, domain: str) -> Seed:
        return next(s for s in self.seeds if s.domain == domain)

    @property
    def tlds(self) -> set[str]:
        return {s.tld for s in self.seeds}


def make_hosts(b: Builder) -> list[Host]:
    """1-2 shared hosting providers: a big /24, the registrar's default name servers."""
    out = []
    for registrar in b.rng.sample(names.BIG_REGISTRARS, b.rng.randint(1, 2)):
        prefix = names.subnet(b.rng, b.subnets)
        ips = [f"{prefix}.{i}" for i in b.rng.sample(range(2, 254), 12)]
        out.append(Host(ips, names.registrar_ns(registrar[0]), registrar, label="shared"))
    return out


def make_operator(b: Builder, index: int, shared: list[Host]) -> Operator:
    rng = b.rng
    registrar = rng.choice(names.REGISTRARS)
    prefix = names.subnet(rng, b.subnets)
    if rng.random() < 0.6:
        ns_domain = f"{names.coin(rng)}-dns.{rng.choice(('net', 'com', 'ru', 'ee', 'info'))}"
        ns = [f"ns1.{ns_domain}", f"ns2.{ns_domain}"]
    else:
        ns = names.registrar_ns(registrar[0])
    host = Host([f"{prefix}.{i}" for i in rng.sample(range(2, 254), rng.randint(2, 6))], ns, registrar, "dedicated")
    alt = rng.choice(shared) if rng.random() < 0.5 else None
    langs = rng.sample(LANGS, rng.randint(1, 2))
    fams = rng.sample([f for f in FAMILIES if f != "wp-stock"], rng.randint(1, 2))
    if rng.random() < 0.4:
        fams[-1] = "wp-stock"
    return Operator(name=f"operator-{index + 1}", langs=langs, families=fams, host=host, alt_host=alt,
                    analytics=rng.choice(("per-site", "per-site", "shared", "none")), ga=names.ga4(rng),
                    ym=names.metrica(rng), named_theme=rng.random() < 0.6, wrong_locale=rng.random() < 0.4)


def make_outlet(b: Builder, lang: str) -> Outlet:
    rng = b.rng
    while True:
        label = names.outlet_label(rng, lang)
        domain = f"{label}.{rng.choice(names.OUTLET_TLDS[lang])}"
        if b.claim(domain):
            break
    registrar = rng.choice(names.OLD_REGISTRARS)
    prefix = names.subnet(rng, b.subnets)
    host = Host([f"{prefix}.{rng.randint(2, 250)}"], [f"ns1.{label}-media.net", f"ns2.{label}-media.net"],
                registrar, "outlet")
    family = rng.choice([f for f in FAMILIES if f != "wp-stock"])
    title = label.replace("-", " ").title()
    arts = tuple(local_article(rng, lang) for _ in range(rng.randint(3, 5)))
    doc = SiteDoc(domain=domain, name=title, lang=lang, family=family, tagline=short(headline(rng, lang), 40),
                  articles=arts, og_locale=OG_LOCALE[lang], ga=names.ga4(rng) if rng.random() < 0.7 else "",
                  theme=label, author=names.author_slug(rng), color=rng.choice(COLORS))
    b.docs[domain] = doc
    b.add(domain, host, b.old(1995, 2012), b.site(doc, favicon_png(rng)), nrd=False)
    return Outlet(domain, label, lang, family, host)


def site_doc(b: Builder, op: Operator, domain: str, label: str, outlet: Outlet | None) -> SiteDoc:
    rng = b.rng
    lang = outlet.lang if outlet else rng.choice(op.langs)
    family = outlet.family if outlet else rng.choice(op.families)
    if outlet and op.named_theme and rng.random() < 0.3:
        family = "wp-custom"
    per_site = op.analytics == "per-site"
    ga = (names.ga4(rng) if per_site else op.ga) if op.analytics != "none" and rng.random() < 0.8 else ""
    ym = (names.metrica(rng) if per_site else op.ym) if op.analytics != "none" and rng.random() < 0.4 else ""
    menu: tuple[tuple[str, str], ...] = ()
    if outlet:
        menu = tuple((t, f"https://{outlet.domain}/{slugify(t)}/") for t in NAV[lang][:4])
        menu += (("Home", f"https://{outlet.domain}/"),)
    name = outlet.label.replace("-", " ").title() if outlet else label.replace("-", " ").title()
    return SiteDoc(domain=domain, name=name, lang=lang, family=family, tagline=short(headline(rng, lang), 48),
                   articles=tuple(news_article(rng, lang) for _ in range(rng.randint(3, 5))),
                   og_locale="ru_RU" if op.wrong_locale else OG_LOCALE[lang], ga=ga, ym=ym,
                   telegram=names.handle(rng, label) if rng.random() < 0.7 else "",
                   theme=label if op.named_theme else "", author=names.author_slug(rng),
                   color=rng.choice(COLORS), menu=menu)


def make_seed(b: Builder, op: Operator, outlets: list[Outlet]) -> Seed:
    rng = b.rng
    while True:
        outlet = rng.choice(outlets) if outlets and rng.random() < 0.3 else None
        if outlet:
            label, parts, tld = outlet.label, outlet.label.split("-"), rng.choice(names.CLONE_TLDS)
        else:
            label, parts = names.brand_label(rng)
            tld = rng.choice(names.SEED_TLDS)
        domain = f"{label}.{tld}"
        if b.claim(domain):
            break
    host = op.alt_host if op.alt_host and rng.random() < 0.35 else op.host
    ip = host.ip(rng)
    doc = site_doc(b, op, domain, label, outlet)
    fav = favicon_png(rng)
    registered = b.between(b.now - timedelta(days=36 * 30), b.now - timedelta(days=3 * 30))
    b.add(domain, host, registered, b.site(doc, fav), nrd=False, ip=ip)
    b.docs[domain] = doc
    b.seeds.append(domain)
    op.domains.append(domain)
    return Seed(domain, label, tld, parts, op, host, ip, doc, fav, outlet)


def build_network(b: Builder) -> Network:
    rng = b.rng
    shared = make_hosts(b)
    operators = [make_operator(b, i, shared) for i in range(rng.randint(2, 4))]
    if all(op.alt_host is None for op in operators):  # someone always rents on the shared host
        rng.choice(operators).alt_host = shared[0]
    langs = sorted({lang for op in operators for lang in op.langs})
    outlets = [make_outlet(b, rng.choice(langs)) for _ in range(rng.randint(3, 7))]
    total = rng.randint(20, 60)
    seeds = [make_seed(b, operators[i % len(operators)], outlets) for i in range(total)]
    hub = rng.choice([s for s in seeds if s.clone_of is None] or seeds)
    brands = [s for s in seeds if s.clone_of is None and s is not hub]
    if brands and not any(s.doc.family == "wp-stock" for s in seeds):  # the stock theme decoys share
        for seed in rng.sample(brands, min(len(brands), rng.randint(1, 3))):
            seed.doc = seed.doc.swapped(family="wp-stock")
            b.docs[seed.domain] = seed.doc
            b.domains[seed.domain]["web"] = b.site(seed.doc, seed.favicon)
    return Network(operators, outlets, seeds, hub, shared)
