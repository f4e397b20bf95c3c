"""The FastAPI application: read-only JSON endpoints over storage/views, exports, and the static page."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from importlib import resources
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Path, Query, Request
from fastapi.responses import HTMLResponse, Response
from fastapi.staticfiles import StaticFiles
from sqlalchemy.orm import Session, sessionmaker

from detect.model import Status
from hydrawatch import present
from hydrawatch.web import responses
from hydrawatch.web.security import Guard
from storage import export, lineage, views

STATUSES = tuple(s.value for s in Status)

# Bounds of every parameter: what the store can hold (names 253, campaigns 100, indicator kinds 32 and
# values 512 characters) and what a database integer or a timestamp can take, so that no input reaches
# the database in a form it rejects (a 500); out of bounds is a 422 naming the parameter.
MAX_OFFSET = 1_000_000_000
MAX_LIMIT = 10_000
SINCE_RANGE = (datetime(1900, 1, 1, tzinfo=UTC), datetime(9000, 1, 1, tzinfo=UTC))
Name = Annotated[str, Path(max_length=253, description="a domain name")]


def _no_nul(request: Request) -> None:
    """PostgreSQL cannot store or compare text with a NUL byte: such a parameter is a 422, not a 500."""
    for key, value in [*request.path_params.items(), *request.query_params.multi_items()]:
        if "\x00" in str(value):
            raise HTTPException(422, f"{key}: NUL bytes are not allowed")


def _bounded_since(since: datetime | None) -> datetime | None:
    if since is None:
        return None
    try:
        utc = since.replace(tzinfo=UTC) if since.tzinfo is None else since.astimezone(UTC)
    except OverflowError:
        utc = None
    low, high = SINCE_RANGE
    if utc is None or not low <= utc < high:
        raise HTTPException(422, f"since: must be between {low:%Y-%m-%d} and {high:%Y-%m-%d} (UTC)")
    return utc


def _static_dir() -> str:
    return str(resources.files("hydrawatch.web") / "static")


def _session(request: Request) -> Iterator[Session]:
    with request.app.state.sessions() as s:
        try:
            yield s
        finally:
            s.rollback()  # read-only: nothing is ever committed


def _link(operation: str, description: str, **parameters: str) -> dict[str, Any]:
    return {"operationId": operation, "description": description, "parameters": parameters}


# OpenAPI links: how a client (and schemathesis' stateful phase) goes from one answer to the next request.
LIST_LINKS = {"FirstDomain": _link("getDomain", "the first domain listed", name="$response.body#/domains/0/domain"),
              "FirstLineage": _link("getLineage", "its lineage", name="$response.body#/domains/0/domain")}
DETAIL_LINKS = {"Lineage": _link("getLineage", "this domain's lineage", name="$response.body#/domain"),
                "FirstIndicator": _link("pivot", "every domain that showed its first indicator",
                                        kind="$response.body#/indicators/0/kind",
                                        value="$response.body#/indicators/0/value")}
FAMILY_LINKS = {"FirstMember": _link("getDomain", "the family's first member", name="$response.body#/members/0/domain")}
PIVOT_LINKS = {"FirstDomain": _link("getDomain", "the first domain that showed it",
                                    name="$response.body#/domains/0/domain")}


# Module level: FastAPI resolves the (string) annotations of the endpoints in this module's globals.
Db = Annotated[Session, Depends(_session)]


def create_app(sessions: sessionmaker[Session], *, token: str = "", allowed_hosts: Iterable[str] | None = None,
               failures_per_minute: int = 10, clock: Callable[[], float] = time.monotonic) -> FastAPI:
    """The app over a session factory. ``token`` (if set) is required on every request, from an
    ``Authorization: Bearer`` header or the cookie a ``?token=`` link sets; a client address with
    ``failures_per_minute`` wrong tokens within a minute is refused (429) until the oldest is a minute old.
    ``allowed_hosts`` (if given) is the set of Host names accepted (DNS-rebinding guard)."""
    app = FastAPI(title="hydrawatch", version="1", description="Read-only view of the hydrawatch store: "
                  "domains, status history, indicators, lineage, pivots and exports.",
                  docs_url=None, redoc_url=None, openapi_url="/api/openapi.json", dependencies=[Depends(_no_nul)],
                  default_response_class=responses.SafeJSONResponse)
    responses.install(app)
    page = (resources.files("hydrawatch.web") / "static" / "index.html").read_text(encoding="utf-8")
    app.add_middleware(Guard, token=token, allowed_hosts=allowed_hosts, failures_per_minute=failures_per_minute,
                       clock=clock, shell=page)
    app.state.sessions = sessions

    @app.get("/api/domains", summary="The watchlist, filtered", operation_id="listDomains",
             responses={200: {"links": LIST_LINKS}})
    def domains(db: Db, q: Annotated[str, Query(max_length=253)] = "",
                campaign: Annotated[str | None, Query(max_length=100)] = None,
                status: Annotated[str | None, Query(pattern="^(" + "|".join(STATUSES) + ")$")] = None,
                origin: Annotated[str | None, Query(pattern="^(seed|discovered)$")] = None,
                since: Annotated[datetime | None, Query(
                    description="status changed at or after (ISO 8601; 1900-01-01 to 9000-01-01 UTC)")] = None,
                limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 1000,
                offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0) -> dict[str, Any]:
        found, total = views.search_domains(db, q=q.strip(), campaign=campaign, status=Status(status) if status else None,
                                            origin=origin,
                                            changed_since=_bounded_since(since), limit=limit, offset=offset)
        return {"total": total, "offset": offset, "domains": [present.domain_summary(d) for d in found]}

    @app.get("/api/domains/{name}", summary="One domain: status history, indicators, edges, last page",
             operation_id="getDomain", responses={200: {"links": DETAIL_LINKS}})
    def domain(name: Name, db: Db) -> dict[str, Any]:
        detail = views.domain_detail(db, name.strip().lower())
        if detail is None:
            raise HTTPException(404, "domain not in the store")
        return present.detail_json(detail)

    @app.get("/api/lineage/{name}", summary="A domain's predecessors and successors with evidence",
             operation_id="getLineage", responses={200: {"links": FAMILY_LINKS}})
    def family(name: Name, db: Db) -> dict[str, Any]:
        try:
            return present.family_json(lineage.family(db, name.strip().lower()))
        except KeyError:
            raise HTTPException(404, "domain not in the store") from None

    @app.get("/api/pivot/{kind}/{value:path}", summary="Every domain that ever showed an indicator",
             operation_id="pivot", responses={200: {"links": PIVOT_LINKS}})
    def pivot(kind: Annotated[str, Path(max_length=32)], value: Annotated[str, Path(max_length=512)], db: Db) -> dict[str, Any]:
        found = views.pivot(db, kind, value)
        if found is None:
            raise HTTPException(404, "no domain ever had this indicator")
        return present.pivot_json(found)

    @app.get("/api/indicator-kinds", summary="Indicator kinds in the store with their number of values",
             operation_id="indicatorKinds")
    def kinds(db: Db) -> list[dict[str, Any]]:
        return [{"kind": k, "values": n} for k, n in views.indicator_kinds(db)]

    @app.get("/api/export/{fmt}", summary="The whole store as json, csv, graphml or stix",
             operation_id="export", response_class=Response)
    def exported(fmt: Annotated[str, Path(max_length=16)], db: Db) -> Response:
        if fmt not in export.EXPORTERS:
            raise HTTPException(404, f"unknown export format; one of {', '.join(export.EXPORTERS)}")
        _, media = export.EXPORTERS[fmt]
        body = export.render(db, fmt, datetime.now(UTC))
        ext = {"stix": "stix.json"}.get(fmt, fmt)
        return Response(body, media_type=media,
                        headers={"Content-Disposition": f'attachment; filename="hydrawatch.{ext}"'})

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def index() -> HTMLResponse:
        # No token in the page: its assets and API calls carry the cookie a ?token= link set.
        return HTMLResponse(page)

    app.mount("/static", StaticFiles(directory=_static_dir()), name="static")
    return app
