"""Each page as a function of the API's JSON: pure, so rendering and escaping are unit-tested on plain data."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from rlarena.web.agent_pages import matches_table
from rlarena.web.layout import page
from rlarena.web.markup import Html, join, tag, void
from rlarena.web.paging import MAX_PAGE_SIZE, Paging, pager

Json = Mapping[str, Any]


def agent_link(agent: Json) -> Html:
    return tag("a", agent.get("name", "?"), href=f"/agents/{agent.get('id', '')}")


def home(environments: Sequence[Json], boards: Mapping[str, Sequence[Json]], *, user: str | None) -> Html:
    sections = []
    for environment in environments:
        top = boards.get(str(environment.get("id")), [])
        rows = [tag("li", agent_link(a), " ", tag("span", f"Elo {a.get('elo')}", class_="muted")) for a in top]
        sections.append(
            tag(
                "section",
                tag("h2", tag("a", environment.get("name"), href=f"/games/{environment.get('id')}")),
                tag("p", environment.get("description") or ""),
                tag("ol", *rows) if rows else tag("p", "No ranked agents yet.", class_="muted"),
                class_="card",
            )
        )
    return page("Games", join(sections) if sections else tag("p", "No games yet."), user=user)


def _field(label: str, name: str, kind: str, value: str = "", **extra: object) -> Html:
    return tag(
        "p",
        tag("label", label, for_=name),
        void("input", id=name, name=name, type=kind, value=value or None, required=True, **extra),
    )


def _error(message: str | None) -> Html:
    return tag("p", message, class_="error", role="alert") if message else Html("")


def signup(*, error: str | None = None, username: str = "", email: str = "") -> Html:
    form = tag(
        "form",
        _error(error),
        _field("Username", "username", "text", username, minlength=3, maxlength=50, autocomplete="username"),
        _field("Email", "email", "email", email, autocomplete="email"),
        _field("Password", "password", "password", minlength=8, autocomplete="new-password"),
        tag("button", "Sign up", type="submit"),
        method="post",
        action="/signup",
    )
    return page("Sign up", form, user=None)


def login(*, error: str | None = None, email: str = "") -> Html:
    form = tag(
        "form",
        _error(error),
        _field("Email or username", "email", "text", email, autocomplete="username"),
        _field("Password", "password", "password", autocomplete="current-password"),
        tag("button", "Log in", type="submit"),
        method="post",
        action="/login",
    )
    return page("Log in", form, user=None)


def leaderboard(
    environment: Json,
    board: Sequence[Json],
    *,
    sort: str,
    user: str | None,
    live: bool = False,
    ticket: str | None = None,
    paging: Paging | None = None,
    query: Mapping[str, str] | None = None,
) -> Html:
    """`live`: the page follows the board over the WebSocket, as the viewer (with a WebSocket
    `ticket`, never the session token) or anonymously."""
    headers = tag(
        "tr",
        tag("th", "Rank", scope="col"),
        tag("th", "Agent", scope="col"),
        tag("th", "Owner", scope="col"),
        tag("th", tag("a", "Elo", href="?sort=elo", aria_current="true" if sort == "elo" else None), scope="col"),
        tag(
            "th",
            tag(
                "a",
                Html("Skill (&mu; &plusmn; &sigma;)"),
                href="?sort=conservative",
                aria_current="true" if sort == "conservative" else None,
            ),
            scope="col",
        ),
        tag("th", "Record (W-L-D)", scope="col"),
    )
    rows = [
        tag(
            "tr",
            tag("td", a.get("rank")),
            tag("td", agent_link(a)),
            tag("td", a.get("username")),
            tag("td", a.get("elo")),
            tag("td", skill_interval(a.get("skill"))),
            tag("td", f"{a.get('wins', 0)}-{a.get('losses', 0)}-{a.get('draws', 0)}"),
        )
        for a in board
    ]
    table = tag(
        "table",
        tag("caption", f"Leaderboard, sorted by {'conservative skill' if sort == 'conservative' else 'Elo'}"),
        tag("thead", headers),
        tag("tbody", *rows),
        class_="leaderboard",
        data_environment_id=environment.get("id") if live else None,
        data_live_ticket=ticket if live else None,
    )
    intro = tag("p", environment.get("description") or "")
    pages = pager(paging, query or {}, "Pages of the leaderboard") if paging else ""
    content = join([intro, table, "" if rows else tag("p", _empty_board(paging), class_="muted"), pages])
    return page(str(environment.get("name") or environment.get("id")), content, user=user)


def _empty_board(paging: Paging | None) -> str:
    return "No agents on this page." if paging and paging.page > 1 else "No ranked agents yet."


def skill_interval(skill: Json | None) -> str:
    if not skill:
        return "not rated"
    mu, sigma = float(skill["mu"]), float(skill["sigma"])
    return f"{mu:.1f} ± {sigma:.1f} ({mu - sigma:.1f} to {mu + sigma:.1f})"


def my_agents(
    agents: Sequence[Json],
    environments: Sequence[Json],
    *,
    user: str,
    error: str | None = None,
    matches: Sequence[Json] = (),
    paging: Paging | None = None,
    query: Mapping[str, str] | None = None,
    versions: Mapping[str, Sequence[Json]] | None = None,
) -> Html:
    """My agents with their versions' build status (`versions`: each agent's, newest first), a form
    to create one, and my recent matches (`paging`: which page of them)."""
    rows = [
        tag(
            "tr",
            tag("td", agent_link(a)),
            tag("td", a.get("environmentId")),
            tag("td", a.get("elo")),
            tag("td", versions_summary(a, (versions or {}).get(str(a.get("id"))))),
        )
        for a in agents
    ]
    table = (
        tag(
            "table",
            tag("thead", tag("tr", *(tag("th", h, scope="col") for h in ("Agent", "Game", "Elo", "Versions")))),
            tag("tbody", *rows),
            class_="my-agents",
        )
        if rows
        else tag("p", "You have no agents yet.", class_="muted")
    )
    options = [tag("option", e.get("name"), value=e.get("id")) for e in environments]
    form = tag(
        "form",
        tag("h2", "Create an agent"),
        _error(error),
        _field("Name", "name", "text", maxlength=100),
        tag(
            "p",
            tag("label", "Game", for_="environmentId"),
            tag("select", *options, id="environmentId", name="environmentId"),
        ),
        tag("button", "Create agent", type="submit"),
        method="post",
        action="/me/agents",
    )
    recent = [
        tag("h2", "My recent matches"),
        matches_table(matches),
        pager(paging, query or {}, "Pages of my recent matches") if paging else "",
    ]
    if paging and not matches and paging.page * paging.size > MAX_PAGE_SIZE:
        recent.insert(2, tag("p", "Older matches are listed on each agent's page.", class_="muted"))
    return page("My agents", join([table, *recent, form]), user=user)


def versions_summary(agent: Json, submissions: Sequence[Json] | None) -> str:
    """ "v4 building · v3 in play": the newest version's build status and the one that plays."""
    if submissions is None:  # not read: say what the agent itself says
        return "active version" if agent.get("activeSubmissionId") else "no active version"
    if not submissions:
        return "no versions yet"
    newest = submissions[0]
    playing = next((s for s in submissions if s.get("isActive")), None)
    parts = [] if newest is playing else [f"v{newest.get('version')} {newest.get('status')}"]
    parts.append(f"v{playing.get('version')} in play" if playing else "none in play")
    return " · ".join(parts)


def not_found(message: str, *, user: str | None = None) -> Html:
    return page("Page not found", tag("p", message, " ", tag("a", "Back to the games", href="/")), user=user)


def failure(title: str, message: str, *, user: str | None = None) -> Html:
    return page(title, tag("p", message, class_="error", role="alert"), user=user)
