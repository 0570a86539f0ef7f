"""The house agents as the platform runs them: sandboxed, on the match runner, against random.

Every agent in the catalogue plays whole games against its game's random agent, from both sides,
and never fails; the strong ones beat random by a margin no luck explains (the 95% interval on
their score lies well above one half).
"""

from __future__ import annotations

import pytest

from rlarena.authoring.local_matches import Arena, local_arena
from rlarena.authoring.tally import Tally
from rlarena.config import Settings
from rlarena.house import catalogue
from tests.conftest import make_settings

# How each game may end when both agents behave: by its rules, never by a failure.
RULE_ENDINGS = {
    "tic-tac-toe": {"three in a row", "board full"},
    "connect-four": {"four in a row", "board full"},
    "chess": {
        "checkmate",
        "stalemate",
        "insufficient material",
        "fifty-move rule",
        "threefold repetition",
        "move limit",
    },
    "pong": {"11 points", "step limit"},
}


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return make_settings(tmp_path_factory.mktemp("house-agents"))


def _series(arena: Arena, games: int) -> Tally:
    tally = Tally(arena.names)
    for index in range(games):
        tally.add(arena.play(index + 1, seed=100 + index, a_first=index % 2 == 0))
    return tally


@pytest.mark.parametrize("house", catalogue.HOUSE_AGENTS, ids=lambda agent: f"{agent.game}:{agent.name}")
def test_every_house_agent_plays_whole_legal_games_against_random(
    house: catalogue.HouseAgent, settings: Settings
) -> None:
    assert (house.folder / house.entry_point).is_file()
    with local_arena(house.game, house.reference, "house:random", settings) as arena:
        tally = _series(arena, games=2)
    assert [record.a_player for record in tally.records] == [0, 1]
    for record in tally.records:
        assert record.platform_error == ""
        assert record.statuses == ("OK", "OK"), record.errors
        assert record.reason in RULE_ENDINGS[house.game]
        assert record.steps > 0
        assert record.move_times[0], "the house agent answered no move"


@pytest.mark.parametrize(
    ("game", "agent", "games", "least_wins"),
    [
        ("tic-tac-toe", "house:negamax", 16, 12),
        ("connect-four", "house:negamax", 8, 7),
        ("chess", "house:search", 6, 5),
        ("pong", "house:follower", 6, 6),
    ],
)
def test_the_strong_house_agents_beat_random_by_a_significant_margin(
    game: str, agent: str, games: int, least_wins: int, settings: Settings
) -> None:
    with local_arena(game, agent, "house:random", settings) as arena:
        tally = _series(arena, games)
    wins, _draws, losses = tally.results()
    assert losses == 0
    assert wins >= least_wins
    assert tally.score().low > 0.5  # the 95% interval on the score excludes an even match


def test_negamax_never_loses_at_tic_tac_toe_even_to_the_greedy_agent(settings: Settings) -> None:
    with local_arena("tic-tac-toe", "house:negamax", "house:greedy", settings) as arena:
        tally = _series(arena, games=6)
    assert tally.results()[2] == 0
    assert all(record.statuses == ("OK", "OK") for record in tally.records)


def test_connect_four_negamax_answers_well_inside_the_move_limit(settings: Settings) -> None:
    with local_arena("connect-four", "house:negamax", "house:greedy", settings) as arena:
        tally = _series(arena, games=2)
    slowest = max(time for record in tally.records for time in record.move_times[0])
    assert slowest < 1.5  # the limit is 2 s a move; the agent budgets 0.5 s
    # Every move answered in time and legal. (How deep the search gets in its 0.5 s depends on how
    # busy the machine is, so whether it beats greedy in two games is not asserted here: its
    # strength is, statistically against random above, and in positions by
    # tests/unit/test_house_negamax_connect_four.py.)
    assert all(record.statuses == ("OK", "OK") for record in tally.records)
