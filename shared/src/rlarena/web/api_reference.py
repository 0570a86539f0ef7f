"""The API reference: the merged OpenAPI document (`rlarena.api_docs`, package data written by
`make docs`), served as is at /api/v1/openapi.json, rendered by Swagger UI at /api/v1/docs, and
listed operation by operation on /docs.

Swagger UI 5 (OpenAPI 3.1) is vendored from npm under web/vendor/swagger-ui (with its LICENSE) and
served from /assets/: nothing is fetched from elsewhere at run time. The document is read and parsed
on first use only (cold start).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from itertools import groupby

from rlarena.web.layout import page
from rlarena.web.markup import Html, join, tag, void

DOCS_PATH = "/api/v1/docs"
DOCUMENT_PATH = "/api/v1/openapi.json"
METHODS = ("get", "put", "post", "delete", "patch")


@dataclass(frozen=True)
class Operation:
    tag: str
    method: str
    path: str
    summary: str
    operation_id: str

    @property
    def anchor(self) -> str:
        """Swagger UI's deep link to the operation (deepLinking: #/<tag>/<operationId>)."""
        return f"{DOCS_PATH}#/{self.tag}/{self.operation_id}"


@cache
def document_bytes() -> bytes:
    from rlarena.api_docs import merged_document_bytes

    return merged_document_bytes()


@cache
def operations() -> tuple[Operation, ...]:
    """Every operation of the merged document, by tag, then path, then method."""
    paths = json.loads(document_bytes()).get("paths", {})
    found = [
        Operation(
            tag=(spec.get("tags") or ["other"])[0],
            method=method.upper(),
            path=path,
            summary=spec.get("summary") or spec.get("operationId", ""),
            operation_id=spec.get("operationId", ""),
        )
        for path, item in paths.items()
        for method, spec in item.items()
        if method in METHODS
    ]
    return tuple(sorted(found, key=lambda o: (o.tag, o.path, METHODS.index(o.method.lower()))))


def operations_section() -> Html:
    """For /docs: a link to the interactive reference and every operation, grouped by tag."""
    groups = []
    for name, members in groupby(operations(), key=lambda o: o.tag):
        items = [
            tag(
                "li",
                tag("a", tag("code", f"{o.method} {o.path}"), href=o.anchor),
                " ",
                tag("span", o.summary, class_="muted"),
            )
            for o in members
        ]
        groups.append(join([tag("h3", name.capitalize(), id=f"api-{name}"), tag("ul", *items, class_="operations")]))
    intro = tag(
        "p",
        "Every operation of the REST API, described by an OpenAPI 3.1 document (",
        tag("a", DOCUMENT_PATH, href=DOCUMENT_PATH),
        "); try them out in the ",
        tag("a", "interactive API reference", href=DOCS_PATH),
        ".",
    )
    heading = tag("h2", "API reference", id="api-reference")
    return tag("section", heading, intro, *groups, aria_labelledby="api-reference")


def swagger_page(*, user: str | None) -> Html:
    intro = tag(
        "p",
        "Every route of the REST API, from its OpenAPI 3.1 document (",
        tag("a", DOCUMENT_PATH, href=DOCUMENT_PATH),
        "). Sign up or log in for a token, then Authorize with it to try the routes that need one. ",
        tag("a", "Writing an agent", href="/docs"),
        " explains the agent interface.",
    )
    content = join(
        [
            intro,
            tag("div", "Loading the API reference…", id="swagger-ui", data_document=DOCUMENT_PATH),
            tag("script", src="/assets/swagger-ui-bundle.js", defer=True),
            tag("script", src="/assets/api-docs.js", defer=True),
        ]
    )
    stylesheet = void("link", rel="stylesheet", href="/assets/swagger-ui.css")
    return page("API reference", content, user=user, extra_head=stylesheet)
