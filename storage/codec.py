"""Round-trips between detect.model values and the JSON the store keeps: observations (observations.raw)
and evidence (edges.evidence, candidates.evidence, and the exports). The only place either is encoded."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from detect.model import DnsResult, ErrorKind, Evidence, Hop, HttpFetch, Rcode, RdapRecord, TlsCert


def _dt(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _parse_dt(value: Any) -> datetime | None:
    return datetime.fromisoformat(value) if isinstance(value, str) and value else None


def dns_to_raw(result: DnsResult) -> dict[str, Any]:
    return {"name": result.name, "rcode": result.rcode.value, "error": result.error,
            "records": {k: list(v) for k, v in result.records.items()}}


def dns_from_raw(raw: dict[str, Any], observed_at: datetime | None = None) -> DnsResult:
    return DnsResult(name=raw.get("name", ""), rcode=Rcode(raw.get("rcode", "ERROR")),
                     records={k: tuple(v) for k, v in (raw.get("records") or {}).items()},
                     error=raw.get("error", ""), observed_at=observed_at)


def cert_to_raw(cert: TlsCert | None) -> dict[str, Any] | None:
    if cert is None:
        return None
    return {"subject": cert.subject, "issuer": cert.issuer, "sans": list(cert.sans),
            "not_before": _dt(cert.not_before), "not_after": _dt(cert.not_after), "sha256": cert.sha256,
            "self_signed": cert.self_signed}


def cert_from_raw(raw: dict[str, Any] | None) -> TlsCert | None:
    if not raw:
        return None
    return TlsCert(subject=raw.get("subject", ""), issuer=raw.get("issuer", ""), sans=tuple(raw.get("sans", ())),
                   not_before=_parse_dt(raw.get("not_before")), not_after=_parse_dt(raw.get("not_after")),
                   sha256=raw.get("sha256", ""), self_signed=bool(raw.get("self_signed")))


def http_to_raw(fetch: HttpFetch) -> dict[str, Any]:
    """Everything but the body (kept gzip'd in `pages`) and the favicon (kept as its hash)."""
    return {"domain": fetch.domain, "url": fetch.url, "final_url": fetch.final_url, "status": fetch.status,
            "redirects": [{"url": h.url, "status": h.status, "location": h.location} for h in fetch.redirects],
            "headers": [list(h) for h in fetch.headers], "truncated": fetch.truncated, "ip": fetch.ip,
            "cert": cert_to_raw(fetch.cert), "has_favicon": fetch.favicon is not None,
            "banner_sha256": fetch.banner_sha256,
            "body_bytes": len(fetch.body),
            "error_kind": fetch.error_kind.value if fetch.error_kind else None, "error": fetch.error}


def http_from_raw(raw: dict[str, Any], body: bytes = b"", observed_at: datetime | None = None) -> HttpFetch:
    kind = raw.get("error_kind")
    return HttpFetch(
        domain=raw.get("domain", ""), url=raw.get("url", ""), final_url=raw.get("final_url", ""),
        status=raw.get("status"),
        redirects=tuple(Hop(h.get("url", ""), int(h.get("status", 0)), h.get("location", ""))
                        for h in raw.get("redirects", ())),
        headers=tuple((str(k), str(v)) for k, v in raw.get("headers", ())), body=body,
        truncated=bool(raw.get("truncated")), ip=raw.get("ip", ""), cert=cert_from_raw(raw.get("cert")),
        banner_sha256=str(raw.get("banner_sha256") or ""), error_kind=ErrorKind(kind) if kind else None, error=raw.get("error", ""), observed_at=observed_at,
    )


def rdap_to_raw(rec: RdapRecord) -> dict[str, Any]:
    return {"domain": rec.domain, "http_status": rec.http_status, "registrar": rec.registrar,
            "registered": _dt(rec.registered), "expires": _dt(rec.expires), "changed": _dt(rec.changed),
            "statuses": list(rec.statuses),
            "nameservers": list(rec.nameservers), "raw": rec.raw[:200_000],
            "error_kind": rec.error_kind.value if rec.error_kind else None, "error": rec.error,
            "source": rec.source}


def rdap_from_raw(raw: dict[str, Any], observed_at: datetime | None = None) -> RdapRecord:
    kind = raw.get("error_kind")
    return RdapRecord(
        domain=raw.get("domain", ""), http_status=raw.get("http_status"), registrar=raw.get("registrar", ""),
        registered=_parse_dt(raw.get("registered")), expires=_parse_dt(raw.get("expires")),
        changed=_parse_dt(raw.get("changed")), statuses=tuple(raw.get("statuses", ())), nameservers=tuple(raw.get("nameservers", ())),
        raw=raw.get("raw", ""), error_kind=ErrorKind(kind) if kind else None, error=raw.get("error", ""),
        observed_at=observed_at, source=str(raw.get("source") or "rdap"),
    )


def evidence_to_raw(evidence: Iterable[Evidence], *, digits: int | None = None) -> list[dict[str, Any]]:
    """Evidence as stored and exported: ``kind``, ``value``, ``weight``, ``detail`` per item; ``digits``
    rounds the weight (a candidate's decision keeps 4)."""
    return [{"kind": e.kind, "value": e.value,
             "weight": float(e.weight) if digits is None else round(e.weight, digits), "detail": e.detail}
            for e in evidence]


def evidence_from_raw(items: Any) -> tuple[Evidence, ...]:
    """Evidence back from its JSON; items that are not objects are skipped, missing fields are empty."""
    out: list[Evidence] = []
    for item in items or ():
        if isinstance(item, dict):
            out.append(Evidence(kind=str(item.get("kind", "")), value=str(item.get("value", "")),
                                weight=float(item.get("weight", 0.0)), detail=str(item.get("detail", ""))))
    return tuple(out)
