"""`rlarena logs MATCH_ID`: what my agents printed in a match (stderr, capped by the platform), with
each one's status and error; the platform shows them to the agents' owners only."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rlarena.api_client.generated import ArenaApi


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("match_id", help="the match (rlarena matches lists them)")


def run(arguments: argparse.Namespace) -> int:
    from rlarena.authoring.session import against_platform

    return against_platform("logs", lambda client: _logs(client, arguments.match_id))


def _logs(client: ArenaApi, match_id: str) -> int:
    for entry in client.match_logs(match_id)["logs"]:
        print(f"== agent {entry['agentId']}: {entry['status']} ==")
        if entry["errorMessage"]:
            print(entry["errorMessage"])
        print(entry["logs"] or "(it printed nothing)")
    return 0
