"""Replacement sites: 10-20 per world, by every discovery route, each a drawn kind of copy of its
predecessor with a drawn set of ties to the network (some with only two independent ties).

Routes: tld-swap, typo-same-tld, typo-other-tld, hub-outlink, ct-only, nrd-only, redirect. They are
registered in same-day bursts between T + 30 min and now - 30 min, partly through a new registrar on
new hosts (the 2024 wave moved to a German registrar), partly on the network's own infrastructure.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sandbox.worldgen import names
from sandbox.worldgen.builder import Builder, Host, favicon_png
from sandbox.worldgen.network import Network, Seed
from sandbox.worldgen.templates import FAMILIES, SiteDoc
from sandbox.worldgen.text import news_article, rewrite

ROUTES = ("tld-swap", "typo-same-tld", "typo-other-tld", "hub-outlink", "ct-only", "nrd-only", "redirect")
FILL_WEIGHTS = {"tld-swap": 5, "typo-same-tld": 2, "typo-other-tld": 2, "hub-outlink": 2, "ct-only": 1,
                "nrd-only": 1}
UNRELATED = ("blue", "river", "nova", "smart", "point", "metro", "pixel", "north", "bright", "urban", "delta",
             "vista", "prime", "open", "rapid", "clear", "solid", "fresh")
SUFFIXES = ("today", "info", "now", "press", "daily", "report", "hub", "live")


def new_hosts(b: Builder, net: Network) -> list[Host]:
    """The replacement wave's own hosts: new /24s, a small DNS provider, a registrar the network never used."""
    used = {op.host.registrar for op in net.operators}
    out = []
    for _ in range(b.rng.randint(1, 2)):
        registrar = b.rng.choice([r for r in names.REGISTRARS if r not in used] or names.REGISTRARS)
        prefix = names.subnet(b.rng, b.subnets)
        ns_domain = f"{names.coin(b.rng)}dns.{b.rng.choice(('de', 'net', 'ee', 'io'))}"
        out.append(Host([f"{prefix}.{i}" for i in b.rng.sample(range(2, 254), 6)],
                        [f"ns1.{ns_domain}", f"ns2.{ns_domain}"], registrar, "new"))
    return out


def plan_routes(b: Builder, lost: list[Seed], redirecting: list[Seed]) -> list[tuple[str, Seed]]:
    """(route, predecessor) pairs: every route at least once, one replacement per lost seed at most."""
    rng = b.rng
    n = rng.randint(10, min(20, len(lost) + len(redirecting)))
    routes = [r for r in ROUTES if r != "redirect"]
    routes += rng.choices(list(FILL_WEIGHTS), weights=list(FILL_WEIGHTS.values()), k=n - len(redirecting) - len(routes))
    pool = list(lost)
    rng.shuffle(pool)
    pairs: list[tuple[str, Seed]] = [("redirect", s) for s in redirecting]
    for route in sorted(routes, key=lambda r: r != "ct-only"):  # ct-only first: it needs a keyword
        pick = pool[0]
        if route == "ct-only":
            keyed = [s for s in pool if names.distinctive_part(s.parts)]
            if not keyed:
                route = "tld-swap"
            else:
                pick = keyed[0]
        pool.remove(pick)
        pairs.append((route, pick))
    return pairs


def new_name(b: Builder, net: Network, route: str, seed: Seed) -> str:
    rng = b.rng
    for _ in range(200):
        if route == "tld-swap":
            pool = names.NO_RDAP_SWAP if rng.random() < 0.45 else names.SWAP_TLDS + names.SEED_TLDS
            name = f"{seed.label}.{rng.choice([t for t in pool if t != seed.tld])}"
        elif route in ("typo-same-tld", "typo-other-tld"):
            label, _ = names.typo(rng, seed.label)
            others = sorted(net.tlds - {seed.tld}) or [t for t in names.SEED_TLDS if t != seed.tld]
            name = f"{label}.{seed.tld if route == 'typo-same-tld' else rng.choice(others)}"
        elif route == "ct-only":
            part = names.distinctive_part(seed.parts) or seed.label
            word = rng.choice(SUFFIXES)
            name = f"{part}-{word}.{rng.choice(names.SWAP_TLDS)}" if rng.random() < 0.6 else \
                f"{word}{part}.{rng.choice(names.SWAP_TLDS)}"
        elif route == "redirect":
            name = f"{seed.label}{rng.choice(('24', '-news', '-online', 'now', '-tv'))}.{rng.choice(names.SEED_TLDS)}"
        else:  # hub-outlink, nrd-only: a new name unrelated to the network's labels
            a, c = rng.sample(UNRELATED, 2)
            name = f"{a}{c}{rng.choice(('', '', str(rng.randint(2, 99))))}.{rng.choice(names.SEED_TLDS)}"
        if (name.split(".")[0] != seed.label or route == "tld-swap") and b.claim(name):
            return name
    raise RuntimeError(f"no free name for {route} of {seed.domain}")


def derive(b: Builder, net: Network, seed: Seed, domain: str, copy: str, keep: dict[str, bool],
           content_tie: str | None) -> tuple[SiteDoc, list[str]]:
    """The replacement's page model from its predecessor's, and the content ties it keeps."""
    rng = b.rng
    doc = seed.doc
    arts = list(doc.articles)
    family = doc.family
    if copy == "rewritten":
        half = set(rng.sample(range(len(arts)), max(1, len(arts) // 2)))
        if content_tie in ("social-handle", "theme-folder"):
            half = set(range(len(arts)))
        arts = [rewrite(rng, a, doc.lang) if i in half else a for i, a in enumerate(arts)]
        rng.shuffle(arts)
    elif copy == "partial":
        kept = rng.sample(arts, rng.randint(1, max(1, len(arts) - 1)))
        arts = kept + [news_article(rng, doc.lang) for _ in range(rng.randint(1, 3))]
        rng.shuffle(arts)
    elif copy == "new-template":
        choices = [f for f in seed.operator.families + list(FAMILIES) if f != doc.family and f != "wp-stock"]
        family = "wp-custom" if content_tie == "theme-folder" else rng.choice(choices)
        if content_tie in ("social-handle", "theme-folder"):
            arts = [news_article(rng, doc.lang) for _ in range(rng.randint(3, 4))]
        else:
            arts = rng.sample(arts, max(1, len(arts) // 2)) + [rewrite(rng, a, doc.lang) for a in arts[:1]]
    new = doc.swapped(domain=domain, family=family, articles=tuple(arts),
                      ga=doc.ga if keep["analytics"] else (names.ga4(rng) if doc.ga else ""),
                      ym=doc.ym if keep["analytics"] else (names.metrica(rng) if doc.ym else ""),
                      telegram=doc.telegram if keep["social"] else "",
                      theme=doc.theme if keep["theme"] else "",
                      author=doc.author if keep["text"] else names.author_slug(rng))
    ties = []
    if any(a in doc.articles for a in new.articles):
        ties.append("text")
    if family == doc.family and family not in ("wp-custom", "wp-stock"):
        ties.append("template")
    if new.theme and new.family == "wp-custom" and doc.theme:
        ties.append("theme-folder")
    if new.telegram:
        ties.append("social-handle")
    if (new.ga and new.ga == doc.ga) or (new.ym and new.ym == doc.ym):
        ties.append("analytics")
    if seed.clone_of:
        ties.append("outlet-link")
    return new, ties


def build_replacements(b: Builder, net: Network, lost: list[Seed], redirecting: list[Seed]) -> list[tuple[str, str]]:
    """Declare every replacement and its answer-key entry; returns the hub's new (title, URL) links."""
    rng = b.rng
    wave = new_hosts(b, net)
    bursts = [b.between(b.T + timedelta(minutes=31), b.now - timedelta(hours=5)) for _ in range(rng.randint(1, 3))]
    hub_links: list[tuple[str, str]] = []
    for route, seed in plan_routes(b, lost, redirecting):
        domain = new_name(b, net, route, seed)
        registered = min(rng.choice(bursts) + timedelta(minutes=rng.randint(0, 90)), b.now - timedelta(hours=4))
        minimal = seed.clone_of is None and rng.random() < 0.3
        copy = rng.choices(("verbatim", "rewritten", "partial", "new-template"), weights=(3, 3, 2, 2))[0]
        content_tie = None
        if minimal:
            options = ["text"] if route in ("nrd-only",) else ["text", "social-handle"]
            if route in ("hub-outlink", "redirect") and seed.doc.theme:
                options.append("theme-folder")
            content_tie = rng.choice([o for o in options if o != "social-handle" or seed.doc.telegram])
            copy = "new-template"
            keep = {"analytics": False, "social": content_tie == "social-handle",
                    "theme": content_tie == "theme-folder", "text": False, "favicon": False}
        elif copy == "verbatim":
            keep = dict.fromkeys(("analytics", "social", "theme", "text", "favicon"), True)
        else:
            keep = {k: rng.random() < p for k, p in
                    (("analytics", 0.4), ("social", 0.6), ("theme", 0.7), ("text", 0.5), ("favicon", 0.5))}
        # hosting: the predecessor's IP, its /24, its name servers only, or a new host
        if route == "nrd-only":
            hosting = rng.choice(("same-ip", "same-ns"))
        elif minimal:
            hosting = "new"
        else:
            hosting = rng.choices(("same-ip", "same-subnet", "same-ns", "new"), weights=(2, 2, 1, 4))[0]
        new_host = rng.choice(wave)
        if hosting in ("same-ip", "same-subnet"):
            host, ip = seed.host, seed.ip if hosting == "same-ip" else seed.host.ip(rng)
        elif hosting == "same-ns":
            host, ip = Host(new_host.ips, list(seed.host.ns), new_host.registrar), new_host.ip(rng)
        else:
            host, ip = new_host, new_host.ip(rng)
        same_registrar = not minimal and hosting != "new" and rng.random() < 0.5
        if not same_registrar:
            host = Host(host.ips, host.ns, new_host.registrar if host.registrar == seed.host.registrar
                        else host.registrar)
        doc, ties = derive(b, net, seed, domain, copy, keep, content_tie)
        if copy == "new-template" and doc.family == seed.doc.family:
            copy = "rewritten"  # theme-folder tie on a WordPress predecessor: same theme, all text new
        fav = seed.favicon if keep["favicon"] else favicon_png(rng)
        if keep["favicon"]:
            ties.append("favicon")
        ties += [t for t, on in (("same-ip", ip == seed.ip), ("same-subnet", ip != seed.ip and ip.rsplit(".", 1)[0]
                 == seed.ip.rsplit(".", 1)[0]), ("same-ns", host.ns == seed.host.ns),
                 ("same-registrar", host.registrar == seed.host.registrar)) if on]
        route_tie = {"tld-swap": "name", "typo-same-tld": "name", "typo-other-tld": "name", "ct-only": "name-keyword",
                     "hub-outlink": "hub-link", "redirect": "redirect"}.get(route)
        nrd = route == "nrd-only" or (route in ("tld-swap", "typo-same-tld", "typo-other-tld") and rng.random() < 0.4)
        ct: bool = route == "ct-only" or (route not in ("hub-outlink", "nrd-only") and rng.random() < 0.5)
        b.add(domain, host, registered, b.site(doc, fav), nrd=nrd, ct=ct, ip=ip)
        b.docs[domain] = doc
        if route == "hub-outlink":
            hub_links.append((doc.name, f"https://{domain}/"))
        if route == "redirect":
            from sandbox.worldgen.takedown import redirect_to
            redirect_to(b, seed, domain)
        relations = ["replacement", "mirror"] if route == "redirect" else ["replacement"]
        entry: dict[str, Any] = {"to": domain, "from": seed.domain, "route": route, "copy": copy,
                                 "ties": ([route_tie] if route_tie else []) + ties, "relations": relations}
        b.replacements.append(entry)
    return hub_links
