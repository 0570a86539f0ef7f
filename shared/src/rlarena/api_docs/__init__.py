"""The merged OpenAPI document of the public API, shipped as package data (`make docs` writes it
with `python -m rlarena.http.openapi`; a test fails while it is stale)."""

from __future__ import annotations

from importlib import resources

DOCUMENT = "openapi.json"


def merged_document_bytes() -> bytes:
    """The document's bytes, exactly as written (JSON, UTF-8)."""
    return resources.files(__name__).joinpath(DOCUMENT).read_bytes()
