"""Leaderboards served from rendered pages: an unchanged board costs one stamp read, and a change
committed by any process, through any code path, shows on the next request."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from sqlalchemy import text, update

from rlarena.adapters.db.engine import make_engine
from rlarena.adapters.db.leaderboard_stamps import StampReader
from rlarena.adapters.db.models import Agent, User
from rlarena.bootstrap import Platform, bootstrap
from rlarena.events.publisher import RecordingPublisher
from rlarena.service import agents
from rlarena.service.agents import SortedLeaderboardQuery
from rlarena.service.commands import UpdateAgent
from tests.conftest import make_settings
from tests.support.api import ApiClient
from tests.support.api import User as ApiUser
from tests.support.databases import PostgresDatabases
from tests.support.seed import activate
from tests.support.statements import statements

BOARD = "/api/v1/leaderboard?limit=100"
TIC_TAC_TOE_BOARD = "/api/v1/leaderboard/environment/tic-tac-toe?limit=100"


def ranked_agents(api: ApiClient, platform: Platform, owner: ApiUser, count: int) -> list[str]:
    ids = [api.create_agent(owner, f"bot{n}")["id"] for n in range(count)]
    for n, agent_id in enumerate(ids):
        activate(platform, agent_id, elo=1500 + 10 * n)
    return ids


def board(api: ApiClient, path: str = BOARD) -> dict[str, Any]:
    response = api.get(path)
    assert response.status_code == 200, response.json
    assert response.mimetype == "application/json"
    return response.json  # type: ignore[no-any-return]


def test_an_unchanged_board_is_answered_without_reading_it_again(api: ApiClient, platform: Platform) -> None:
    ranked_agents(api, platform, api.register(), 3)
    first = api.get(BOARD).data
    with statements(platform.engine) as seen:
        again = api.get(BOARD).data
    assert again == first
    assert not [s for s in seen if "FROM agents" in s]  # the board's own queries never ran
    assert [a["elo"] for a in board(api)["leaderboard"]] == [1520, 1510, 1500]


def test_each_page_limit_and_order_is_its_own_page(api: ApiClient, platform: Platform) -> None:
    ranked_agents(api, platform, api.register(), 3)
    assert [a["elo"] for a in board(api, "/api/v1/leaderboard?limit=2")["leaderboard"]] == [1520, 1510]
    assert [a["elo"] for a in board(api, "/api/v1/leaderboard?limit=2&page=2")["leaderboard"]] == [1500]
    assert len(board(api, BOARD)["leaderboard"]) == 3
    by_env = board(api, TIC_TAC_TOE_BOARD)
    assert by_env["environmentId"] == "tic-tac-toe" and by_env["total"] == 3
    assert board(api, "/api/v1/leaderboard/environment/pong")["leaderboard"] == []
    assert api.get("/api/v1/leaderboard/environment/go").status_code == 404


def test_changes_committed_by_another_replica_show_at_once(api: ApiClient, platform: Platform) -> None:
    owner = api.register()
    low, middle, high = ranked_agents(api, platform, owner, 3)
    other = bootstrap(platform.settings, publisher=RecordingPublisher())  # another process, its own cache
    try:
        assert [a["elo"] for a in board(api)["leaderboard"]] == [1520, 1510, 1500]
        board(api, TIC_TAC_TOE_BOARD)

        agents.update_agent(other, uuid.UUID(owner.id), uuid.UUID(low), UpdateAgent(name="renamed"))
        assert "renamed" in [a["name"] for a in board(api)["leaderboard"]]
        assert "renamed" in [a["name"] for a in board(api, TIC_TAC_TOE_BOARD)["leaderboard"]]

        # Any write path, even plain SQL, moves the stamp: the triggers see every row.
        with other.engine.begin() as connection:
            connection.execute(update(Agent).where(Agent.id == uuid.UUID(low)).values(elo=1900, wins=7))
        top = board(api)["leaderboard"][0]
        assert (top["id"], top["elo"], top["wins"], top["rank"]) == (low, 1900, 7, 1)
        assert board(api, TIC_TAC_TOE_BOARD)["leaderboard"][0]["id"] == low

        with other.engine.begin() as connection:
            connection.execute(update(User).where(User.id == uuid.UUID(owner.id)).values(username="someone-else"))
        assert {a["username"] for a in board(api)["leaderboard"]} == {"someone-else"}

        agents.delete_agent(other, uuid.UUID(owner.id), uuid.UUID(high))
        listed = board(api)
        assert ([a["id"] for a in listed["leaderboard"]], listed["total"]) == ([low, middle], 2)
        assert [a["id"] for a in board(api, TIC_TAC_TOE_BOARD)["leaderboard"]] == [low, middle]
    finally:
        other.close()


def test_a_change_in_another_game_leaves_this_games_page_cached(api: ApiClient, platform: Platform) -> None:
    owner = api.register()
    ranked_agents(api, platform, owner, 2)
    pong = api.create_agent(owner, "pong bot", "pong")["id"]
    board(api, TIC_TAC_TOE_BOARD)
    activate(platform, pong, elo=1700)
    with statements(platform.engine) as seen:
        board(api, TIC_TAC_TOE_BOARD)
    assert not [s for s in seen if "FROM agents" in s]
    assert board(api)["leaderboard"][0]["id"] == pong


def _postgres_platform(postgres_databases: PostgresDatabases, tmp_path: Path) -> Platform:
    url = postgres_databases.create(tmp_path)
    return bootstrap(make_settings(tmp_path / "data", url), publisher=RecordingPublisher())


def _names(platform: Platform) -> list[str]:
    def render(ranked: list[Any], total: int) -> bytes:
        return ",".join(r.agent.name for r in ranked).encode()

    page = agents.rendered_leaderboard(platform, None, SortedLeaderboardQuery(), render)
    return page.decode().split(",") if page else []


def test_a_reader_sees_a_change_exactly_when_it_commits_on_postgresql(
    postgres_databases: PostgresDatabases, tmp_path: Path
) -> None:
    platform = _postgres_platform(postgres_databases, tmp_path)
    try:
        with platform.engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO users (id, username, email, password_hash, created_at, updated_at) "
                    "VALUES (:id, 'u', 'u@example.com', 'x', now(), now())"
                ),
                {"id": uuid.uuid4()},
            )
        user_id = uuid.UUID(str(platform.engine.connect().execute(text("SELECT id FROM users")).scalar_one()))
        agent_id = uuid.uuid4()
        with platform.uow() as uow:
            uow.agents.add(Agent(id=agent_id, user_id=user_id, environment_id="pong", name="before"))
            uow.commit()
        activate(platform, str(agent_id))
        assert _names(platform) == ["before"]
        stamp = platform.leaderboard_stamp(None)

        with platform.engine.connect() as writer:
            writer.execute(update(Agent).where(Agent.id == agent_id).values(name="after"))
            assert platform.leaderboard_stamp(None) == stamp  # not committed: nothing to see yet
            assert _names(platform) == ["before"]
            writer.commit()
        assert platform.leaderboard_stamp(None) != stamp
        assert _names(platform) == ["after"]

        moved = platform.leaderboard_stamp(None)
        with platform.engine.begin() as writer:  # a row rewritten unchanged shows nothing new
            writer.execute(text("UPDATE agents SET name = name"))
        assert platform.leaderboard_stamp(None) == moved
    finally:
        platform.close()


def test_stamp_connections_dropped_by_a_restart_are_replaced_on_postgresql(
    postgres_databases: PostgresDatabases, tmp_path: Path
) -> None:
    url = postgres_databases.create(tmp_path)
    engine = make_engine(url, pool_size=1, max_overflow=0)
    reader = StampReader(engine, pool_size=3, max_overflow=0)
    try:
        before = reader.read(None)
        pooled = reader._own
        assert pooled is not None
        held = [pooled.raw_connection() for _ in range(3)]  # three pooled connections ...
        for connection in held:
            connection.close()
        with engine.begin() as admin:  # ... all killed, as by a server restart
            killed = admin.execute(
                text(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            ).scalar_one()
        assert killed >= 3
        assert reader.read(None) == before
        assert reader.read("pong") == tuple(pair for pair in before if pair[0] == "pong")
    finally:
        reader.close()
        engine.dispose()
