"""Each player's clock is its own, against real sandboxed agents: a slow mover that keeps within
its limits is never lost on time because its opponent is fast, each overage bank pays only for its
own player's moves, and the match wall clock is a safety net that ends a game as a draw, never as
a loss on time. Limits are shrunk through `MatchLimits` overrides so the file stays fast."""

from __future__ import annotations

import shutil
import tempfile
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from rlarena.environments import registry
from rlarena.executor.runner import OK, TIMEOUT, AgentSpec, MatchLimits, MatchResult, run_match
from rlarena.sandbox.runtime_install import AgentRuntime, agent_python, install_runtime

INSTANT = """
def agent(observation, configuration):
    return observation["action_mask"].index(1)
"""


def slow(seconds: float) -> str:
    return f"import time\n{INSTANT}".replace("    return", f"    time.sleep({seconds})\n    return")


@pytest.fixture(scope="module")
def runtime() -> AgentRuntime:
    return install_runtime(agent_python(None))


@pytest.fixture
def root() -> Iterator[Path]:
    folder = Path(tempfile.mkdtemp(prefix="rlarena-clocks-test-"))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def play(runtime: AgentRuntime, root: Path, game: str, first: str, second: str, **limits: Any) -> MatchResult:
    agents = []
    for name, code in (("first", first), ("second", second)):
        (root / name).mkdir()
        (root / name / "main.py").write_text(textwrap.dedent(code))
        agents.append(AgentSpec(agent_id=name, folder=root / name, entry_point="main.py"))
    match_limits = MatchLimits.from_spec(registry.spec_of(game), startup_timeout_s=15.0, **limits)
    return run_match(game, agents, seed=3, runtime=runtime, limits=match_limits)


def overage_used(result: MatchResult, player: int, move_timeout_s: float) -> float:
    return sum(max(t - move_timeout_s, 0.0) for t in result.agent_results[player].move_times)


def test_the_wall_clock_is_derived_from_the_players_limits_and_leaves_room_for_every_move() -> None:
    chess = registry.spec_of("chess")
    everything_at_the_limit = chess.startup_timeout_s + chess.max_steps * chess.move_timeout_s + 2 * chess.overage_s
    assert chess.match_timeout_s > everything_at_the_limit  # was 600 s for a 1000-ply game of 5 s moves
    limits = MatchLimits.from_spec(chess, move_timeout_s=0.5, overage_s=1.0, startup_timeout_s=2.0)
    assert limits.match_timeout_s > 2.0 + chess.max_steps * 0.5 + 2 * 1.0
    assert limits.match_timeout_s < chess.match_timeout_s  # follows the overridden limits
    assert MatchLimits.from_spec(chess, match_timeout_s=9.0).match_timeout_s == 9.0  # unless given


def test_a_slow_mover_within_its_limit_is_not_lost_on_time_because_its_opponent_is_fast(
    runtime: AgentRuntime, root: Path
) -> None:
    # Connect four, both dropping into the lowest free column: the first player wins "four in a
    # row" on the 19th ply. The second thinks 80% of its 0.5 s limit on each of its 9 moves.
    result = play(runtime, root, "connect-four", INSTANT, slow(0.4), move_timeout_s=0.5, overage_s=1.0)
    fast, thinker = result.agent_results
    assert result.status == "SUCCESS", result.error_message
    assert (fast.status, thinker.status) == (OK, OK), thinker.error_message
    assert result.outcome_reason == "four in a row" and result.winner_agent_id == "first"
    assert len(thinker.move_times) == 9 and min(thinker.move_times) >= 0.4
    assert sum(thinker.move_times) > 10 * max(fast.move_times)  # the other's speed cost it nothing


def test_each_player_spends_only_its_own_overage_bank(runtime: AgentRuntime, root: Path) -> None:
    # Both go 0.15 s over a 0.2 s move limit on every move; tic-tac-toe's first-legal game is won
    # by the first player on the 7th ply (4 moves against 3). A shared 0.9 s bank would run out.
    move, bank = 0.2, 0.9
    result = play(runtime, root, "tic-tac-toe", slow(0.35), slow(0.35), move_timeout_s=move, overage_s=bank)
    first, second = result.agent_results
    assert (first.status, second.status) == (OK, OK), (first.error_message, second.error_message)
    assert result.outcome_reason == "three in a row"
    used = [overage_used(result, player, move) for player in (0, 1)]
    assert all(0.4 < spent < bank for spent in used) and sum(used) > bank


def test_a_player_that_spends_its_bank_times_out_and_the_reason_names_it(runtime: AgentRuntime, root: Path) -> None:
    result = play(runtime, root, "tic-tac-toe", INSTANT, slow(0.5), move_timeout_s=0.2, overage_s=0.4)
    assert [r.status for r in result.agent_results] == [OK, TIMEOUT]
    assert result.winner_agent_id == "first"
    assert result.outcome_reason.startswith("TIMEOUT by second: ")
    assert "overage bank" in result.outcome_reason


def test_reaching_the_wall_clock_is_a_draw_and_nobodys_timeout(runtime: AgentRuntime, root: Path) -> None:
    # A wall clock given far below what the limits need: the safety net, hit mid-game.
    result = play(
        runtime, root, "connect-four", INSTANT, slow(0.4), move_timeout_s=0.5, overage_s=5.0, match_timeout_s=3.0
    )
    assert result.status == "SUCCESS", result.error_message
    assert [r.status for r in result.agent_results] == [OK, OK]
    assert [r.score for r in result.agent_results] == [0.5, 0.5] and result.winner_agent_id == ""
    assert result.outcome_reason.startswith("unfinished: the match reached its 3 s wall clock")
    assert result.replay is not None
    assert result.replay["metadata"]["end_reason"] == result.outcome_reason
    assert result.replay["metadata"]["agent_statuses"] == [OK, OK]
