"""No request makes the API fail (issue 14, item 9): schemathesis generates requests from the app's own
OpenAPI document — its examples, coverage (boundaries and just past them) and fuzzing phases, then the
stateful phase following the document's links — against a filled store on SQLite and PostgreSQL, in
process; `not_a_server_error` must hold for every one. Out-of-range input is a 422 naming the parameter."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import hypothesis
import pytest
import schemathesis
from hypothesis import HealthCheck
from schemathesis.checks import not_a_server_error
from sqlalchemy.orm import Session, sessionmaker

from hydrawatch.web.app import create_app
from storage.store import Store
from tests.storage.world import fill
from tests.web.inprocess import get

# schemathesis' pytest plugin needs the document when the module is collected; the app is built over an
# unbound session factory here and pointed at each test's filled store by the fixture below.
APP = create_app(sessionmaker())
SCHEMA = schemathesis.openapi.from_asgi("/api/openapi.json", APP)
SETTINGS = hypothesis.settings(max_examples=60, deadline=None, database=None, derandomize=True,
                               suppress_health_check=list(HealthCheck))


@pytest.fixture(autouse=True)
def filled(store: Store) -> Iterator[sessionmaker[Session]]:
    with store.transaction() as session:
        fill(session)
    APP.state.sessions = store.sessions
    yield store.sessions
    APP.state.sessions = sessionmaker()


@SCHEMA.parametrize()
@SETTINGS
def test_no_generated_request_is_a_server_error(case: schemathesis.Case[Any]) -> None:
    case.call_and_validate(checks=[not_a_server_error])


def test_no_sequence_of_linked_requests_is_a_server_error() -> None:
    answered: list[tuple[str, int]] = []

    class Linked(SCHEMA.as_state_machine()):  # type: ignore[misc]
        def validate_response(self, response, case, additional_checks=None, **kwargs):  # type: ignore[no-untyped-def]
            answered.append((case.operation.label, response.status_code))
            case.validate_response(response, checks=[not_a_server_error])

    Linked.run(settings=hypothesis.settings(SETTINGS, max_examples=25, stateful_step_count=6))
    # the links were followed: stored domains and indicators reached, which random names never are
    assert {"GET /api/domains/{name}", "GET /api/lineage/{name}", "GET /api/pivot/{kind}/{value}"} <= {
        label for label, status in answered if status == 200}, sorted(set(answered))


def test_the_document_links_every_answer_to_the_requests_it_names() -> None:
    doc = APP.openapi()
    links = {path: set(op["get"]["responses"]["200"].get("links", {})) for path, op in doc["paths"].items()}
    assert links["/api/domains"] == {"FirstDomain", "FirstLineage"}
    assert links["/api/domains/{name}"] == {"Lineage", "FirstIndicator"}
    assert links["/api/lineage/{name}"] and links["/api/pivot/{kind}/{value}"]


@pytest.mark.parametrize(("path", "detail"), [
    ("/api/domains?offset=10000000000000000001", "less than or equal to 1000000000"),
    ("/api/domains?offset=-1", "greater than or equal to 0"),
    ("/api/domains?limit=10001", "less than or equal to 10000"),
    ("/api/domains?q=a%00b", "q: NUL bytes are not allowed"),
    ("/api/domains?campaign=%00", "campaign: NUL bytes are not allowed"),
    ("/api/domains?q=" + "a" * 254, "at most 253 characters"),
    ("/api/domains?since=0001-01-01T00:00:00%2B14:00", "since: must be between 1900-01-01 and 9000-01-01"),
    ("/api/domains?since=9999-12-31T23:59:59-14:00", "since: must be between 1900-01-01 and 9000-01-01"),
    ("/api/domains/a%00b.ltd", "name: NUL bytes are not allowed"),
    ("/api/domains/" + "a" * 254, "at most 253 characters"),
    ("/api/lineage/%00", "name: NUL bytes are not allowed"),
    ("/api/pivot/ga/G-%00", "value: NUL bytes are not allowed"),
    ("/api/pivot/ga/" + "v" * 513, "at most 512 characters"),
    ("/api/pivot/" + "k" * 33 + "/v", "at most 32 characters"),
])
def test_out_of_range_input_is_a_422_naming_it(path: str, detail: str) -> None:
    response = get(APP, path)
    assert response.status_code == 422, (path, response.text[:200])
    assert detail in response.text


def test_the_largest_accepted_values_are_answered() -> None:
    page = get(APP, "/api/domains?offset=1000000000&limit=10000&since=1900-01-01T00:00:00Z").json()
    assert page["offset"] == 1000000000 and page["domains"] == [] and page["total"] == 5
