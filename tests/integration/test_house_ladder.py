"""House agents on the ladder: seeded once (even by two seeders at once), a new version when the
shipped code changes, built like any upload, anchors in matchmaking, off the ladder with
HOUSE_AGENTS=false and back with true, and out of every user's reach."""

from __future__ import annotations

import shutil
import threading
import uuid
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from cloudevents.conversion import to_binary
from functions_framework import create_app
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from rlarena.adapters.db.models import Agent, Match, MatchmakingQueueEntry, Submission, User
from rlarena.bootstrap import Platform
from rlarena.domain.statuses import MatchStatus, QueueStatus, SubmissionStatus
from rlarena.house.catalogue import HOUSE_AGENTS, HouseAgent, lookup
from rlarena.house.packaging import shipped_code
from rlarena.platform.manifests import load_documents, ping_sources
from rlarena.platform.ping import ping_event
from rlarena.service import build_queue, house_agents, match_lifecycle, matchmaking
from rlarena.service.house_agents import HOUSE_EMAIL, HOUSE_USERNAME, SeedingReport
from tests.conftest import ROOT
from tests.support.api import ApiClient
from tests.support.seed import insert_match, seed_arena

AUTHOR_AGENT = b"def agent(observation, configuration):\n    return observation['legal_actions'][0]\n"


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    return {"HOUSE_AGENTS": True, "MATCHMAKER_COOLDOWN": timedelta(0)}


@dataclass(frozen=True)
class HouseAgentAt(HouseAgent):
    """A catalogue entry whose code lives under `root` (a copy the test may change)."""

    root: Path = Path()

    @property
    def folder(self) -> Path:
        return self.root / self.game / self.name


@pytest.fixture
def catalogue(tmp_path: Path) -> list[HouseAgent]:
    """Three of the shipped house agents, their code copied to a folder of the test's."""
    chosen = [lookup("tic-tac-toe", "random"), lookup("tic-tac-toe", "greedy"), lookup("connect-four", "random")]
    root = tmp_path / "house"
    for house in chosen:
        shutil.copytree(house.folder, root / house.game / house.name)
    return [HouseAgentAt(h.game, h.name, h.description, root=root) for h in chosen]


def house_rows(platform: Platform) -> dict[str, tuple[Agent, list[Submission]]]:
    """Every house agent by its agent name, with its versions (oldest first)."""
    with platform.uow() as uow:
        agents = uow.session.scalars(select(Agent).where(Agent.house_name.is_not(None))).all()
        found = {}
        for agent in agents:
            versions = uow.session.scalars(
                select(Submission).where(Submission.agent_id == agent.id).order_by(Submission.version)
            ).all()
            found[agent.name] = (agent, list(versions))
        uow.session.expunge_all()
        return found


def board(api: ApiClient, environment: str = "tic-tac-toe") -> dict[str, bool]:
    response = api.get(f"/api/v1/leaderboard/environment/{environment}")
    assert response.status_code == 200
    return {entry["name"]: entry["house"] for entry in response.json["leaderboard"]}


def set_house_agents(platform: Platform, on: bool) -> None:
    platform.settings = platform.settings.model_copy(update={"house_agents": on})


def finish_open_matches(platform: Platform) -> None:
    with platform.uow() as uow:
        ids = uow.session.scalars(select(Match.id).where(Match.status == MatchStatus.PENDING.value)).all()
        uow.session.execute(update(Match).where(Match.id.in_(ids)).values(status=MatchStatus.COMPLETED.value))
        uow.commit()
    for match_id in ids:
        match_lifecycle.match_ended(platform, match_id)


def booked_pairs(platform: Platform) -> list[frozenset[uuid.UUID]]:
    with platform.uow() as uow:
        rows = uow.session.execute(select(Match.agent1_id, Match.agent2_id).where(Match.status == "pending")).all()
    return [frozenset(row) for row in rows]


# -- seeding -------------------------------------------------------------------------------------


def test_seeding_creates_each_house_agent_once_with_its_code_queued_for_a_normal_build(
    platform: Platform, catalogue: list[HouseAgent]
) -> None:
    assert house_agents.seed(platform, catalogue) == SeedingReport(created=3, submitted=3)
    assert house_agents.seed(platform, catalogue) == SeedingReport()  # twice in a row: nothing to do
    rows = house_rows(platform)
    assert sorted(rows) == ["greedy (tic-tac-toe)", "random (connect-four)", "random (tic-tac-toe)"]
    for house in catalogue:
        agent, versions = rows[f"{house.name} ({house.game})"]
        assert (agent.environment_id, agent.house_name, agent.description) == (
            house.game,
            house.name,
            house.description,
        )
        code = shipped_code(house)
        assert code is not None
        (only,) = versions
        assert (only.status, only.entry_point, only.source_sha256) == (SubmissionStatus.PENDING, "main.py", code.sha256)
        assert only.priority < 0  # built after every author's upload
        assert platform.store.get(only.source_key or "") == code.data
    with platform.uow() as uow:
        owners = uow.session.scalars(select(User).where(User.username == HOUSE_USERNAME)).all()
        assert [(o.email, o.password_hash) for o in owners] == [(HOUSE_EMAIL, "!")]
        assert {agent.user_id for agent, _ in rows.values()} == {owners[0].id}


def test_two_seeders_at_once_create_each_house_agent_and_version_once(
    platform: Platform, catalogue: list[HouseAgent]
) -> None:
    start = threading.Barrier(2)
    reports: list[SeedingReport] = []
    failures: list[BaseException] = []

    def seeder() -> None:
        start.wait()
        try:
            reports.append(house_agents.seed(platform, catalogue))
        except BaseException as error:  # reported by the assertion below
            failures.append(error)

    threads = [threading.Thread(target=seeder) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert failures == []
    assert sum(r.created for r in reports) == 3
    assert sum(r.submitted for r in reports) == 3
    rows = house_rows(platform)
    assert len(rows) == 3
    assert all(len(versions) == 1 for _, versions in rows.values())
    with platform.uow() as uow:
        assert len(uow.session.scalars(select(User.id).where(User.username == HOUSE_USERNAME)).all()) == 1


def test_changed_shipped_code_is_submitted_as_a_new_version_of_that_agent_only(
    platform: Platform, catalogue: list[HouseAgent]
) -> None:
    house_agents.seed(platform, catalogue)
    changed = catalogue[1]
    entry = changed.folder / changed.entry_point
    entry.write_text(entry.read_text() + "\n# tuned\n")
    assert house_agents.seed(platform, catalogue) == SeedingReport(submitted=1)
    rows = house_rows(platform)
    _, versions = rows["greedy (tic-tac-toe)"]
    assert [v.version for v in versions] == [1, 2]
    assert versions[0].source_sha256 != versions[1].source_sha256
    assert platform.store.get(versions[1].source_key or "") == shipped_code(changed).data  # type: ignore[union-attr]
    assert all(len(v) == 1 for name, (_, v) in rows.items() if name != "greedy (tic-tac-toe)")
    assert house_agents.seed(platform, catalogue) == SeedingReport()


def test_a_house_agent_whose_code_is_not_there_yet_is_left_out(platform: Platform, catalogue: list[HouseAgent]) -> None:
    shutil.rmtree(catalogue[2].folder)
    assert house_agents.seed(platform, catalogue) == SeedingReport(created=2, submitted=2)
    assert "random (connect-four)" not in house_rows(platform)


# -- on the ladder, off it and back --------------------------------------------------------------


def uploaded_author_agent(api: ApiClient) -> str:
    author = api.register()
    agent_id: str = api.create_agent(author, "solo")["id"]
    assert api.upload(author, agent_id, "agent.py", AUTHOR_AGENT).status_code == 201
    return agent_id


def test_house_agents_build_join_the_ladder_anchor_an_author_and_leave_with_the_setting(
    platform: Platform, api: ApiClient, catalogue: list[HouseAgent]
) -> None:
    house_agents.seed(platform, catalogue)
    agent_id = uploaded_author_agent(api)
    build_queue.run_queue(platform)
    rows = house_rows(platform)
    assert all(v[-1].status == SubmissionStatus.ACTIVE and a.active_submission_id for a, v in rows.values())
    assert board(api) == {"random (tic-tac-toe)": True, "greedy (tic-tac-toe)": True, "solo": False}
    assert board(api, "connect-four") == {"random (connect-four)": True}
    house = rows["random (tic-tac-toe)"][0]
    shown = api.get(f"/api/v1/agents/{house.id}").json["agent"]
    assert (shown["house"], shown["username"], shown["rank"]) == (True, HOUSE_USERNAME, 1)
    assert api.get(f"/api/v1/agents/{agent_id}").json["agent"]["house"] is False

    # A lone author is matched at once, against a house agent.
    assert matchmaking.tick(platform, dispatch=False).booked == 1
    (pairing,) = booked_pairs(platform)
    house_ids = {a.id for a, _ in rows.values()}
    assert uuid.UUID(agent_id) in pairing and pairing & house_ids
    finish_open_matches(platform)

    # HOUSE_AGENTS=false: off matchmaking and the leaderboards; still there by id, history kept.
    set_house_agents(platform, False)
    assert house_agents.seed(platform, catalogue) == SeedingReport(retired=3)
    assert board(api) == {"solo": False}
    assert board(api, "connect-four") == {}
    shown = api.get(f"/api/v1/agents/{house.id}").json["agent"]
    assert (shown["house"], shown["activeSubmissionId"], shown["rank"]) == (True, None, None)
    with platform.uow() as uow:
        assert not uow.session.scalars(
            select(MatchmakingQueueEntry).where(MatchmakingQueueEntry.agent_id.in_(house_ids))
        ).all()
    assert matchmaking.tick(platform, dispatch=False).booked == 0
    assert house_agents.seed(platform, catalogue) == SeedingReport()

    # On again: the same agents and versions play again (nothing rebuilt).
    set_house_agents(platform, True)
    assert house_agents.seed(platform, catalogue) == SeedingReport(reactivated=3)
    assert board(api) == {"random (tic-tac-toe)": True, "greedy (tic-tac-toe)": True, "solo": False}
    assert all(len(v) == 1 for _, v in house_rows(platform).values())
    assert matchmaking.tick(platform, dispatch=False).booked == 1


def test_users_cannot_change_house_agents_nor_act_as_their_owner(
    platform: Platform, api: ApiClient, catalogue: list[HouseAgent]
) -> None:
    house_agents.seed(platform, catalogue)
    house = house_rows(platform)["random (tic-tac-toe)"][0]
    user = api.register()
    attempts: list[Any] = [
        api.put(f"/api/v1/agents/{house.id}", json={"name": "mine now"}, headers=user.headers),
        api.request("PATCH", f"/api/v1/agents/{house.id}", json={"description": "x"}, headers=user.headers),
        api.delete(f"/api/v1/agents/{house.id}", headers=user.headers),
        api.upload(user, str(house.id), "agent.py", AUTHOR_AGENT),
        api.get(f"/api/v1/submissions/agent/{house.id}", headers=user.headers),  # versions and build logs
    ]
    for response in attempts:
        assert response.status_code == 403, response.json
        assert response.json["code"] == "forbidden" and response.json["error"]
    for login in (HOUSE_USERNAME, HOUSE_EMAIL):
        refused = api.post("/api/v1/auth/login", json={"email": login, "password": "anything at all"})
        assert refused.status_code == 401 and refused.json["error"]
    taken = api.post(
        "/api/v1/auth/register", json={"username": HOUSE_USERNAME, "email": "x@example.com", "password": "long enough"}
    )
    assert taken.status_code == 400 and taken.json["error"]
    again = house_rows(platform)["random (tic-tac-toe)"]
    assert (again[0].name, again[0].deleted_at, len(again[1])) == ("random (tic-tac-toe)", None, 1)


# -- anchors in matchmaking ----------------------------------------------------------------------


def test_one_house_agent_plays_several_authors_in_one_tick_and_stays_waiting(platform: Platform) -> None:
    platform.settings = platform.settings.model_copy(
        update={"matchmaker_initial_window": 150, "matchmaker_max_window": 150}
    )
    # Two established authors 200 apart (they may not meet) and a house agent between them that
    # is already in a match.
    low, high, house = seed_arena(platform, "tic-tac-toe", [1400, 1600, 1500], games=[30, 30, 30])
    (other,) = seed_arena(platform, "tic-tac-toe", [3000], games=[30])
    with platform.uow() as uow:
        uow.session.execute(update(Agent).where(Agent.id == house).values(house_name="random"))
        uow.commit()
    insert_match(platform, str(house), str(other), is_rated=False)
    assert matchmaking.tick(platform, dispatch=False).booked == 2
    assert sorted(booked_pairs(platform), key=lambda p: low in p) == [frozenset((high, house)), frozenset((low, house))]
    with platform.uow() as uow:
        entries = {e.agent_id: e for e in uow.session.scalars(select(MatchmakingQueueEntry))}
    assert (entries[house].status, entries[house].match_id, entries[house].day_count) == (QueueStatus.WAITING, None, 0)
    assert entries[low].status == entries[high].status == QueueStatus.MATCHED

    # With HOUSE_AGENTS=false the matchmaker books none, even while its queue entry is there.
    finish_open_matches(platform)
    set_house_agents(platform, False)
    platform.settings = platform.settings.model_copy(update={"matchmaker_rematch_after": timedelta(0)})
    assert matchmaking.tick(platform, dispatch=False).booked == 0
    set_house_agents(platform, True)
    assert matchmaking.tick(platform, dispatch=False).booked == 2


# -- the tick ------------------------------------------------------------------------------------


def test_the_build_tick_seeds_every_shipped_house_agent_and_builds_it_like_an_upload(
    platform: Platform, api: ApiClient
) -> None:
    tick = ping_event(next(s for s in ping_sources(load_documents(ROOT / "knative")) if s.name == "matchmaker-tick"))
    main = str(ROOT / "functions" / "submissions" / "main.py")
    builder_jobs = create_app("builder_on_job_event", main).test_client()  # type: ignore[no-untyped-call]
    headers, body = to_binary(tick)
    response = builder_jobs.post("/", headers=headers, data=body)
    assert response.status_code == 200, response.data
    rows = house_rows(platform)
    assert {(a.environment_id, a.house_name) for a, _ in rows.values()} == {(h.game, h.name) for h in HOUSE_AGENTS}
    failed = {name: v[-1].error_message for name, (_, v) in rows.items() if v[-1].status != SubmissionStatus.ACTIVE}
    assert failed == {}
    for environment in ("tic-tac-toe", "connect-four", "chess", "pong"):
        assert set(board(api, environment).values()) == {True}


def test_the_database_holds_one_live_house_agent_per_game_and_name(platform: Platform) -> None:
    (first,) = seed_arena(platform, "tic-tac-toe", [1500])
    (second,) = seed_arena(platform, "tic-tac-toe", [1500])
    with platform.uow() as uow:
        uow.session.execute(update(Agent).where(Agent.id == first).values(house_name="random"))
        uow.commit()
    with platform.uow() as uow, pytest.raises(IntegrityError):
        uow.session.execute(update(Agent).where(Agent.id == second).values(house_name="random"))
    with platform.uow() as uow:  # a retired (deleted) one leaves the name free
        uow.session.execute(update(Agent).where(Agent.id == first).values(deleted_at=Agent.created_at))
        uow.session.execute(update(Agent).where(Agent.id == second).values(house_name="random"))
        uow.commit()
