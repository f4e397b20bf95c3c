"""The FastAPI application: read-only JSON endpoints over storage/views, exports, and the static page."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from importlib import resources
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Depends, FastAPI, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, Response
from fastapi.staticfiles import StaticFiles
from sqlalchemy.orm import Session, sessionmaker

from detect import textsafe
from hydrawatch import present
from hydrawatch.web import responses
from hydrawatch.web.security import Guard, token_of
from storage import export, lineage, views

STATUSES = ("active", "seized", "suspended", "parked", "redirecting", "dead", "unknown")


def _static_dir() -> str:
    return str(resources.files("hydrawatch.web") / "static")


def _session(request: Request) -> Iterator[Session]:
    with request.app.state.sessions() as s:
        try:
            yield s
        finally:
            s.rollback()  # read-only: nothing is ever committed


# Module level: FastAPI resolves the (string) annotations of the endpoints in this module's globals.
Db = Annotated[Session, Depends(_session)]


def create_app(sessions: sessionmaker[Session], *, token: str = "",
               allowed_hosts: Iterable[str] | None = None) -> FastAPI:
    """The app over a session factory. ``token`` (if set) is required on every request;
    ``allowed_hosts`` (if given) is the set of Host names accepted (DNS-rebinding guard)."""
    app = FastAPI(title="hydrawatch", version="1", description="Read-only view of the hydrawatch store: "
                  "domains, status history, indicators, lineage, pivots and exports.",
                  docs_url=None, redoc_url=None, openapi_url="/api/openapi.json",
                  default_response_class=responses.SafeJSONResponse)
    responses.install(app)
    app.add_middleware(Guard, token=token, allowed_hosts=allowed_hosts)
    app.state.sessions = sessions

    @app.get("/api/domains", summary="The watchlist, filtered")
    def domains(db: Db, q: str = "", campaign: str | None = None,
                status: Annotated[str | None, Query(pattern="^(" + "|".join(STATUSES) + ")$")] = None,
                origin: Annotated[str | None, Query(pattern="^(seed|discovered)$")] = None,
                since: datetime | None = None, limit: Annotated[int, Query(ge=1, le=10000)] = 1000,
                offset: Annotated[int, Query(ge=0)] = 0) -> dict[str, Any]:
        if since is not None and since.tzinfo is None:
            since = since.replace(tzinfo=UTC)
        found, total = views.search_domains(db, q=q.strip(), campaign=campaign, status=status, origin=origin,
                                            changed_since=since, limit=limit, offset=offset)
        return {"total": total, "offset": offset, "domains": [present.domain_summary(d) for d in found]}

    @app.get("/api/domains/{name}", summary="One domain: status history, indicators, edges, last page")
    def domain(name: str, db: Db) -> dict[str, Any]:
        detail = views.domain_detail(db, name.strip().lower())
        if detail is None:
            raise HTTPException(404, "domain not in the store")
        return present.detail_json(detail)

    @app.get("/api/lineage/{name}", summary="A domain's predecessors and successors with evidence")
    def family(name: str, db: Db) -> dict[str, Any]:
        try:
            return present.family_json(lineage.family(db, name.strip().lower()))
        except KeyError:
            raise HTTPException(404, "domain not in the store") from None

    @app.get("/api/pivot/{kind}/{value:path}", summary="Every domain that ever showed an indicator")
    def pivot(kind: str, value: str, db: Db) -> dict[str, Any]:
        found = views.pivot(db, kind, value)
        if found is None:
            raise HTTPException(404, "no domain ever had this indicator")
        return present.pivot_json(found)

    @app.get("/api/indicator-kinds", summary="Indicator kinds in the store with their number of values")
    def kinds(db: Db) -> list[dict[str, Any]]:
        return [{"kind": k, "values": n} for k, n in views.indicator_kinds(db)]

    @app.get("/api/export/{fmt}", summary="The whole store as json, csv, graphml or stix",
             response_class=Response)
    def exported(fmt: str, db: Db) -> Response:
        if fmt not in export.EXPORTERS:
            raise HTTPException(404, f"unknown export format; one of {', '.join(export.EXPORTERS)}")
        _, media = export.EXPORTERS[fmt]
        body = export.render(db, fmt, datetime.now(UTC))
        ext = {"stix": "stix.json"}.get(fmt, fmt)
        return Response(body, media_type=media,
                        headers={"Content-Disposition": f'attachment; filename="hydrawatch.{ext}"'})

    page = (resources.files("hydrawatch.web") / "static" / "index.html").read_text(encoding="utf-8")

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def index(request: Request) -> HTMLResponse:
        # The page's own assets need the token too; it is put back only into their URLs, escaped.
        given = token_of(request) if token else ""
        suffix = textsafe.html("?token=" + quote(given, safe="")) if given else ""
        return HTMLResponse(page.replace("{{asset_query}}", suffix))

    app.mount("/static", StaticFiles(directory=_static_dir()), name="static")
    return app
