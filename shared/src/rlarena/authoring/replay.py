"""`rlarena replay MATCH_ID [--html] [-o FILE]`: download a match's replay, as JSON or as the
self-contained HTML player, into FILE (default replay-MATCH_ID.json or .html; "-" for stdout)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from rlarena.api_client.generated import ArenaApi


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("match_id", help="the match (rlarena matches lists them)")
    parser.add_argument("--html", action="store_true", help="the HTML player instead of JSON")
    parser.add_argument("-o", "--output", help="where to write it (default replay-MATCH_ID.json/.html; - for stdout)")


def run(arguments: argparse.Namespace) -> int:
    from rlarena.authoring.session import against_platform

    kind: Literal["json", "html"] = "html" if arguments.html else "json"
    output = arguments.output or f"replay-{arguments.match_id}.{kind}"
    return against_platform("replay", lambda client: _replay(client, arguments.match_id, kind, output))


def _replay(client: ArenaApi, match_id: str, kind: Literal["json", "html"], output: str) -> int:
    data = client.replay(match_id, format=kind)
    if output == "-":
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
        return 0
    Path(output).expanduser().write_bytes(data)
    print(f"wrote the {kind} replay of match {match_id} to {output} ({len(data)} bytes)")
    return 0
