"""Decoys: every kind of site a hunt meets that is NOT a replacement, each class drawn per seed.

legit-outlet (declared by network.py), aged namesakes and re-registered campaign domains, old parked
lookalikes, many unrelated sites on the network's shared hosts, sites on the stock CMS theme the
network also uses, bot-challenge / default-server / coming-soon fronts, unrelated sites the hub links
to, CT keyword names, resolving shops in the NRD feed, ccTLD lookalikes without RDAP, old typo squats.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sandbox.worldgen import decoy_pages as pages
from sandbox.worldgen import names
from sandbox.worldgen.builder import Builder, Host
from sandbox.worldgen.network import Network, Seed
from sandbox.worldgen.text import LANGS

SHOP_WORDS = ("shop", "store", "market", "boutique", "deals", "studio", "kitchen", "garden", "home", "craft",
              "bakery", "coffee", "travel", "fitness", "pets", "books", "wine", "bikes", "design", "photo")


class Decoys:
    """Adds decoys of each class to a Builder; `hub_links` collects what the hub links to."""

    def __init__(self, b: Builder, net: Network) -> None:
        self.b, self.net, self.rng = b, net, b.rng
        self.langs = sorted({lang for op in net.operators for lang in op.langs})
        self.misc = [self._host(names.rng_registrar(self.rng)) for _ in range(4)]
        self.hub_before: list[tuple[str, str]] = []
        self.hub_after: list[tuple[str, str]] = []

    def _host(self, registrar: tuple[str, str]) -> Host:
        prefix = names.subnet(self.rng, self.b.subnets)
        provider = f"{names.coin(self.rng)}host.{self.rng.choice(('com', 'net', 'eu', 'de'))}"
        return Host([f"{prefix}.{i}" for i in self.rng.sample(range(2, 254), 8)],
                    [f"ns1.{provider}", f"ns2.{provider}"], registrar, "misc")

    def lang(self) -> str:
        return self.rng.choice(self.langs) if self.rng.random() < 0.6 else self.rng.choice(LANGS)

    def seed(self) -> Seed:
        return self.rng.choice(self.net.seeds)

    def add(self, domain: str, cls: str, host: Host, registered: Any, page: dict[str, Any] | str, *,
            nrd: bool = True, ct: bool = True, ip: str | None = None) -> None:
        web = page if isinstance(page, dict) else {"pages": {"/": {"html": page}}}
        self.b.add(domain, host, registered, web, nrd=nrd, ct=ct, ip=ip, mx=self.rng.random() < 0.5)
        self.b.decoys.append({"domain": domain, "class": cls})

    def name(self, make: Callable[[], str]) -> str | None:
        for _ in range(30):
            label_tld = make()
            if self.b.claim(label_tld):
                return label_tld
        return None

    def recent(self, days_before_t: float = 1.0) -> Any:
        """A registration moment from the day before the takedown up to now."""
        return self.b.between(self.b.T - timedelta(days=days_before_t), self.b.now - timedelta(minutes=20))

    def any_day(self) -> Any:
        if self.rng.random() < 0.4:
            return self.recent(1.5)
        return self.b.between(self.b.now - timedelta(days=900), self.b.now - timedelta(days=4))

    def shopish(self) -> str:
        label = f"{names.coin(self.rng)}{self.rng.choice(SHOP_WORDS)}"
        if self.rng.random() < 0.3:
            label = f"{self.rng.choice(SHOP_WORDS)}-{names.coin(self.rng)}"
        return f"{label}.{self.rng.choice(names.DECOY_TLDS)}"

    def close(self, seed: Seed) -> str:
        """A name lexically close to a network label: its keyword plus a shop word, or a typo."""
        part = names.distinctive_part(seed.parts) or seed.label
        if self.rng.random() < 0.5:
            return f"{part}-{self.rng.choice(SHOP_WORDS)}.{self.rng.choice(names.DECOY_TLDS)}"
        return f"{names.typo(self.rng, seed.label)[0]}.{self.rng.choice(names.DECOY_TLDS)}"

    def content(self, domain: str, lang: str | None = None, stock: bool = False) -> str:
        lang = lang or self.lang()
        title = domain.split(".")[0].replace("-", " ").title()
        kind = self.rng.random()
        if stock or kind < 0.25:
            return pages.blog(self.rng, domain, title, lang, stock=stock)
        if kind < 0.35:
            return pages.ngo(self.rng, domain, title, lang)
        return pages.business(self.rng, domain, title, lang)

    # --- the classes -------------------------------------------------------------------------------------

    def legit_outlets(self) -> list[str]:
        out = [o.domain for o in self.net.outlets]
        self.b.decoys.extend({"domain": d, "class": "legit-outlet"} for d in out)
        return out

    def aged(self) -> None:
        for _ in range(self.rng.randint(2, 5)):
            seed = self.seed()
            label = seed.label if self.rng.random() < 0.6 else names.typo(self.rng, seed.label)[0]
            d = self.name(lambda label=label: f"{label}.{self.rng.choice(names.DECOY_TLDS)}")
            if d:
                self.add(d, "aged", self.rng.choice(self.misc), self.b.old(2003, 2019), self.content(d), nrd=False)
        for _ in range(self.rng.randint(0, 2)):  # old campaign names re-registered by researchers
            seed = self.seed()
            d = self.name(lambda seed=seed: f"{seed.label}.{self.rng.choice(('world', 'news', 'info', 'org', 'net'))}")
            if d:
                about = self.rng.sample(self.b.seeds, min(6, len(self.b.seeds)))
                when = self.b.between(self.b.now - timedelta(days=400), self.b.now - timedelta(days=60))
                page = pages.research(self.rng, d, f"What happened to {seed.label}", self.b.campaign, about)
                self.add(d, "aged", self.rng.choice(self.misc), when, page, nrd=False)

    def old_parked(self) -> None:
        for _ in range(self.rng.randint(2, 5)):
            seed = self.seed()
            label = seed.label if self.rng.random() < 0.6 else names.typo(self.rng, seed.label)[0]
            d = self.name(lambda label=label: f"{label}.{self.rng.choice(names.SWAP_TLDS + ('com', 'net'))}")
            if d:
                ns = list(self.rng.choice(names.PARKING_NS))
                host = Host([f"91.195.240.{self.rng.randint(2, 250)}"], ns, self.rng.choice(names.BIG_REGISTRARS))
                self.add(d, "old-parked", host, self.b.old(2008, 2021), {"catch_all": {"builtin": "parked"}},
                         nrd=False, ct=False)

    def shared_host(self) -> None:
        hosts = list(self.net.shared_hosts) + [op.host for op in self.net.operators]
        for _ in range(self.rng.randint(10, 40)):
            host = self.rng.choice(hosts)
            ip = host.ip(self.rng)
            if host.label == "dedicated":  # same /24 as an operator, another address; the registrar's NS
                ip = f"{ip.rsplit('.', 1)[0]}.{self.rng.randint(2, 253)}"
                host = Host(host.ips, names.registrar_ns(host.registrar[0]), host.registrar, "neighbour")
            d = self.name(self.shopish)
            if d:
                self.add(d, "shared-host", host, self.any_day(), self.content(d), ip=ip, ct=self.rng.random() < 0.7)

    def cms_template(self) -> None:
        bursts = sorted({r["to"] for r in self.b.replacements})
        reg_days = [datetime.fromisoformat(self.b.domains[d]["rdap"]["registered"])
                    for d in bursts]
        for _ in range(self.rng.randint(3, 8)):
            close = self.rng.random() < 0.5
            d = self.name((lambda: self.close(self.seed())) if close else self.shopish)
            if not d:
                continue
            host = self.rng.choice(self.net.shared_hosts) if self.rng.random() < 0.5 else self.rng.choice(self.misc)
            when = self.rng.choice(reg_days) if reg_days and self.rng.random() < 0.5 else self.recent(2)
            self.add(d, "cms-template", host, when, self.content(d, stock=True))

    def challenge(self) -> None:
        for _ in range(self.rng.randint(2, 6)):
            d = self.name((lambda: self.close(self.seed())) if self.rng.random() < 0.5 else self.shopish)
            if not d:
                continue
            kind = self.rng.randrange(3)
            page = pages.challenge(self.rng, d) if kind == 0 else pages.NGINX if kind == 1 else pages.coming_soon(self.rng, d)
            hosts = self.net.shared_hosts if self.rng.random() < 0.5 else self.misc
            self.add(d, "challenge", self.rng.choice(hosts), self.recent(2), page, ct=self.rng.random() < 0.5)

    def hub_outlinks(self) -> None:
        for i in range(self.rng.randint(3, 6)):
            d = self.name(self.shopish)
            if not d:
                continue
            new = i % 2 == 1
            when = self.recent(1) if new else self.b.old(2012, 2023)
            self.add(d, "hub-outlink-unrelated", self.rng.choice(self.misc), when,
                     self.content(d, stock=new and self.rng.random() < 0.6), nrd=new)
            title = d.split(".")[0].replace("-", " ").title()
            (self.hub_after if new else self.hub_before).append((title, f"https://{d}/"))

    def ct_fans(self) -> None:
        keyed = [s for s in self.net.seeds if names.distinctive_part(s.parts)]
        for _ in range(self.rng.randint(2, 6) if keyed else 0):
            seed = self.rng.choice(keyed)
            part = names.distinctive_part(seed.parts) or seed.label
            word = self.rng.choice(("fans", "parody", "watch", "research", "bikes", "consulting", "podcast", "club"))
            d = self.name(lambda part=part, word=word: f"{part}{self.rng.choice(('-', ''))}{word}."
                          f"{self.rng.choice(names.DECOY_TLDS)}")
            if not d:
                continue
            when = self.recent(2) if self.rng.random() < 0.5 else self.any_day()
            page = (pages.research(self.rng, d, f"{part.title()} watch", self.b.campaign, self.b.seeds[:5])
                    if word in ("watch", "research") else pages.fan(self.rng, d, d.split(".")[0].title(), part, self.lang()))
            self.add(d, "ct-fan", self.rng.choice(self.misc), when, page, nrd=self.rng.random() < 0.5)

    def nrd_shops(self) -> None:
        for _ in range(self.rng.randint(30, 80)):
            close = self.rng.random() < 0.2
            d = self.name((lambda: self.close(self.seed())) if close else self.shopish)
            if not d:
                continue
            hosts = self.net.shared_hosts if self.rng.random() < 0.3 else self.misc
            self.add(d, "nrd-shop", self.rng.choice(hosts), self.recent(1), self.content(d), ct=self.rng.random() < 0.6)

    def cctld(self) -> None:
        for _ in range(self.rng.randint(2, 5)):
            seed = self.seed()
            d = self.name(lambda seed=seed: f"{seed.label if self.rng.random() < 0.5 else self.close(seed).split('.')[0]}"
                          f".{self.rng.choice(names.NO_RDAP_CCTLDS)}")
            if d:
                when = self.b.old(2005, 2022) if self.rng.random() < 0.6 else self.recent(2)
                self.add(d, "cctld-no-rdap", self.rng.choice(self.misc), when, self.content(d), nrd=False)

    def typo_squats(self) -> None:
        for _ in range(self.rng.randint(0, 3)):
            seed = self.seed()
            d = self.name(lambda seed=seed: f"{names.typo(self.rng, seed.label)[0]}.{seed.tld}")
            if d:
                self.add(d, "typo-squat-old", self.rng.choice(self.misc), self.b.old(2010, 2022), self.content(d),
                         nrd=False)


def build_decoys(b: Builder, net: Network) -> tuple[list[str], list[tuple[str, str]], list[tuple[str, str]]]:
    """Every decoy class; returns (outlet domains, hub links before, hub links added at the takedown)."""
    d = Decoys(b, net)
    outlets = d.legit_outlets()
    for step in (d.aged, d.old_parked, d.shared_host, d.cms_template, d.challenge, d.hub_outlinks, d.ct_fans,
                 d.nrd_shops, d.cctld, d.typo_squats):
        step()
    return outlets, d.hub_before, d.hub_after
