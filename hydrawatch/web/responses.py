"""The API's JSON: every response (errors included) escapes controls, bidi and line separators as
``\\uXXXX`` through detect.textsafe, as the CLI's ``--format json`` does."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse

from detect import textsafe


class SafeJSONResponse(JSONResponse):
    """Starlette's compact JSON with every unsafe character escaped (the app's default response class)."""

    def render(self, content: Any) -> bytes:
        return textsafe.json_dumps(content, indent=None, allow_nan=False, separators=(",", ":")).encode("utf-8")


async def _http_error(request: Request, exc: Exception) -> SafeJSONResponse:
    assert isinstance(exc, HTTPException)
    return SafeJSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers)


async def _invalid_request(request: Request, exc: Exception) -> SafeJSONResponse:
    # a 422 repeats the rejected input: it is as hostile as crawled text
    assert isinstance(exc, RequestValidationError)
    return SafeJSONResponse({"detail": jsonable_encoder(exc.errors())}, status_code=422)


def install(app: FastAPI) -> None:
    """Error responses through SafeJSONResponse too (default_response_class covers only the endpoints)."""
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _invalid_request)
