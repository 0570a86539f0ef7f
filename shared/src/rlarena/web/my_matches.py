"""The viewer's recent matches across all their agents, a page at a time.

The API lists matches per agent (newest first), so page N of the merged list is within the first
N pages of every agent's list: those are read (up to the API's 100 per request), merged newest
first (a match between two of the viewer's agents once) and cut to the page. Further back than
100 matches per agent, each agent's own page lists them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from rlarena.web.paging import MAX_PAGE_SIZE, Paging

Json = Mapping[str, Any]


class ReadsApi(Protocol):
    """What is needed of `ApiClient` here: its GET."""

    def get(self, path: str) -> dict[str, Any]: ...


def recent_matches(api_client: ReadsApi, agents: Sequence[Json], paging: Paging) -> tuple[list[Json], Paging]:
    """The page of matches `paging` asks for, and the paging with its total."""
    wanted = paging.page * paging.size
    if wanted > MAX_PAGE_SIZE:
        return [], paging.counted(_total(api_client, agents))
    found: dict[str, Json] = {}
    listed = 0
    for agent in agents:
        answer = api_client.get(f"/api/v1/matches/agent/{agent['id']}?pageSize={wanted}")
        listed += int(answer.get("total", 0))
        for match in answer["matches"]:
            if match["id"] in found:
                listed -= 1  # both sides are the viewer's: one match
            found[match["id"]] = match
    newest_first = sorted(found.values(), key=lambda m: (m.get("createdAt") or "", m["id"]), reverse=True)
    return newest_first[paging.offset : wanted], paging.counted(listed)


def _total(api_client: ReadsApi, agents: Sequence[Json]) -> int:
    return sum(int(api_client.get(f"/api/v1/matches/agent/{a['id']}?pageSize=1").get("total", 0)) for a in agents)
