"""HTML template families for network and outlet sites, and the `SiteDoc` they render.

Each family has its own markup and class names, so a detector comparing structure sees seven
distinct "looks". `wp-stock` is a popular stock WordPress theme (identical markup, generator and
scripts everywhere it is used): the network uses it for some sites, and so do unrelated decoys.
`wp-custom` is WordPress with a theme folder named after the site (a tell from the field notes).
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field, replace

from sandbox.worldgen.text import NAV, Article, slugify

FAMILIES = ("broadsheet", "magazine", "portal", "minimal", "tabloid", "wp-custom", "wp-stock")
STOCK_THEME = "newsbolt"


@dataclass(frozen=True)
class SiteDoc:
    """Everything a news-like home page shows; replacements are derived copies of their predecessor's."""

    domain: str
    name: str
    lang: str
    family: str
    tagline: str
    articles: tuple[Article, ...]
    og_locale: str
    ga: str = ""
    ym: str = ""
    telegram: str = ""
    theme: str = ""                   # WordPress theme folder (wp-custom: named after the site)
    author: str = ""
    color: str = "#1a3d6d"
    menu: tuple[tuple[str, str], ...] = ()    # (label, absolute URL): clones link back to their outlet
    links: tuple[tuple[str, str], ...] = ()   # partner links (the hub's list)
    extra: dict[str, str] = field(default_factory=dict)

    def swapped(self, **changes: object) -> SiteDoc:
        return replace(self, **changes)  # type: ignore[arg-type]


def e(text: str) -> str:
    return html.escape(text, quote=True)


def _tracking(doc: SiteDoc) -> str:
    out = []
    if doc.ga:
        out.append(f'<script async src="https://www.googletagmanager.com/gtag/js?id={doc.ga}"></script>\n'
                   f"<script>window.dataLayer=window.dataLayer||[];function gtag(){{dataLayer.push(arguments);}}"
                   f"gtag('js',new Date());gtag('config','{doc.ga}');</script>")
    if doc.ym:
        out.append(f'<script>(function(m,e,t,r,i,k,a){{m[i]=m[i]||function(){{(m[i].a=m[i].a||[]).push(arguments)}};'
                   f'}})(window,document,"script","https://mc.yandex.ru/metrika/tag.js","ym");'
                   f'ym({doc.ym},"init",{{clickmap:true,trackLinks:true}});</script>')
    return "\n".join(out)


def _head(doc: SiteDoc, css: str) -> str:
    return (f'<!DOCTYPE html>\n<html lang="{doc.lang}">\n<head>\n<meta charset="utf-8">\n'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            f"<title>{e(doc.name)} | {e(doc.tagline)}</title>\n"
            f'<meta property="og:site_name" content="{e(doc.name)}">\n'
            f'<meta property="og:locale" content="{doc.og_locale}">\n'
            f'<link rel="canonical" href="https://{doc.domain}/">\n{css}\n{_tracking(doc)}\n</head>\n')


def _social(doc: SiteDoc, cls: str) -> str:
    if not doc.telegram:
        return ""
    return f'<a class="{cls}" href="https://t.me/{doc.telegram}" rel="noopener">Telegram</a>'


def _menu(doc: SiteDoc, cls: str, item: str) -> str:
    entries = doc.menu or tuple((label, f"https://{doc.domain}/{slugify(label)}/") for label in NAV[doc.lang][:5])
    return f'<nav class="{cls}">' + "".join(f'<a class="{item}" href="{e(u)}">{e(t)}</a>' for t, u in entries) + "</nav>"


def _links(doc: SiteDoc, cls: str) -> str:
    if not doc.links:
        return ""
    return (f'<ul class="{cls}">' + "".join(f'<li><a href="{e(u)}">{e(t)}</a></li>' for t, u in doc.links)
            + "</ul>")


def _by(doc: SiteDoc) -> str:
    return f"/author/{doc.author}/" if doc.author else "/"


def broadsheet(doc: SiteDoc) -> str:
    css = f"<style>.masthead{{border-bottom:3px double {doc.color}}}.story h2{{font-family:Georgia,serif}}</style>"
    stories = "".join(f'<article class="story"><h2 class="story-title"><a href="/{a.slug}/">{e(a.headline)}</a></h2>'
                      + "".join(f'<p class="story-text">{e(p)}</p>' for p in a.body)
                      + f'<a class="byline" href="{_by(doc)}">{e(doc.author or doc.name)}</a></article>'
                      for a in doc.articles)
    return (_head(doc, css) + f'<body class="broadsheet">\n<header class="masthead"><h1 class="paper-name">{e(doc.name)}'
            f'</h1><p class="motto">{e(doc.tagline)}</p></header>\n{_menu(doc, "sections", "section-link")}\n'
            f'<main class="front-page">{stories}</main>\n<aside class="partners">{_links(doc, "partner-list")}</aside>\n'
            f'<footer class="colophon">{_social(doc, "tg")} &copy; {e(doc.name)}</footer>\n</body></html>\n')


def magazine(doc: SiteDoc) -> str:
    css = f"<style>.mag-grid{{display:grid;grid-template-columns:1fr 1fr}}.card{{border-top:4px solid {doc.color}}}</style>"
    cards = "".join(f'<div class="card"><span class="card-kicker">{e(doc.name)}</span><h3 class="card-head">'
                    f'<a href="/stories/{a.slug}">{e(a.headline)}</a></h3><div class="card-body">'
                    + "<br>".join(e(p) for p in a.body) + "</div></div>" for a in doc.articles)
    return (_head(doc, css) + f'<body>\n<div class="mag-top"><div class="mag-logo">{e(doc.name)}</div>'
            f'<div class="mag-claim">{e(doc.tagline)}</div></div>\n{_menu(doc, "mag-nav", "mag-nav__item")}\n'
            f'<section class="mag-grid">{cards}</section>\n{_links(doc, "mag-friends")}\n'
            f'<div class="mag-foot">{_social(doc, "mag-social")}</div>\n</body></html>\n')


def portal(doc: SiteDoc) -> str:
    css = ('<link rel="stylesheet" href="https://cdn.jsdelivr.net/npm/bootstrap@5.3.2/dist/css/bootstrap.min.css">'
           f"<style>.navbar{{background:{doc.color}}}</style>")
    rows = "".join(f'<div class="col-md-6 news-item"><h4 class="news-item__title">{e(a.headline)}</h4>'
                   + "".join(f'<p class="text-muted">{e(p)}</p>' for p in a.body)
                   + f'<a class="btn btn-sm btn-outline-primary" href="/news/{a.slug}.html">Read</a></div>'
                   for a in doc.articles)
    return (_head(doc, css) + f'<body class="bg-light">\n<div class="navbar navbar-dark"><a class="navbar-brand" '
            f'href="/">{e(doc.name)}</a>{_menu(doc, "navbar-nav", "nav-link")}</div>\n<div class="container">'
            f'<p class="lead">{e(doc.tagline)}</p><div class="row">{rows}</div>{_links(doc, "list-unstyled")}</div>\n'
            f'<footer class="footer py-3">{_social(doc, "footer-link")}</footer>\n'
            '<script src="https://cdn.jsdelivr.net/npm/bootstrap@5.3.2/dist/js/bootstrap.bundle.min.js"></script>\n'
            "</body></html>\n")


def minimal(doc: SiteDoc) -> str:
    css = "<style>main{max-width:42rem;margin:auto}section.post{margin-bottom:2rem}</style>"
    posts = "".join(f'<section class="post"><h2>{e(a.headline)}</h2>' + "".join(f"<p>{e(p)}</p>" for p in a.body)
                    + "</section>" for a in doc.articles)
    return (_head(doc, css) + f"<body>\n<main><h1>{e(doc.name)}</h1><p><em>{e(doc.tagline)}</em></p>\n"
            f"{_menu(doc, 'top', 'top-a')}\n{posts}{_links(doc, 'friends')}\n<p>{_social(doc, 'sub')}</p></main>\n"
            "</body></html>\n")


def tabloid(doc: SiteDoc) -> str:
    css = f"<style>.redtop{{background:{doc.color};color:#fff}}.splash h1{{font-size:3rem}}</style>"
    first, rest = doc.articles[0], doc.articles[1:]
    more = "".join(f'<li class="teaser"><a href="/{a.slug}">{e(a.headline)}</a><p>{e(a.body[0])}</p></li>' for a in rest)
    return (_head(doc, css) + f'<body id="tabloid">\n<div class="redtop"><b class="brand">{e(doc.name)}</b> '
            f'<i>{e(doc.tagline)}</i></div>\n{_menu(doc, "channels", "channel")}\n<div class="splash"><h1>'
            f'{e(first.headline)}</h1>' + "".join(f"<p>{e(p)}</p>" for p in first.body)
            + f'</div>\n<ul class="teasers">{more}</ul>\n{_links(doc, "hot-links")}\n'
            f'<div class="bottom">{_social(doc, "share-tg")}</div>\n</body></html>\n')


def _wordpress(doc: SiteDoc, theme: str, body_class: str) -> str:
    base = f"/wp-content/themes/{theme}"
    css = (f'<meta name="generator" content="WordPress 6.5.3">\n<link rel="stylesheet" id="{theme}-style-css" '
           f'href="{base}/style.css?ver=1.4.2" media="all">\n<script src="/wp-includes/js/jquery/jquery.min.js?ver=3.7.1">'
           f'</script>\n<script src="{base}/js/main.js?ver=1.4.2"></script>')
    posts = "".join(f'<article class="post type-post status-publish format-standard hentry"><header class="entry-header">'
                    f'<h2 class="entry-title"><a href="/{a.slug}/" rel="bookmark">{e(a.headline)}</a></h2>'
                    f'<span class="byline"><a class="url fn n" href="{_by(doc)}">{e(doc.author or "admin")}</a></span>'
                    f'</header><div class="entry-content">' + "".join(f"<p>{e(p)}</p>" for p in a.body)
                    + "</div></article>" for a in doc.articles)
    return (_head(doc, css) + f'<body class="home blog {body_class}">\n<div id="page" class="site">'
            f'<header id="masthead" class="site-header"><p class="site-title"><a href="/" rel="home">{e(doc.name)}</a>'
            f'</p><p class="site-description">{e(doc.tagline)}</p>{_menu(doc, "main-navigation", "menu-item")}'
            f'</header>\n<div id="content" class="site-content"><main id="main" class="site-main">{posts}</main>'
            f'<aside id="secondary" class="widget-area">{_links(doc, "widget_links")}</aside></div>\n'
            f'<footer id="colophon" class="site-footer">{_social(doc, "social-link")} Proudly powered by WordPress'
            "</footer></div>\n</body></html>\n")


def wp_custom(doc: SiteDoc) -> str:
    theme = doc.theme or doc.domain.split(".")[0]
    return _wordpress(doc, theme, f"wp-theme-{theme}")


def wp_stock(doc: SiteDoc) -> str:
    return _wordpress(doc, STOCK_THEME, f"wp-theme-{STOCK_THEME} {STOCK_THEME}-layout-grid")


RENDER = {"broadsheet": broadsheet, "magazine": magazine, "portal": portal, "minimal": minimal,
          "tabloid": tabloid, "wp-custom": wp_custom, "wp-stock": wp_stock}


def render(doc: SiteDoc) -> str:
    """The home page of `doc` in its template family."""
    return RENDER[doc.family](doc)


def article_page(doc: SiteDoc, article: Article) -> str:
    """A single-article page in the same family (clones had article URLs, early ones no home page)."""
    return render(doc.swapped(articles=(article,)))
