"""`rlarena matches [AGENT_ID]`: recent matches of one agent, or of all mine: when, the opponent,
the result from my agent's side, and why the game ended when the API says (an end reason, or the
match's error)."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rlarena.authoring.client import ArenaClient


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("agent_id", nargs="?", help="one agent (default: all of mine)")
    parser.add_argument("--limit", type=int, default=20, help="how many matches, newest first (default 20, max 100)")


def run(arguments: argparse.Namespace) -> int:
    from rlarena.authoring.session import against_platform

    limit = min(max(arguments.limit, 1), 100)
    return against_platform("matches", lambda client: _matches(client, arguments.agent_id, limit))


def _matches(client: ArenaClient, agent_id: str | None, limit: int) -> int:
    from rlarena.authoring.table import printed_table

    mine = [agent_id] if agent_id else [agent["id"] for agent in client.get("/api/v1/agents/my")["agents"]]
    found: list[tuple[str, dict[str, Any]]] = []
    for agent in mine:
        page = client.get(f"/api/v1/matches/agent/{agent}", pageSize=limit)["matches"]
        found.extend((agent, match) for match in page)
    found.sort(key=lambda pair: str(pair[1].get("createdAt") or ""), reverse=True)
    if not found:
        print("no matches yet")
        return 0
    names = _Names(client)
    rows = []
    for agent, match in found[:limit]:
        side = 1 if match["agent1Id"] == agent else 2
        other = 3 - side
        rows.append(
            [
                str(match.get("createdAt") or "")[:19].replace("T", " "),
                match["id"],
                names.of(match, side),
                names.of(match, other),
                _result(match, side),
                _elo_change(match, side),
                _reason(match),
            ]
        )
    printed_table(["WHEN", "MATCH", "AGENT", "OPPONENT", "RESULT", "ELO", "REASON"], rows)
    return 0


def _result(match: dict[str, Any], side: int) -> str:
    if match.get("status") != "completed":
        return str(match.get("status"))
    winner = match.get("winnerId")
    rated = "" if match.get("isRated", True) else " (unrated)"
    if winner is None:
        return "draw" + rated
    return ("win" if winner == match[f"agent{side}Id"] else "loss") + rated


def _elo_change(match: dict[str, Any], side: int) -> str:
    change = match.get(f"agent{side}EloChange")
    return f"{change:+.1f}" if isinstance(change, int | float) else ""


def _reason(match: dict[str, Any]) -> str:
    reason = match.get("endReason") or match.get("errorMessage") or ""
    statuses = [match.get(f"agent{side}Status") for side in (1, 2)]
    failed = [status for status in statuses if status and status != "OK"]
    text = str(reason).splitlines()[0] if reason else ""
    return f"{text} ({', '.join(failed)})" if failed and ", ".join(failed) not in text else text


class _Names:
    """Agents' names: from the match when the API gives them, else looked up once per agent."""

    def __init__(self, client: ArenaClient) -> None:
        self._client = client
        self._known: dict[str, str] = {}

    def of(self, match: dict[str, Any], side: int) -> str:
        given = match.get(f"agent{side}Name")
        if isinstance(given, str) and given:
            return given
        agent_id = str(match[f"agent{side}Id"])
        if agent_id not in self._known:
            from rlarena.authoring.client import ApiError

            try:
                self._known[agent_id] = str(self._client.get(f"/api/v1/agents/{agent_id}")["agent"]["name"])
            except ApiError:
                self._known[agent_id] = agent_id  # deleted since: its id is all there is
        return self._known[agent_id]
