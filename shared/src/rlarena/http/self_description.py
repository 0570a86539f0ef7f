"""GET /api/v1/openapi.json for every function: its own routes' document, built on first request."""

from __future__ import annotations

import flask

from rlarena.http.api import Context, HttpApi
from rlarena.http.operation import Content

DOCUMENT_PATH = "/api/v1/openapi.json"


def add_openapi(api: HttpApi) -> None:
    built: list[bytes] = []

    @api.route(
        DOCUMENT_PATH,
        "GET",
        summary="This function's OpenAPI 3.1 document",
        description="The routes this function answers, with their parameters, bodies, answers and errors, "
        "generated from the code. The gateway's merged document covers every function.",
        tags=("service",),
        database=False,
        responses={200: Content({"application/json": {"type": "object"}}, "An OpenAPI 3.1 document")},
    )
    def openapi_document(ctx: Context) -> flask.Response:
        if not built:
            from rlarena.http.openapi import document, document_bytes  # pydantic's schema work: first call only

            built.append(document_bytes(document(api)))
        return flask.Response(built[0], mimetype="application/json")
