"""`rlarena logs MATCH_ID`: what my agents printed in a match (stderr, capped by the platform), with
each one's status and error; the platform shows them to the agents' owners only."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rlarena.authoring.client import ArenaClient


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("match_id", help="the match (rlarena matches lists them)")


def run(arguments: argparse.Namespace) -> int:
    from rlarena.authoring.session import against_platform

    return against_platform("logs", lambda client: _logs(client, arguments.match_id))


def _logs(client: ArenaClient, match_id: str) -> int:
    entries = client.get(f"/api/v1/matches/{match_id}/logs")["logs"]
    for entry in entries:
        print(f"== agent {entry.get('agentId')}: {entry.get('status')} ==")
        if entry.get("errorMessage"):
            print(entry["errorMessage"])
        print(entry.get("logs") or "(it printed nothing)")
    return 0
