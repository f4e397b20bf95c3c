"""Pages of the sites that are not the network: shops, small firms, NGOs, blogs, researchers writing
about the campaign, bot-challenge fronts, default server pages and "coming soon" placeholders.

They must look like the ordinary web a hunt wades through: varied markup, real-looking copy in the
same languages as the network, sometimes the same stock CMS theme.
"""

from __future__ import annotations

import random

from sandbox.worldgen.templates import STOCK_THEME, SiteDoc, e, wp_stock
from sandbox.worldgen.text import Article, business_blurb, slugify


def business(rng: random.Random, domain: str, title: str, lang: str) -> str:
    """A shop or small-business home page in one of three markups."""
    kind, lines = business_blurb(rng, lang)
    items = "".join(f'<li class="product"><span class="product-name">{e(kind.title())} {rng.randint(2, 99)}</span>'
                    f'<span class="price">{rng.randint(5, 250)},{rng.choice(("00", "50", "90", "99"))} €</span></li>'
                    for _ in range(rng.randint(3, 6)))
    style = rng.randrange(3)
    head = (f'<!DOCTYPE html>\n<html lang="{lang}"><head><meta charset="utf-8"><title>{e(title)} – {e(kind)}</title>'
            f'<meta name="description" content="{e(lines[0])}"></head>\n')
    if style == 0:
        return (head + f'<body class="woocommerce"><header class="shop-header"><h1>{e(title)}</h1></header>'
                f'<p class="shop-intro">{e(" ".join(lines))}</p><ul class="products">{items}</ul>'
                f'<footer>{e(domain)} · Impressum · AGB</footer></body></html>\n')
    if style == 1:
        return (head + f'<body><div id="wrapper"><div id="logo">{e(title)}</div><h2>{e(kind.title())}</h2>'
                + "".join(f"<p>{e(x)}</p>" for x in lines)
                + f'<div id="contact">info@{e(domain)}</div></div></body></html>\n')
    return (head + f'<body><main class="landing"><section class="hero"><h1>{e(title)}</h1><p>{e(lines[0])}</p>'
            f'<a class="cta" href="/shop/">Shop</a></section><section class="grid">{items}</section>'
            f'<section class="about"><p>{e(lines[1])} {e(lines[2])}</p></section></main></body></html>\n')


def ngo(rng: random.Random, domain: str, title: str, lang: str) -> str:
    _, lines = business_blurb(rng, lang)
    cause = rng.choice(("river clean-up", "animal shelter", "youth football", "food bank", "local history society"))
    return (f'<!DOCTYPE html>\n<html lang="{lang}"><head><meta charset="utf-8"><title>{e(title)}</title></head>\n'
            f'<body class="ngo"><h1>{e(title)}</h1><p class="mission">A volunteer {cause} since {rng.randint(1980, 2020)}.'
            f'</p><p>{e(lines[1])}</p><a class="donate" href="/donate/">Donate</a></body></html>\n')


def blog(rng: random.Random, domain: str, title: str, lang: str, stock: bool = False) -> str:
    """A personal or company blog; with `stock` the popular WordPress theme the network also uses."""
    kind, lines = business_blurb(rng, lang)
    posts = tuple(Article(f"{kind.title()}: {ln}", slugify(ln), (ln, lines[(i + 1) % 3])) for i, ln in enumerate(lines))
    doc = SiteDoc(domain=domain, name=title, lang=lang, family="wp-stock", tagline=kind, articles=posts,
                  og_locale=f"{lang}_{lang.upper()}" if lang != "en" else "en_GB",
                  author=rng.choice(("admin", "redaktion", "anna", "marco", "julie", "tomek")))
    if stock:
        return wp_stock(doc)
    body = "".join(f"<h2>{e(p.headline)}</h2><p>{e(p.body[0])}</p>" for p in posts)
    return (f'<!DOCTYPE html>\n<html lang="{lang}"><head><meta charset="utf-8"><title>{e(title)}</title>'
            f'<meta name="generator" content="Hugo 0.121.1"></head>\n<body><div class="blog">{body}</div></body></html>\n')


def research(rng: random.Random, domain: str, title: str, campaign: str, about: list[str]) -> str:
    """A third party writing ABOUT the network (fact-checkers, researchers, a re-registered old domain)."""
    items = "".join(f"<li><code>{e(d)}</code></li>" for d in about)
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{e(title)}</title></head>\n'
            f'<body class="research"><h1>{e(title)}</h1><p>This site was once part of the {e(campaign)} network. '
            f"It now documents how that operation works and which domains it used.</p>"
            f"<h2>Domains attributed to the operation</h2><ul>{items}</ul>"
            f"<p>Contact our open-source research desk for corrections.</p></body></html>\n")


def fan(rng: random.Random, domain: str, title: str, keyword: str, lang: str) -> str:
    """A site that merely contains a network keyword: a fan site, parody or unrelated business."""
    kind = rng.choice(("parody", "fan club", "podcast", "consulting", "bike club", "board-game café"))
    _, lines = business_blurb(rng, lang)
    return (f'<!DOCTYPE html>\n<html lang="{lang}"><head><meta charset="utf-8"><title>{e(title)}</title></head>\n'
            f'<body><header class="fan"><h1>{e(title)}</h1><p>The {kind} for everything {e(keyword)}.</p></header>'
            f"<p>{e(lines[0])}</p><p>{e(lines[1])}</p></body></html>\n")


def challenge(rng: random.Random, domain: str) -> str:
    ray = "".join(rng.choice("0123456789abcdef") for _ in range(16))
    return ('<!DOCTYPE html>\n<html lang="en-US"><head><title>Just a moment...</title>'
            '<meta http-equiv="refresh" content="360"><meta name="robots" content="noindex,nofollow"></head>\n'
            f'<body><div class="main-wrapper"><h1 class="zone-name-title h1">{e(domain)}</h1>'
            '<h2 class="h2" id="challenge-body-text">Checking your browser before accessing the site. '
            'This process is automatic.</h2><noscript>Enable JavaScript and cookies to continue</noscript>'
            f'<div class="footer">Ray ID: <code>{ray}</code> · Performance &amp; security</div></div>'
            '<script src="/cdn-cgi/challenge-platform/h/b/orchestrate/chl_page/v1"></script></body></html>\n')


NGINX = ("<!DOCTYPE html>\n<html>\n<head>\n<title>Welcome to nginx!</title>\n</head>\n<body>\n"
         "<h1>Welcome to nginx!</h1>\n<p>If you see this page, the nginx web server is successfully installed and\n"
         "working. Further configuration is required.</p>\n<p><em>Thank you for using nginx.</em></p>\n</body>\n</html>\n")


def coming_soon(rng: random.Random, domain: str) -> str:
    text = rng.choice(("Coming soon", "Under construction", "Bientôt disponible", "Demnächst online", "Próximamente"))
    return (f'<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>{e(domain)} – {text}</title></head>'
            f'<body style="display:flex;align-items:center;justify-content:center;height:100vh">'
            f'<div class="soon"><h1>{text}</h1><p>{e(domain)}</p></div></body></html>\n')


STOCK_NAME = STOCK_THEME
