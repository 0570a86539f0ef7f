"""`rlarena status`: my agents on the platform, with Elo, record, active version and latest build."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rlarena.api_client.generated import ArenaApi


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--game", help="only agents of this game")


def run(arguments: argparse.Namespace) -> int:
    from rlarena.authoring.session import against_platform

    return against_platform("status", lambda client: _status(client, arguments.game))


def _status(client: ArenaApi, game: str | None) -> int:
    from rlarena.authoring.table import printed_table

    agents = client.my_agents(environment_id=game or None)["agents"]
    if not agents:
        print("no agents yet: create one on the platform, then rlarena submit AGENT_ID PATH")
        return 0
    rows = []
    for agent in agents:
        submissions = client.list_submissions(agent["id"])["submissions"]
        versions = {item["id"]: item["version"] for item in submissions}
        latest = max(submissions, key=lambda item: item["version"], default=None)
        active = agent["activeSubmissionId"]
        rows.append(
            [
                agent["id"],
                agent["name"],
                agent["environmentId"],
                f"{agent['elo']:.0f}",
                f"{agent['wins']}-{agent['losses']}-{agent['draws']}",
                f"v{versions[active]}" if active in versions else "-",
                f"v{latest['version']} {latest['status']}" if latest else "-",
            ]
        )
    printed_table(["AGENT", "NAME", "GAME", "ELO", "W-L-D", "ACTIVE", "LATEST BUILD"], rows)
    return 0
