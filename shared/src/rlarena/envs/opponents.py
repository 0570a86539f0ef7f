"""The opponent inside a training environment: a house agent or an author's agent, in this process.

It is loaded with the sandbox's own loader (`rlarena.agent_runtime.loader`), so every interface an
upload may offer works here too; a fresh instance per episode, as the platform starts a fresh
process per match. An upload or folder is read under the upload rules into a temporary folder
that lives until `close()`.
"""

from __future__ import annotations

from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any

from rlarena.agent_runtime.loader import AgentLoadError, LoadedAgent, load_agent
from rlarena.agent_runtime.serve import plain_action
from rlarena.authoring.agent_paths import resolve_agent
from rlarena.environments.base import Environment
from rlarena.errors import InvalidInput


class OpponentUnavailable(InvalidInput):
    """The opponent could not be loaded; the message is the loader's advice to its author."""

    code = "opponent_unavailable"


@dataclass(frozen=True)
class OpponentMove:
    action: int | None  # None when the opponent failed
    failure: str = ""  # why it forfeits: it raised, or its action is not legal


class Opponent:
    def __init__(self, game: str, reference: str) -> None:
        self._files = ExitStack()
        resolved = self._files.enter_context(resolve_agent(game, reference))
        self.label = resolved.label
        self._folder, self._entry_point = resolved.folder, resolved.entry_point
        self._agent: LoadedAgent | None = None

    def start(self, side: int) -> None:
        """A new instance for an episode in which the opponent plays `side`."""
        try:
            self._agent = load_agent(self._folder, self._entry_point, side)
        except AgentLoadError as error:
            raise OpponentUnavailable(f"{self.label}: {error.message}", details=error.user_traceback) from error

    def move(self, game: Environment, side: int, configuration: dict[str, Any]) -> OpponentMove:
        """The opponent's action for `side` now, or why it forfeits (as on the platform)."""
        if self._agent is None:
            raise RuntimeError("start() the opponent before asking it to move")
        try:
            # No clock runs here: the whole overage bank is always left.
            observation = game.observation(side)
            returned = plain_action(self._agent.act(observation, configuration, game.spec.overage_s))
        except Exception as error:  # the platform scores an agent that raises as a loss
            return OpponentMove(None, f"{self.label} raised {type(error).__name__}: {error}")
        action = _as_action(game, returned)
        if action is None or action not in game.legal_actions(side):
            return OpponentMove(None, f"{self.label} played {returned!r}, not a legal action")
        return OpponentMove(action)

    def close(self) -> None:
        self._agent = None
        self._files.close()


def _as_action(game: Environment, returned: Any) -> int | None:
    """An integer action, or a UCI move where the game reads them (chess)."""
    if isinstance(returned, int) and not isinstance(returned, bool):
        return returned
    action_of = getattr(game, "action_of", None)
    if isinstance(returned, str) and callable(action_of):
        try:
            converted: int = action_of(returned)
        except ValueError:
            return None
        return converted
    return None
