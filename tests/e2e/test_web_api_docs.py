"""The API reference in chromium on the local platform: /api/v1/docs renders the merged OpenAPI
document with the vendored Swagger UI (nothing fetched from elsewhere), an operation expands, and
/docs lists every operation with links into it. Any console or page error fails the test."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit

from playwright.sync_api import Page, Request, expect

from rlarena.api_docs import merged_document_bytes
from tests.support.browser import screenshot
from tests.support.running_platform import RunningPlatform

METHODS = ("get", "put", "post", "delete", "patch")


def document() -> dict[str, Any]:
    found: dict[str, Any] = json.loads(merged_document_bytes())
    return found


def deep_link(path: str, method: str) -> str:
    """Swagger UI's link to an operation: #/<first tag>/<operationId>."""
    operation = document()["paths"][path][method]
    return f"#/{operation['tags'][0]}/{operation['operationId']}"


def test_the_api_reference_renders_the_merged_document_and_expands_an_operation(
    page: Page, local_platform: RunningPlatform
) -> None:
    base = local_platform.base_url
    elsewhere: list[str] = []

    def note(request: Request) -> None:
        if urlsplit(request.url).netloc not in ("", urlsplit(base).netloc):
            elsewhere.append(request.url)

    page.on("request", note)
    page.goto(f"{base}/")
    page.get_by_role("link", name="API", exact=True).click()
    expect(page.get_by_role("heading", level=1, name="API reference")).to_be_visible()
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("RL Arena API", timeout=20_000)
    operation = page.locator(".opblock", has=page.locator(".opblock-summary-path", has_text="/api/v1/ws/ticket"))
    operation.locator(".opblock-summary-control").click()
    expect(operation.locator(".opblock-body")).to_be_visible()
    expect(operation.locator(".responses-wrapper")).to_contain_text("201")
    assert page.url.endswith(deep_link("/api/v1/ws/ticket", "post"))
    screenshot(page, "api-docs")
    page.set_viewport_size({"width": 390, "height": 844})
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    screenshot(page, "api-docs-phone")
    assert elsewhere == []

    served = local_platform.request("GET", "/api/v1/openapi.json")
    assert served.status == 200 and served.headers["content-type"].startswith("application/json")
    assert served.body == document()


def test_the_docs_page_lists_every_operation_with_a_link_into_the_reference(
    page: Page, local_platform: RunningPlatform
) -> None:
    expected = sum(1 for item in document()["paths"].values() for method in item if method in METHODS)
    page.goto(f"{local_platform.base_url}/docs")
    page.get_by_role("navigation", name="Contents").get_by_role("link", name="API reference").click()
    section = page.get_by_role("region", name="API reference")
    expect(section).to_be_visible()
    assert section.locator("ul.operations li").count() == expected
    link = section.get_by_role("link", name="POST /api/v1/auth/register")
    assert link.get_attribute("href") == "/api/v1/docs" + deep_link("/api/v1/auth/register", "post")
    link.click()
    expect(page.locator(".opblock.is-open .opblock-summary-path")).to_contain_text(
        "/api/v1/auth/register", timeout=20_000
    )
    screenshot(page, "docs-to-operation")
