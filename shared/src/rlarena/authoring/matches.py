"""`rlarena matches [AGENT_ID]`: recent matches of one agent, or of all mine: when, the opponent,
the result from my agent's side, and why the game ended when the API says (an end reason, or the
match's error)."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from rlarena.api_client.generated import ArenaApi, Match

Side = Literal[1, 2]


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("agent_id", nargs="?", help="one agent (default: all of mine)")
    parser.add_argument("--limit", type=int, default=20, help="how many matches, newest first (default 20, max 100)")


def run(arguments: argparse.Namespace) -> int:
    from rlarena.authoring.session import against_platform

    limit = min(max(arguments.limit, 1), 100)
    return against_platform("matches", lambda client: _matches(client, arguments.agent_id, limit))


def _matches(client: ArenaApi, agent_id: str | None, limit: int) -> int:
    from rlarena.authoring.table import printed_table

    mine = [agent_id] if agent_id else [agent["id"] for agent in client.my_agents()["agents"]]
    found: list[tuple[str, Match]] = []
    for agent in mine:
        page = client.agent_matches(agent, page_size=limit)["matches"]
        found.extend((agent, match) for match in page)
    found.sort(key=lambda pair: pair[1]["createdAt"] or "", reverse=True)
    if not found:
        print("no matches yet")
        return 0
    names = _Names(client)
    rows = []
    for agent, match in found[:limit]:
        side: Side = 1 if match["agent1Id"] == agent else 2
        other: Side = 2 if side == 1 else 1
        rows.append(
            [
                (match["createdAt"] or "")[:19].replace("T", " "),
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


def _agent_id(match: Match, side: Side) -> str:
    return match["agent1Id"] if side == 1 else match["agent2Id"]


def _result(match: Match, side: Side) -> str:
    if match["status"] != "completed":
        return match["status"]
    winner = match["winnerId"]
    rated = "" if match["isRated"] else " (unrated)"
    if winner is None:
        return "draw" + rated
    return ("win" if winner == _agent_id(match, side) else "loss") + rated


def _elo_change(match: Match, side: Side) -> str:
    change = match["agent1EloChange"] if side == 1 else match["agent2EloChange"]
    return f"{change:+.1f}" if change is not None else ""


def _reason(match: Match) -> str:
    reason = match["endReason"] or match["errorMessage"] or ""
    failed = [status for status in (match["agent1Status"], match["agent2Status"]) if status and status != "OK"]
    text = reason.splitlines()[0] if reason else ""
    return f"{text} ({', '.join(failed)})" if failed and ", ".join(failed) not in text else text


class _Names:
    """Agents' names: from the match when the API gives them, else looked up once per agent."""

    def __init__(self, client: ArenaApi) -> None:
        self._client = client
        self._known: dict[str, str] = {}

    def of(self, match: Match, side: Side) -> str:
        given = match["agent1Name"] if side == 1 else match["agent2Name"]
        if given:
            return given
        agent_id = _agent_id(match, side)
        if agent_id not in self._known:
            from rlarena.errors import ApiError

            try:
                self._known[agent_id] = self._client.get_agent(agent_id)["agent"]["name"]
            except ApiError:
                self._known[agent_id] = agent_id  # deleted since: its id is all there is
        return self._known[agent_id]
