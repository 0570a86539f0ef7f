"""The local builder's validation match (`adapters/builders/local.py`, `ValidationMatch`), played by
the match runner: the agent against a copy of itself, in the sandbox. The copies are named
"player 0" and "player 1", as the observation's "player" numbers them; the replay is kept only to
describe the game state where a copy failed (`failure_state`)."""

from __future__ import annotations

from pathlib import Path

from rlarena.adapters.builders.local import ValidationPlayed, ValidationPlayer
from rlarena.sandbox.runtime_install import AgentRuntime

# How the match runner words an answer that is not an action frame at all (executor/runner.py).
MALFORMED_FRAME = "the agent sent a malformed frame"
# How it words a failure before the first move (no game state to show then).
START_UP_FAILURES = ("start-up", "could not be loaded", "was not ready within")


class RunnerValidationMatch:
    """`ValidationMatch` backed by `rlarena.executor.runner.run_match`."""

    def play_itself(
        self,
        environment_id: str,
        folder: Path,
        entry_point: str,
        *,
        seed: int,
        match_timeout_s: float,
        runtime: AgentRuntime,
    ) -> ValidationPlayed:
        # Imported on the first validation match, as before: building the builder stays cheap.
        from rlarena.environments.registry import spec_of
        from rlarena.executor.failure_state import failure_state
        from rlarena.executor.runner import INVALID, MATCH_SUCCESS, OK, AgentSpec, MatchLimits, run_match

        limits = MatchLimits.from_spec(spec_of(environment_id), match_timeout_s=match_timeout_s)
        played = run_match(
            environment_id,
            [AgentSpec("player 0", folder, entry_point), AgentSpec("player 1", folder, entry_point)],
            seed=seed,
            runtime=runtime,
            limits=limits,
        )
        frames = (played.replay or {}).get("frames", [])
        return ValidationPlayed(
            ran=played.status == MATCH_SUCCESS,
            error_message=played.error_message,
            total_steps=played.total_steps,
            outcome_reason=played.outcome_reason,
            players=[
                ValidationPlayer(
                    agent_id=result.agent_id,
                    ok=result.status == OK,
                    status=result.status,
                    error_message=result.error_message,
                    stderr=result.stderr,
                    wrong_action=result.status == INVALID or result.error_message.startswith(MALFORMED_FRAME),
                    game_state=""
                    if result.status == OK or any(words in result.error_message for words in START_UP_FAILURES)
                    else failure_state(frames, player),
                )
                for player, result in enumerate(played.agent_results)
            ],
        )
