"""Alert e-mails: render one message per new clone (or a digest), and one per takedown of a watched
domain (``[alerts] takedowns``), sanitised for headers."""

from __future__ import annotations

from collections.abc import Sequence
from email.message import EmailMessage
from email.utils import format_datetime
from urllib.parse import quote, urlsplit, urlunsplit

from detect import textsafe
from detect.evidence_summary import AGAINST, MINOR_WEIGHT, group_evidence, visible
from scheduler.settings import AlertsSettings
from storage.outbox import OutboxItem, TakedownItem

# Crawled or stored text made safe for a mail header (no CR/LF or controls, bounded) and for one line of
# the plain-text body (controls shown as ?): the variants of detect.textsafe.
header_safe = textsafe.header
body_safe = textsafe.mail_line


# The web page's route to one domain (hydrawatch/web/static/app.js reads it; it also still opens "#NAME").
DOMAIN_ROUTE = "/domain/"


def lineage_url(base_url: str, domain: str) -> str:
    """The address of ``domain`` on the web page served at ``base_url``: its query (``?token=…``) is kept
    before the route, which goes in the fragment, so the page opens on that domain."""
    parts = urlsplit(base_url.strip())
    path = parts.path if parts.path.endswith("/") else parts.path + "/"
    return urlunsplit((parts.scheme, parts.netloc, path, parts.query, DOMAIN_ROUTE + quote(domain, safe="")))


def _describe(item: OutboxItem, base_url: str) -> list[str]:
    e = item.edge
    lines = [  # stored names are validated on the way in; made inert anyway, as every stored text is
        f"New {e.relation}: {body_safe(e.to_domain, 300)}",
        f"  predecessor : {body_safe(e.from_domain, 300)} (now {item.predecessor_status})",
        f"  relation    : {e.relation}",
        f"  confidence  : {e.confidence:.2f}",
        f"  first seen  : {item.clone_first_seen.strftime('%Y-%m-%dT%H:%M:%SZ')}",
        f"  detected at : {e.detected_at.strftime('%Y-%m-%dT%H:%M:%SZ')}",
        "  evidence    : by family, the families that decided first",
    ]
    groups, hidden = visible(group_evidence(e.evidence, predecessor=e.from_domain))
    for group in groups:
        verdict = {True: " (lowered the confidence)" if group.family == AGAINST else " (decided)", False: ""}
        lines.append(f"    {group.family} {group.strength:.2f}{verdict[group.deciding]}")
        lines.extend(f"      {line.weight:+.2f}  {body_safe(line.text, 300)}" for line in group.lines)
    if hidden:
        lines.append(f"    ({hidden} minor item{'s' if hidden != 1 else ''} under {MINOR_WEIGHT} not shown; "
                     "the lineage page and `hydrawatch lineage --all` list every item)")
    if base_url:
        lines.append(f"  lineage     : {lineage_url(base_url, e.to_domain)}")
    return lines


def render_one(item: OutboxItem, cfg: AlertsSettings) -> EmailMessage:
    e = item.edge
    msg = EmailMessage()
    msg["Subject"] = header_safe(
        f"[hydrawatch] new clone {e.to_domain} ({e.relation} of {e.from_domain}, {e.confidence:.0%})")
    msg["From"] = header_safe(cfg.mail_from)
    msg["To"] = ", ".join(header_safe(a) for a in cfg.mail_to)
    msg["Message-ID"] = item.message_id
    msg["Date"] = format_datetime(e.detected_at)
    msg["X-Hydrawatch-Edge"] = str(e.id)
    msg.set_content("\n".join(_describe(item, cfg.base_url)) + "\n")
    return msg


def render_digest(items: Sequence[OutboxItem], cfg: AlertsSettings, digest_id: str) -> EmailMessage:
    msg = EmailMessage()
    names = ", ".join(i.edge.to_domain for i in items[:5]) + (" …" if len(items) > 5 else "")
    msg["Subject"] = header_safe(f"[hydrawatch] {len(items)} new clones: {names}")
    msg["From"] = header_safe(cfg.mail_from)
    msg["To"] = ", ".join(header_safe(a) for a in cfg.mail_to)
    msg["Message-ID"] = digest_id
    body: list[str] = []
    for item in items:
        body.extend(_describe(item, cfg.base_url))
        body.append("")
    msg.set_content("\n".join(body))
    return msg


def render_takedown(item: TakedownItem, cfg: AlertsSettings) -> EmailMessage:
    msg = EmailMessage()
    previous = item.previous or ""
    msg["Subject"] = header_safe(f"[hydrawatch] takedown: {item.domain} is now {item.status} (was {previous})")
    msg["From"] = header_safe(cfg.mail_from)
    msg["To"] = ", ".join(header_safe(a) for a in cfg.mail_to)
    msg["Message-ID"] = item.message_id
    msg["Date"] = format_datetime(item.since)
    msg["X-Hydrawatch-Takedown"] = header_safe(item.domain)
    lines = [
        f"Takedown: {body_safe(item.domain, 300)}",
        f"  status      : {item.status} (was {previous})",
        f"  since       : {item.since.strftime('%Y-%m-%dT%H:%M:%SZ')}",
        f"  campaign    : {body_safe(item.campaign, 100) or '-'}",
        f"  why         : {body_safe(item.reason, 500)}",
        "  The hunt for its replacement has started; a clone alert follows for each one found.",
    ]
    if cfg.base_url:
        lines.append(f"  lineage     : {lineage_url(cfg.base_url, item.domain)}")
    msg.set_content("\n".join(lines) + "\n")
    return msg
