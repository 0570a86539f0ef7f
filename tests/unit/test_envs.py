"""rlarena.envs: every game as a Gymnasium environment on the platform's own rules and opponents."""

from __future__ import annotations

import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from rlarena import envs
from rlarena.environments import registry
from rlarena.environments.registry import UnknownEnvironment
from rlarena.envs.game_env import GameEnv
from rlarena.envs.opponents import OpponentUnavailable
from rlarena.house.catalogue import UnknownHouseAgent
from tests.conftest import ROOT

IDS = [spec.id for spec in registry.available()]
HIGHEST_CELL = "def agent(observation, configuration):\n    return max(observation['legal_actions'])\n"


def agent_file(tmp_path: Path, code: str, name: str = "opponent.py") -> str:
    path = tmp_path / name
    path.write_text(code)
    return str(path)


def legal(observation: dict[str, Any]) -> list[int]:
    return [int(action) for action in np.flatnonzero(observation["action_mask"])]


def play_out(env: GameEnv, choose: Any, seed: int | None = None) -> tuple[list[Any], float, dict[str, Any]]:
    """One episode: (the observations seen, the summed reward, the last info)."""
    observation, info = env.reset(seed=seed)
    seen, total = [observation], 0.0
    while True:
        observation, reward, terminated, truncated, info = env.step(choose(observation, info))
        seen.append(observation)
        total += reward
        assert not truncated  # every game ends by its own rules, the step limit included
        if terminated:
            return seen, total, info


@pytest.mark.parametrize("game", IDS)
def test_every_game_passes_gymnasiums_environment_checker(game: str) -> None:
    env = envs.make(game, seed=3)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a checker warning is a failure here
        check_env(env, skip_render_check=True)
    env.close()


@pytest.mark.parametrize(
    ("game", "planes", "actions"),
    [("tic-tac-toe", (3, 3, 2), 9), ("connect-four", (6, 7, 2), 7), ("chess", (8, 8, 111), 4672)],
)
def test_board_games_observe_the_planes_and_the_action_mask_of_the_platform(
    game: str, planes: tuple[int, ...], actions: int
) -> None:
    env = envs.make(game, side=0, seed=1)
    observation, info = env.reset()
    assert env.observation_space["observation"].shape == planes
    assert env.action_space.n == actions
    assert observation["observation"].dtype == np.int8 and observation["observation"].shape == planes
    # The arrays are the runtime's own observation, which info holds exactly as an agent receives it.
    game_itself = registry.create(game)
    game_itself.reset(0)
    sent = info["observation"]
    assert sent.keys() == game_itself.observation(0).keys()
    assert observation["observation"].tolist() == sent["observation"]
    assert legal(observation) == sent["legal_actions"]
    assert info["configuration"]["environment"] == registry.spec_of(game).versioned_id
    assert info["configuration"]["player"] == 0
    env.close()


def test_pong_observes_the_eight_numbers_and_rewards_each_point() -> None:
    env = envs.make("pong", "house:follower", side=1, seed=5)
    assert env.observation_space["observation"].shape == (8,)
    assert env.action_space.n == 3
    seen, total, info = play_out(env, lambda observation, info: 1)  # a paddle that never moves
    score = info["observation"]["observation"][6:8]
    assert total == score[1] - score[0] < 0  # the follower scores on a paddle that stays put
    assert seen[-1]["player"] == 1
    assert info["outcome"].winner == 0
    env.close()


def test_a_win_is_plus_one_and_a_loss_minus_one(tmp_path: Path) -> None:
    opponent = agent_file(tmp_path, HIGHEST_CELL)
    first = envs.make("tic-tac-toe", opponent, side=0)
    # X takes column 0 (cells 0, 1, 2) while the opponent fills from cell 8 down.
    moves = iter([0, 1, 2])
    _, total, info = play_out(first, lambda observation, info: next(moves))
    assert (total, info["outcome"].winner, info["outcome"].reason) == (1.0, 0, "three in a row")
    second = envs.make("tic-tac-toe", opponent, side=1)
    # The opponent, first, takes 8, 7, 6 (column 2) while the learner plays 0 then 1.
    moves = iter([0, 1])
    _, total, info = play_out(second, lambda observation, info: next(moves))
    assert (total, info["outcome"].winner) == (-1.0, 0)
    for env in (first, second):
        env.close()


def test_a_taken_cell_ends_the_episode_as_a_loss_without_touching_the_game(tmp_path: Path) -> None:
    env = envs.make("tic-tac-toe", agent_file(tmp_path, HIGHEST_CELL), side=0)
    env.reset()
    env.step(4)  # the opponent answers with cell 8
    steps = env.game.steps
    _, reward, terminated, truncated, info = env.step(8)
    assert (reward, terminated, truncated) == (-1.0, True, False)
    assert info["outcome"].winner == 1
    assert info["outcome"].reason == "illegal action: the action 8 is not legal in this position"
    assert env.game.steps == steps  # refused before the game changed, as the runner does
    with pytest.raises(RuntimeError, match="reset"):
        env.step(0)
    env.reset()
    _, reward, terminated, _, info = env.step(4.0)  # type: ignore[arg-type]
    assert (reward, terminated) == (-1.0, True)
    assert info["outcome"].reason == "illegal action: the action 4.0 is not an integer"
    env.reset()
    assert env.step(True)[1:3] == (-1.0, True)  # True is no cell 1
    env.close()


@pytest.mark.parametrize(
    ("code", "why"),
    [
        ("def agent(observation, configuration):\n    return 99\n", "played 99, not a legal action"),
        ("def agent(observation, configuration):\n    raise ValueError('boom')\n", "raised ValueError: boom"),
    ],
)
def test_an_opponent_that_fails_forfeits_as_on_the_platform(tmp_path: Path, code: str, why: str) -> None:
    opponent = agent_file(tmp_path, code)
    env = envs.make("tic-tac-toe", opponent, side=0)
    env.reset()
    _, reward, terminated, _, info = env.step(4)
    assert (reward, terminated, info["outcome"].winner) == (1.0, True, 0)
    assert why in info["outcome"].reason
    # Moving second, the opponent forfeits before the learner's first move: that step reports it.
    env.reset(options={"side": 1})
    _, reward, terminated, _, info = env.step(0)
    assert (reward, terminated, info["outcome"].winner) == (1.0, True, 1)
    env.close()


def test_sides_alternate_from_each_seeded_reset_or_stay_fixed() -> None:
    alternating = envs.make("tic-tac-toe", seed=7)
    sides = [alternating.reset()[1]["side"] for _ in range(3)]
    sides.append(alternating.reset(seed=7)[1]["side"])
    assert sides == [0, 1, 0, 0]
    fixed = envs.make("tic-tac-toe", side=1, seed=7)
    observation, info = fixed.reset()
    assert info["side"] == observation["player"] == 1
    assert int(observation["observation"][..., 1].sum()) == 1  # the opponent has moved first
    assert sum(observation["action_mask"]) == 8
    for env in (alternating, fixed):
        env.close()


def test_a_seed_replays_the_same_episodes_against_a_random_opponent() -> None:
    def episodes(seed: int) -> list[list[list[int]]]:
        env = envs.make("connect-four", seed=seed)
        played = []
        for _ in range(3):
            seen, _, _ = play_out(env, lambda observation, info: legal(observation)[0])
            played.append([observation["observation"].sum(axis=(0, 1)).tolist() for observation in seen])
        env.close()
        return played

    assert episodes(11) == episodes(11)
    assert episodes(11) != episodes(12)


def test_a_chess_opponent_may_answer_in_uci(tmp_path: Path) -> None:
    opponent = agent_file(
        tmp_path, "def agent(observation, configuration):\n    return observation['legal_moves'][0]\n"
    )
    env = envs.make("chess", opponent, side=0)
    observation, _ = env.reset()
    for _ in range(2):
        observation, reward, terminated, _, info = env.step(legal(observation)[0])
        assert (reward, terminated) == (0.0, False), info.get("outcome")
    assert env.game.steps == 4  # two moves each: the UCI answers were played, not forfeited
    assert len(info["observation"]["fen"].split()) == 6
    env.close()


def test_an_opponent_can_be_any_upload_the_platform_accepts(tmp_path: Path) -> None:
    folder = tmp_path / "bot"
    folder.mkdir()
    (folder / "main.py").write_text(
        "from rules import pick\n\ndef agent(observation, configuration):\n    return pick(observation)\n"
    )
    (folder / "rules.py").write_text("def pick(observation):\n    return max(observation['legal_actions'])\n")
    env = envs.make("tic-tac-toe", str(folder), side=1)
    _, info = env.reset()
    assert info["observation"]["board"][2][2] == 2  # the folder's agent took cell 8 (row 2, column 2)
    env.close()


def test_a_kaggle_connectx_agent_is_an_opponent_through_the_platforms_own_layer(tmp_path: Path) -> None:
    kaggle = (
        "def my_agent(obs, config):\n"
        "    return [column for column in range(config.columns) if obs.board[column] == 0][-1]\n"
    )
    env = envs.make("connect-four", agent_file(tmp_path, kaggle), side=1)
    _, info = env.reset()
    assert info["observation"]["board"][5][6] == 2  # its piece, in the last column, seen as the opponent's
    env.close()


def test_bad_names_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(UnknownEnvironment, match="known: chess, connect-four, pong, tic-tac-toe"):
        envs.make("go")
    with pytest.raises(UnknownHouseAgent, match="house:random"):
        envs.make("pong", "house:negamax")
    with pytest.raises(ValueError, match="side must be 0, 1 or 'alternate'"):
        envs.make("pong", side=2)  # type: ignore[arg-type]
    env = envs.make("tic-tac-toe", agent_file(tmp_path, "x = 1\n"))
    with pytest.raises(OpponentUnavailable, match=r"no agent found in opponent\.py"):
        env.reset()
    env.close()


def test_importing_the_package_imports_neither_gymnasium_nor_numpy() -> None:
    probe = "import sys, rlarena.envs; print(sorted({'gymnasium', 'numpy'} & sys.modules.keys()))"
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=ROOT)
    assert result.stdout.strip() == "[]"
