"""The committed client (rlarena/api_client/generated.py) is the one the committed OpenAPI document
generates: change a route, run `make docs`, commit both."""

from __future__ import annotations

import json

from rlarena.api_client import generate
from rlarena.api_docs import merged_document_bytes


def test_the_committed_client_is_generated_from_the_committed_document_run_make_docs_when_this_fails() -> None:
    expected = generate.render(json.loads(merged_document_bytes()))
    assert generate.OUTPUT.read_text(encoding="utf-8") == expected
