"""Matches on the author's machine, on the very runner and sandbox the platform uses.

`local_arena` resolves both agents (rlarena.authoring.agent_paths), installs the agent runtime as
the executor does (rlarena.sandbox.runtime_install) and yields an `Arena` whose `play` runs one
match with `rlarena.executor.runner.run_match` under the game's own limits, and reports it from
agent A's side as a `GameRecord`. With WARM_SANDBOXES (the default) each agent is loaded once in
its warm sandbox and every match plays a forked copy (rlarena.executor.warm_agents). Everything it
unpacked, installed or started is removed on exit.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, closing, contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from rlarena.authoring.agent_paths import ResolvedAgent, resolve_agent

if TYPE_CHECKING:
    from rlarena.config import Settings
    from rlarena.executor.runner import MatchResult
    from rlarena.executor.warm_agents import WarmAgents
    from rlarena.sandbox.runtime_install import AgentRuntime


@dataclass(frozen=True)
class GameRecord:
    """One match seen from agent A: its side, its score and each agent's own figures (A first)."""

    number: int  # 1-based, in the order played
    seed: int
    a_player: int  # 0: A moved first
    a_score: float  # 1 win, 0.5 draw, 0 loss
    statuses: tuple[str, str]  # OK, ERROR, TIMEOUT or INVALID
    errors: tuple[str, str]  # each agent's error message ("" when OK)
    move_times: tuple[list[float], list[float]]  # seconds per move
    steps: int
    reason: str  # how it ended: "three in a row", "ERROR by ...", ...
    platform_error: str  # not "" when the platform itself failed to play the match
    replay: dict[str, Any] | None


class Arena:
    def __init__(
        self,
        game: str,
        agents: tuple[ResolvedAgent, ResolvedAgent],
        runtime: AgentRuntime,
        warm: WarmAgents | None = None,
    ) -> None:
        self.game = game
        self.agents = agents
        self.runtime = runtime
        self.warm = warm
        first, second = (agent.label for agent in agents)
        # The runner names the winner and the blamed agent by id: two copies need two names.
        self.names = (first, second) if first != second else (f"{first} (A)", f"{second} (B)")

    def play(self, number: int, seed: int, *, a_first: bool, record_replay: bool = False) -> GameRecord:
        from rlarena.executor.runner import AgentSpec, run_match

        specs = [
            AgentSpec(name, agent.folder, agent.entry_point)
            for name, agent in zip(self.names, self.agents, strict=True)
        ]
        order = specs if a_first else specs[::-1]
        result = run_match(self.game, order, seed, self.runtime, record_replay=record_replay, warm=self.warm)
        return _record(number, seed, 0 if a_first else 1, result)


def _record(number: int, seed: int, a_player: int, result: MatchResult) -> GameRecord:
    from rlarena.executor.runner import MATCH_ERROR

    a, b = result.agent_results[a_player], result.agent_results[1 - a_player]
    return GameRecord(
        number=number,
        seed=seed,
        a_player=a_player,
        a_score=a.score,
        statuses=(a.status, b.status),
        errors=(a.error_message, b.error_message),
        move_times=(a.move_times, b.move_times),
        steps=result.total_steps,
        reason=result.outcome_reason,
        platform_error=result.error_message if result.status == MATCH_ERROR else "",
        replay=result.replay,
    )


@contextmanager
def local_arena(game: str, agent_a: str, agent_b: str, settings: Settings) -> Iterator[Arena]:
    """Raises `InvalidInput` for an unknown game or an agent that cannot be found or unpacked."""
    from rlarena.environments.registry import spec_of
    from rlarena.sandbox import staging
    from rlarena.sandbox.runtime_install import agent_python_for, install_runtime

    game = spec_of(game).id  # "tic-tac-toe-v3" is "tic-tac-toe"; an unknown game names the known ones
    limits = settings.archive_limits()  # the platform's, without importing the whole platform
    with ExitStack() as stack:
        agents = (
            stack.enter_context(resolve_agent(game, agent_a, limits)),
            stack.enter_context(resolve_agent(game, agent_b, limits)),
        )
        runtime = install_runtime(agent_python_for(settings))
        stack.callback(staging.discard, runtime.path)
        for agent in agents:
            _install_requirements(agent, runtime, settings)
        warm = None
        if settings.warm_sandboxes:
            from rlarena.executor.warm_agents import WarmAgents

            warm = stack.enter_context(closing(WarmAgents(settings.warm_sandbox_memory_bytes)))
        yield Arena(game, agents, runtime, warm)


def _install_requirements(agent: ResolvedAgent, runtime: AgentRuntime, settings: Settings) -> None:
    """As the local builder does: the agent's requirements.txt installed (or the same install
    reused) and named in its unpacked folder, so that its matches mount it read-only."""
    import sys

    from rlarena.adapters.builders.base import BuildInfrastructureError
    from rlarena.adapters.builders.requirements_install import installer_for
    from rlarena.domain.archives import parse_requirements
    from rlarena.errors import InvalidInput, ServiceUnavailable
    from rlarena.house import catalogue
    from rlarena.sandbox.installed_packages import write_marker

    listed = agent.folder / "requirements.txt"
    installer = installer_for(settings, author=True)
    if agent.label.startswith(catalogue.PREFIX) or installer is None or not listed.is_file():
        return
    print(f"... {agent.label}: requirements.txt (wheels only)", file=sys.stderr, flush=True)
    try:
        installed = installer.install(parse_requirements(listed.read_bytes()), runtime)
    except BuildInfrastructureError as error:
        raise ServiceUnavailable(f"{agent.label}: requirements.txt could not be installed here: {error}") from error
    if installed.error is not None:
        raise InvalidInput(f"{agent.label}: {installed.error}", code="requirements_failed")
    if installed.packages is not None:
        write_marker(agent.folder, installed.packages)
