"""The API reference pages as functions of the merged OpenAPI document."""

from __future__ import annotations

import json
import re
from importlib import resources

from rlarena.api_docs import merged_document_bytes
from rlarena.web.api_reference import operations, operations_section, swagger_page
from rlarena.web.assets import static_file
from rlarena.web.docs_page import docs_page


def test_every_operation_of_the_merged_document_is_listed_once_with_a_deep_link() -> None:
    document = json.loads(merged_document_bytes())
    expected = {
        (method.upper(), path, spec["operationId"])
        for path, item in document["paths"].items()
        for method, spec in item.items()
        if method in ("get", "put", "post", "delete", "patch")
    }
    assert {(o.method, o.path, o.operation_id) for o in operations()} == expected
    section = operations_section()
    assert section.count("<li>") == len(expected)
    ticket = next(o for o in operations() if o.path == "/api/v1/ws/ticket")
    assert f'href="/api/v1/docs#/{ticket.tag}/create_ws_ticket"><code>POST /api/v1/ws/ticket</code></a>' in section


def test_the_docs_page_ends_with_the_api_reference_and_lists_it_in_its_contents() -> None:
    html = docs_page(user=None)
    assert '<a href="#api-reference">API reference</a>' in html
    assert html.index('class="doc"') < html.index('id="api-reference"')
    assert 'href="/api/v1/docs"' in html and 'href="/api/v1/openapi.json"' in html


def test_the_swagger_page_loads_only_our_own_scripts_and_stylesheet() -> None:
    html = swagger_page(user=None)
    assert re.findall(r'<script src="([^"]+)"', html) == [
        "/assets/app.js",
        "/assets/swagger-ui-bundle.js",
        "/assets/api-docs.js",
    ]
    assert '<link rel="stylesheet" href="/assets/swagger-ui.css">' in html
    assert "<script>" not in html  # the page's CSP allows no inline script
    assert 'data-document="/api/v1/openapi.json"' in html


def test_the_vendored_renderer_is_served_from_the_package_with_its_licence_beside_it() -> None:
    bundle, css = static_file("swagger-ui-bundle.js"), static_file("swagger-ui.css")
    assert bundle is not None and b"SwaggerUIBundle" in bundle
    assert css is not None and b".swagger-ui" in css
    assert static_file("LICENSE") is None and static_file("../vendor/swagger-ui/swagger-ui.css") is None
    vendor = resources.files("rlarena.web").joinpath("vendor", "swagger-ui")
    assert "Apache License" in vendor.joinpath("LICENSE").read_text()
    assert json.loads(vendor.joinpath("package.json").read_text())["version"].startswith("5.")
