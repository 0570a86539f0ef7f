"""An agent's page and a match's page, as functions of the API's JSON."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from rlarena.web.agent_parts import rating_chart, upload_form, versions_table
from rlarena.web.layout import page
from rlarena.web.markup import Html, join, tag
from rlarena.web.paging import Paging, pager

Json = Mapping[str, Any]


def _table(headers: Sequence[str], rows: Sequence[Html], **attributes: object) -> Html:
    head = tag("thead", tag("tr", *(tag("th", h, scope="col") for h in headers)))
    return tag("table", head, tag("tbody", *rows), **attributes)


def _match_row(match: Json) -> Html:
    winner = match.get("winnerId")
    result = "draw" if winner is None and match.get("status") == "completed" else match.get("status")
    if winner is not None:
        result = f"{match.get('agent1Name') if winner == match.get('agent1Id') else match.get('agent2Name')} won"
    return tag(
        "tr",
        tag(
            "td",
            tag("a", f"{match.get('agent1Name')} vs {match.get('agent2Name')}", href=f"/matches/{match.get('id')}"),
        ),
        tag("td", result),
        tag("td", match.get("endReason") or ""),
    )


def matches_table(matches: Sequence[Json]) -> Html:
    if not matches:
        return tag("p", "No matches yet.", class_="muted")
    return _table(["Match", "Result", "End reason"], [_match_row(m) for m in matches], class_="matches")


@dataclass(frozen=True)
class AgentPaging:
    """The pages shown of an agent's matches (`?page=`) and rating history (`?history=`)."""

    matches: Paging
    history: Paging
    query: Mapping[str, str]


def agent(
    found: Json,
    submissions: Sequence[Json] | None,
    matches: Sequence[Json],
    opponents: Sequence[Json],
    *,
    user: str | None,
    live_ticket: str | None,
    history: Sequence[Json] = (),
    upload_error: str | None = None,
    paging: AgentPaging | None = None,
) -> Html:
    """`submissions` is None unless the viewer owns the agent; `live_ticket` (a WebSocket ticket,
    never the session token, which stays in its HttpOnly cookie) lets the page's script follow its
    builds over the WebSocket; `history` is the rating history, newest first."""
    agent_id = str(found.get("id"))
    facts = tag(
        "p",
        f"Game: {found.get('environmentId')} · owner: {found.get('username')} · Elo {found.get('elo')} · ",
        f"record {found.get('wins', 0)}-{found.get('losses', 0)}-{found.get('draws', 0)}",
    )
    pages = paging or AgentPaging(Paging(1, max(len(matches), 1)), Paging(1, max(len(history), 1)), {})
    parts = [
        facts,
        tag("p", found.get("description") or ""),
        tag("h2", "Rating history"),
        rating_chart(history),
        pager(pages.history, pages.query, "Pages of the rating history", param="history"),
    ]
    if submissions is not None:
        parts += [tag("h2", "Versions"), versions_table(agent_id, submissions), upload_form(agent_id, upload_error)]
    parts += [
        tag("h2", "Recent matches"),
        matches_table(matches),
        pager(pages.matches, pages.query, "Pages of the recent matches"),
        tag("h2", "Head to head"),
        _table(
            ["Opponent", "Wins", "Losses", "Draws"],
            [
                tag(
                    "tr",
                    tag("td", tag("a", o.get("opponentName"), href=f"/agents/{o.get('opponentId')}")),
                    tag("td", o.get("wins")),
                    tag("td", o.get("losses")),
                    tag("td", o.get("draws")),
                )
                for o in opponents
            ],
        )
        if opponents
        else tag("p", "No opponents yet.", class_="muted"),
    ]
    content = tag("div", join(parts), id="agent", data_agent_id=agent_id, data_live_ticket=live_ticket)
    return page(str(found.get("name")), content, user=user)


def _side(match: Json, side: int) -> Html:
    name, version = match.get(f"agent{side}Name"), match.get(f"agent{side}Version")
    return tag(
        "li",
        tag("a", name, href=f"/agents/{match.get(f'agent{side}Id')}"),
        f" (v{version})" if version is not None else "",
        f": score {match.get(f'agent{side}Score')}, status {match.get(f'agent{side}Status') or 'unknown'}",
    )


def embedded_json(value: object) -> Html:
    """JSON inside `<script type="application/json">`: no `<` survives, so no `</script>` either."""
    return Html(json.dumps(value, separators=(",", ":")).replace("<", "\\u003c").replace("&", "\\u0026"))


def match(found: Json, replay: object | None, *, user: str | None, logs: Sequence[Json] = ()) -> Html:
    """The match, its replay and, beside it, `logs`: the viewer's own agents' lines (never another's)."""
    winner = found.get("winnerId")
    if winner is None:
        result = "draw" if found.get("status") == "completed" else str(found.get("status"))
    else:
        result = f"{found.get('agent1Name') if winner == found.get('agent1Id') else found.get('agent2Name')} won"
    parts = [
        tag("ul", _side(found, 1), _side(found, 2), class_="sides"),
        tag("p", f"Result: {result}", tag("br"), f"End reason: {found.get('endReason') or 'not ended'}"),
    ]
    if replay is not None:
        parts += [
            tag("div", "", id="replay", aria_label="Replay"),
            tag("script", embedded_json(replay), type="application/json", id="replay-data"),
            tag("script", embedded_json(list(logs)), type="application/json", id="replay-logs") if logs else Html(""),
            tag("script", src="/assets/player.js", defer=True),
        ]
    else:
        parts.append(tag("p", "No replay for this match.", class_="muted"))
    title = f"{found.get('agent1Name')} vs {found.get('agent2Name')}"
    return page(title, join(parts), user=user)


def document(title: str, body: Html, *, user: str | None) -> Html:
    return page(title, tag("article", body, class_="doc"), user=user)
