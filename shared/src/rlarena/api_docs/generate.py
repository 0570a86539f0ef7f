"""The merged OpenAPI document of the public API: `python -m rlarena.api_docs.generate` (make docs).

Every HTTP function but the web app (rlarena.platform.targets), internal routes left out, each path
and method once (/health and the document itself are answered alike by every function).
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rlarena.http.openapi import TITLE, build, document_bytes
from rlarena.http.operation import Operation

if TYPE_CHECKING:
    from rlarena.http.api import HttpApi

OUTPUT = Path(__file__).resolve().parent / "openapi.json"
# The functions behind the gateway's API routes (the web app serves pages, and this document).
SERVICES = ("auth", "agents", "submissions", "matchmaker", "ws-relay")


def merged_document() -> dict[str, Any]:
    from rlarena.platform.targets import HTTP_SERVICES

    seen: dict[tuple[str, str], Operation] = {}
    for name in SERVICES:
        module, _, attribute = HTTP_SERVICES[name].partition(":")
        api: HttpApi = getattr(importlib.import_module(module), attribute)
        for operation in api.operations():
            if not operation.internal:
                seen.setdefault((operation.rule, operation.method), operation)
    return build(list(seen.values()), title=TITLE)


def main(argv: list[str] | None = None) -> int:
    """Write the merged document (`--check`: fail if the written one is stale)."""
    args = sys.argv[1:] if argv is None else argv
    fresh = document_bytes(merged_document())
    if "--check" in args:
        if not OUTPUT.exists() or OUTPUT.read_bytes() != fresh:
            print(f"{OUTPUT} is stale: run `python -m rlarena.api_docs.generate` (make docs)", file=sys.stderr)
            return 1
        return 0
    OUTPUT.write_bytes(fresh)
    print(f"wrote {OUTPUT}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
