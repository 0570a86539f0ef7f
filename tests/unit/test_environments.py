"""Every registered game passes one conformance suite; then each game's own rules."""

from __future__ import annotations

import dataclasses
import json
import random
import subprocess
import sys
from typing import Any

import pytest

from rlarena.environments import registry
from rlarena.environments.base import Environment, IllegalAction, Outcome
from rlarena.environments.board_games import Chess
from rlarena.environments.pong import BALL_RADIUS, Pong
from rlarena.environments.registry import UnknownEnvironment
from rlarena.errors import InvalidInput
from tests.conftest import ROOT

IDS = [spec.id for spec in registry.available()]
PLAIN_JSON = (dict, list, str, int, float, bool, type(None))


def random_actions(environment: Environment, rng: random.Random) -> dict[int, int]:
    return {player: rng.choice(environment.legal_actions(player)) for player in environment.to_act()}


def play(environment: Environment, seed: int, max_steps: int | None = None, *, observe: bool = False) -> list[Any]:
    """A seeded random-but-legal game; returns the frames, rewards and outcome (and observations)."""
    environment.reset(seed)
    rng = random.Random(seed)
    trace: list[Any] = [environment.frame()]
    while not environment.done() and (max_steps is None or environment.steps < max_steps):
        if observe:
            trace.append([environment.observation(player) for player in (0, 1)])
        environment.step(random_actions(environment, rng))
        trace.append((environment.frame(), environment.last_rewards()))
    if environment.done():
        trace.append(environment.outcome())
    return trace


def assert_plain_json(value: Any) -> None:
    """Only JSON's own types all the way down: numpy scalars would slip past json.dumps' eyes."""
    assert type(value) in PLAIN_JSON, f"{type(value).__name__}: {value!r}"
    if isinstance(value, dict):
        assert all(type(key) is str for key in value)
        for item in value.values():
            assert_plain_json(item)
    elif isinstance(value, list):
        for item in value:
            assert_plain_json(item)


def snapshot(environment: Environment) -> Any:
    return (environment.steps, environment.to_act(), environment.frame(), [environment.observation(p) for p in (0, 1)])


@pytest.fixture(params=IDS)
def environment(request: pytest.FixtureRequest) -> Environment:
    return registry.create(request.param)


# --- the registry ------------------------------------------------------------------------------


def test_the_four_games_are_registered_with_the_seed_configuration() -> None:
    specs = {spec.id: spec for spec in registry.available()}
    assert sorted(specs) == ["chess", "connect-four", "pong", "tic-tac-toe"]
    limits = {
        spec_id: (s.version, s.move_timeout_s, s.overage_s, s.startup_timeout_s, s.max_steps)
        for spec_id, s in specs.items()
    }
    assert limits == {
        "tic-tac-toe": ("v3", 2, 60, 30, 9),
        "connect-four": ("v3", 2, 60, 30, 42),
        "chess": ("v6", 5, 60, 30, 1000),
        "pong": ("v1", 1, 30, 30, 1000),
    }
    assert all(spec.players == 2 for spec in specs.values())


@pytest.mark.parametrize("environment_id", IDS)
def test_a_game_is_found_by_its_plain_and_its_versioned_id(environment_id: str) -> None:
    spec = registry.spec_of(environment_id)
    assert registry.spec_of(spec.versioned_id) is spec
    assert spec.id == environment_id


def test_a_wrong_version_is_refused_and_the_right_one_named() -> None:
    with pytest.raises(UnknownEnvironment, match=r"tic-tac-toe is at v3"):
        registry.spec_of("tic-tac-toe-v2")
    with pytest.raises(UnknownEnvironment):
        registry.create("pong-v0")


def test_an_unknown_id_lists_the_known_ids_and_is_a_400() -> None:
    with pytest.raises(UnknownEnvironment) as caught:
        registry.spec_of("go")
    assert all(environment_id in str(caught.value) for environment_id in IDS)
    assert isinstance(caught.value, ValueError)
    assert isinstance(caught.value, InvalidInput)
    assert "chess-v6" in caught.value.details["known"]


def test_looking_up_specs_imports_no_game_library() -> None:
    script = (
        "import sys\n"
        "from rlarena.environments import registry\n"
        "registry.available(); registry.spec_of('chess-v6'); registry.spec_of('pong')\n"
        "heavy = [m for m in ('pettingzoo', 'numpy', 'chess', 'pygame', 'gymnasium') if m in sys.modules]\n"
        "print(','.join(heavy))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True, cwd=ROOT
    )
    assert result.stdout.strip() == ""


def test_create_gives_a_fresh_game_with_its_spec(environment: Environment) -> None:
    assert registry.spec_of(environment.spec.id) is environment.spec
    assert environment.steps == 0
    assert not environment.done()
    assert environment.to_act()


# --- conformance: every game -------------------------------------------------------------------


def test_the_same_seed_replays_the_same_game(environment: Environment) -> None:
    first = play(environment, seed=7, max_steps=80, observe=True)
    second = play(environment, seed=7, max_steps=80, observe=True)
    assert first == second
    assert len(first) > 2


def test_observations_and_frames_are_plain_json(environment: Environment) -> None:
    environment.reset(3)
    rng = random.Random(3)
    while not environment.done() and environment.steps < 40:
        for value in [environment.frame(), *(environment.observation(player) for player in (0, 1))]:
            assert_plain_json(value)
            json.dumps(value)
        environment.step(random_actions(environment, rng))
    assert_plain_json(environment.frame())


def test_observations_do_not_reveal_the_seed(environment: Environment) -> None:
    seed = 918273645
    environment.reset(seed)
    assert all(str(seed) not in json.dumps(environment.observation(player)) for player in (0, 1))


@pytest.mark.parametrize("bad", [-1, 10**6, "0", 1.0, True, None])
def test_an_illegal_action_is_refused_and_changes_nothing(environment: Environment, bad: Any) -> None:
    environment.reset(1)
    environment.step(random_actions(environment, random.Random(1)))  # away from the opening
    player = environment.to_act()[0]
    actions = {**random_actions(environment, random.Random(2)), player: bad}
    before = snapshot(environment)
    with pytest.raises(IllegalAction) as caught:
        environment.step(actions)
    assert (caught.value.player, caught.value.action) == (player, bad)
    assert snapshot(environment) == before


def test_acting_out_of_turn_is_refused(environment: Environment) -> None:
    environment.reset(1)
    outsider = next(player for player in (0, 1, 2) if player not in environment.to_act())
    before = snapshot(environment)
    with pytest.raises(IllegalAction, match="turn") as caught:
        environment.step({**random_actions(environment, random.Random(1)), outsider: 0})
    assert caught.value.player == outsider
    assert environment.legal_actions(outsider) == []
    assert snapshot(environment) == before


def test_a_missing_action_is_the_runners_mistake(environment: Environment) -> None:
    environment.reset(1)
    with pytest.raises(ValueError, match="no action"):
        environment.step({})


def test_random_agents_finish_within_max_steps_with_a_valid_outcome(environment: Environment) -> None:
    with pytest.raises(ValueError, match="not over"):
        environment.outcome()
    play(environment, seed=11)
    outcome = environment.outcome()
    assert environment.done()
    assert 0 < environment.steps <= environment.spec.max_steps
    assert outcome.reason
    assert sum(outcome.scores) == 1.0
    expected = {None: (0.5, 0.5), 0: (1.0, 0.0), 1: (0.0, 1.0)}[outcome.winner]
    assert outcome.scores == expected


def test_a_finished_game_takes_no_more_steps(environment: Environment) -> None:
    play(environment, seed=5)
    assert environment.to_act() == []
    assert environment.legal_actions(0) == environment.legal_actions(1) == []
    with pytest.raises(IllegalAction, match="over"):
        environment.step({0: 0})
    with pytest.raises(ValueError, match="over"):
        environment.step({})


def test_a_seed_resets_a_finished_game(environment: Environment) -> None:
    fresh = snapshot(registry.create(environment.spec.id))
    play(environment, seed=5)
    environment.reset(0)
    assert snapshot(environment) == fresh


# --- tic-tac-toe -------------------------------------------------------------------------------


def win(player: int, reason: str) -> Outcome:
    return Outcome(winner=player, scores=(1.0, 0.0) if player == 0 else (0.0, 1.0), reason=reason)


def play_script(environment: Environment, moves: list[int]) -> None:
    for action in moves:
        environment.step({environment.to_act()[0]: action})


def test_tic_tac_toe_three_in_a_row_wins() -> None:
    game = registry.create("tic-tac-toe")
    play_script(game, [0, 1, 3, 4])  # cells run down the columns: 0, 3, 6 is the top row
    assert game.observation(1)["board"][0] == [2, 2, 0]  # player 1 sees X as the opponent
    assert game.observation(0)["board"][1] == [2, 2, 0]
    play_script(game, [6])
    assert game.outcome() == win(0, "three in a row")
    assert game.last_rewards() == (1.0, -1.0)
    assert game.frame()["board"] == [[1, 1, 1], [2, 2, 0], [0, 0, 0]]
    assert game.frame()["last_action"] == 6


def test_tic_tac_toe_refuses_a_taken_cell_by_its_mask() -> None:
    game = registry.create("tic-tac-toe")
    play_script(game, [4])
    assert game.observation(1)["action_mask"] == [1, 1, 1, 1, 0, 1, 1, 1, 1]
    assert game.observation(0)["action_mask"] == [0] * 9  # not player 0's turn
    with pytest.raises(IllegalAction, match="not a legal action"):
        game.step({1: 4})


def test_tic_tac_toe_full_board_without_a_line_is_a_draw() -> None:
    game = registry.create("tic-tac-toe")
    play_script(game, [4, 0, 8, 2, 1, 7, 6, 3, 5])
    assert game.frame()["board"] == [[2, 2, 1], [1, 1, 2], [2, 1, 1]]
    outcome = game.outcome()
    assert (outcome.winner, outcome.scores, outcome.reason) == (None, (0.5, 0.5), "board full")
    assert game.last_rewards() == (0.0, 0.0)


# --- connect-four ------------------------------------------------------------------------------


def test_connect_four_vertical_four_wins() -> None:
    game = registry.create("connect-four")
    play_script(game, [0, 1, 0, 1, 0, 1, 0])
    assert game.outcome() == win(0, "four in a row")
    board = game.frame()["board"]
    assert [row[0] for row in board] == [0, 0, 1, 1, 1, 1]  # rows from the top
    assert [row[1] for row in board] == [0, 0, 0, 2, 2, 2]


def test_connect_four_a_full_column_is_illegal() -> None:
    game = registry.create("connect-four")
    play_script(game, [0, 0, 0, 0, 0, 0])
    assert game.legal_actions(0) == [1, 2, 3, 4, 5, 6]
    with pytest.raises(IllegalAction):
        game.step({0: 0})


def test_connect_four_second_player_wins_for_player_one() -> None:
    game = registry.create("connect-four")
    play_script(game, [6, 0, 5, 0, 6, 0, 5, 0])
    outcome = game.outcome()
    assert (outcome.winner, outcome.scores) == (1, (0.0, 1.0))
    assert game.last_rewards() == (-1.0, 1.0)


# --- chess -------------------------------------------------------------------------------------


def chess_game(max_steps: int | None = None) -> Chess:
    spec = registry.spec_of("chess")
    return Chess(dataclasses.replace(spec, max_steps=max_steps) if max_steps else spec)


def play_uci(game: Chess, moves: list[str]) -> None:
    for move in moves:
        game.step({game.to_act()[0]: game.action_of(move)})


def test_chess_fools_mate_is_checkmate_for_black() -> None:
    game = chess_game()
    play_uci(game, ["f2f3", "e7e5", "g2g4", "d8h4"])
    outcome = game.outcome()
    assert (outcome.winner, outcome.scores, outcome.reason) == (1, (0.0, 1.0), "checkmate")
    assert game.frame()["last_move"] == "d8h4"


def test_chess_uci_and_actions_round_trip_in_the_opening() -> None:
    game = chess_game()
    observation = game.observation(0)
    assert len(observation["legal_moves"]) == 20
    assert observation["fen"] == "rnbqkbnr/pppppppp/8/8/8/8/PPPPPPPP/RNBQKBNR w KQkq - 0 1"
    for action, move in zip(observation["legal_actions"], observation["legal_moves"], strict=True):
        assert game.uci_of(action) == move
        assert game.action_of(move) == action
    with pytest.raises(ValueError, match="not a legal move"):
        game.action_of("e2e5")


def test_chess_uci_mapping_agrees_with_pettingzoos_mask_for_both_colours() -> None:
    game = chess_game()
    rng = random.Random(4)
    for _ in range(60):
        player = game.to_act()[0]
        observation = game.observation(player)
        mask_actions = [i for i, bit in enumerate(observation["action_mask"]) if bit]
        assert mask_actions == observation["legal_actions"]
        assert [game.action_of(move) for move in observation["legal_moves"]] == mask_actions
        game.step({player: rng.choice(mask_actions)})


def test_chess_promotion_moves_map_to_actions() -> None:
    game = chess_game()
    # White pushes the h-pawn through to h8 while black shuffles a knight.
    play_uci(game, ["h2h4", "g7g5", "h4g5", "g8f6", "g5g6", "f6g8", "g6g7", "g8f6"])
    moves = game.observation(0)["legal_moves"]
    assert {"g7h8q", "g7h8n", "g7h8b", "g7h8r"} <= set(moves)
    play_uci(game, ["g7h8n"])
    assert game.frame()["fen"].startswith("rnbqkb1N/")


def test_chess_ends_as_a_draw_at_the_ply_limit() -> None:
    game = chess_game(max_steps=12)
    play(game, seed=2)
    assert game.steps == 12
    outcome = game.outcome()
    assert (outcome.winner, outcome.scores, outcome.reason) == (None, (0.5, 0.5), "move limit")


def test_chess_refuses_an_encoded_move_its_mask_does_not_allow() -> None:
    game = chess_game()
    play_uci(game, ["e2e4"])
    white_move_for_black = 0
    assert game.observation(1)["action_mask"][white_move_for_black] == 0
    with pytest.raises(IllegalAction):
        game.step({1: white_move_for_black})


# --- pong --------------------------------------------------------------------------------------


def pong(seed: int = 0) -> Pong:
    game = Pong(registry.spec_of("pong"))
    game.reset(seed)
    return game


def place_ball(game: Pong, x: float, y: float, vx: float, vy: float) -> None:
    game._x, game._y, game._vx, game._vy = x, y, vx, vy


def stay(game: Pong, steps: int = 1) -> None:
    for _ in range(steps):
        game.step({0: 1, 1: 1})


def test_pong_ball_bounces_off_the_top_wall() -> None:
    game = pong()
    place_ball(game, 0.5, 0.03, 0.0, -0.02)
    stay(game)
    _, y, _, vy = game.observation(0)["observation"][:4]
    assert vy > 0
    assert y == pytest.approx(0.03)  # 0.01 past the wall line, mirrored back
    assert y >= BALL_RADIUS


def test_pong_a_missed_ball_scores_for_the_other_side() -> None:
    game = pong()
    place_ball(game, 0.11, 0.95, -0.02, 0.0)  # far below player 0's paddle at 0.5
    stay(game, 5)
    assert game.frame()["score"] == [0, 0]
    assert game.last_rewards() == (0.0, 0.0)
    stay(game)  # the centre leaves the field
    assert game.frame()["score"] == [0, 1]
    assert game.last_rewards() == (-1.0, 1.0)
    assert game.frame()["ball_pos"] == [0.5, 0.5]  # served again
    stay(game)
    assert game.last_rewards() == (0.0, 0.0)
    place_ball(game, 0.97, 0.5, 0.02, 0.0)  # behind player 1's paddle face: no save from behind
    stay(game, 2)
    assert game.frame()["score"] == [1, 1]
    assert game.last_rewards() == (1.0, -1.0)


def test_pong_a_paddle_returns_the_ball_at_an_angle_from_where_it_hit() -> None:
    game = pong()
    place_ball(game, 0.09, 0.5, -0.02, 0.0)  # dead centre of player 0's paddle
    stay(game)
    _, _, vx, vy = game.observation(0)["observation"][:4]
    assert vx == pytest.approx(0.02)
    assert vy == pytest.approx(0.0)
    place_ball(game, 0.91, 0.58, 0.02, 0.0)  # low on player 1's paddle
    stay(game)
    _, _, vx, vy = game.observation(1)["observation"][:4]
    assert vx < 0 < vy
    assert (vx**2 + vy**2) ** 0.5 == pytest.approx(0.02)  # same speed
    assert game.frame()["score"] == [0, 0]


def test_pong_paddles_stop_at_the_field_edges() -> None:
    game = pong()
    for _ in range(20):
        game.step({0: 0, 1: 2})
    assert game.frame()["paddle_positions"] == [pytest.approx(0.1), pytest.approx(0.9)]


def test_pong_observation_is_the_old_vector_for_each_player() -> None:
    game = pong()
    game.step({0: 0, 1: 2})
    first, second = game.observation(0), game.observation(1)
    assert (first["player"], second["player"]) == (0, 1)
    assert first["observation"] == second["observation"]
    assert first["observation"][4:] == [pytest.approx(0.45), pytest.approx(0.55), 0.0, 0.0]
    assert game.legal_actions(0) == [0, 1, 2]


def test_pong_serves_depend_on_the_seed_only() -> None:
    serves = {seed: tuple(pong(seed).observation(0)["observation"][2:4]) for seed in range(8)}
    assert serves[3] == tuple(pong(3).observation(0)["observation"][2:4])
    assert len(set(serves.values())) == 8
    assert {vx > 0 for vx, _ in serves.values()} == {True, False}


def test_pong_frame_has_the_keys_the_old_frontend_reads() -> None:
    frame = pong().frame()
    assert set(frame) == {"ball_pos", "paddle_positions", "score"}
    assert frame == {"ball_pos": [0.5, 0.5], "paddle_positions": [0.5, 0.5], "score": [0, 0]}


def track_the_ball(observation: dict[str, Any]) -> int:
    """The old frontend's quick-start agent, following the ball with its own paddle."""
    vector = observation["observation"]
    ball_y, paddle_y = vector[1], vector[4 + observation["player"]]
    if ball_y > paddle_y + 0.05:
        return 2
    if ball_y < paddle_y - 0.05:
        return 0
    return 1


def test_pong_a_match_between_ball_trackers_finishes() -> None:
    game = pong(seed=9)
    while not game.done():
        game.step({player: track_the_ball(game.observation(player)) for player in game.to_act()})
    outcome = game.outcome()
    assert outcome.reason in {"11 points", "step limit"}
    assert game.steps <= 1000
    score = game.frame()["score"]
    assert (outcome.reason == "11 points") == (max(score) == 11)


def test_pong_step_limit_goes_to_the_higher_score() -> None:
    game = Pong(dataclasses.replace(registry.spec_of("pong"), max_steps=10))
    game.reset(0)
    place_ball(game, 0.1, 0.95, -0.02, 0.0)
    stay(game, 10)
    outcome = game.outcome()
    assert (outcome.winner, outcome.scores, outcome.reason) == (1, (0.0, 1.0), "step limit")
