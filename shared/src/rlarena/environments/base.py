"""The contract every game meets, so the match runner drives all of them the same way.

A match is: `reset(seed)`, then while not `done()`: ask each player in `to_act()` for an action
(its agent sees `observation(player)`), `step({player: action})`, record `frame()`. Agents are
players 0 and 1. Everything an environment hands out is plain JSON (lists, ints, floats, str),
so it can go to an agent process or into a replay without conversion.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from rlarena.environments.clocks import safety_wall_clock_s


@dataclass(frozen=True)
class EnvironmentSpec:
    """What the platform needs to know about a game without loading it."""

    id: str  # the unversioned id agents are registered under, e.g. "tic-tac-toe"
    version: str  # e.g. "v3"; "tic-tac-toe-v3" names the same game
    name: str
    move_timeout_s: float
    overage_s: float  # banked time a player may spend beyond move_timeout_s over a match
    startup_timeout_s: float
    max_steps: int  # steps (plies for board games) after which the game ends on the limit
    observation: str  # human description of what an agent receives
    actions: str  # human description of the action integers
    players: int = 2

    @property
    def versioned_id(self) -> str:
        return f"{self.id}-{self.version}"

    @property
    def match_timeout_s(self) -> float:
        """The safety wall clock, derived from the players' own limits (see `clocks`)."""
        return safety_wall_clock_s(
            startup_timeout_s=self.startup_timeout_s,
            move_timeout_s=self.move_timeout_s,
            overage_s=self.overage_s,
            max_steps=self.max_steps,
            players=self.players,
        )


@dataclass(frozen=True)
class Outcome:
    winner: int | None  # None is a draw
    scores: tuple[float, float]  # the match result per player: 1 win, 0.5 draw, 0 loss
    reason: str  # e.g. "checkmate", "11 points", "step limit"


class IllegalAction(Exception):
    """An agent's action the rules refuse; raised before the game state changes.

    The runner turns it into a loss for `player`, so the message names what was wrong.
    """

    def __init__(self, player: int, action: object, reason: str) -> None:
        super().__init__(f"player {player}: illegal action {action!r}: {reason}")
        self.player = player
        self.action = action
        self.reason = reason


class Environment(Protocol):
    spec: EnvironmentSpec

    @property
    def steps(self) -> int: ...

    def reset(self, seed: int) -> None: ...

    def to_act(self) -> list[int]:
        """The players who must act in the next step; [] once the game is over."""
        ...

    def observation(self, player: int) -> dict[str, Any]: ...

    def legal_actions(self, player: int) -> list[int]:
        """Sorted; [] for a player who is not to act."""
        ...

    def step(self, actions: Mapping[int, int]) -> None:
        """One action for each player in `to_act()`; raises `IllegalAction` untouched."""
        ...

    def done(self) -> bool: ...

    def outcome(self) -> Outcome:
        """Only once `done()`; a `ValueError` before."""
        ...

    def last_rewards(self) -> tuple[float, float]:
        """Each player's reward for the most recent step, for the replay's `rewards`."""
        ...

    def frame(self) -> dict[str, Any]:
        """What a replay needs to draw the current state (never hidden information)."""
        ...


def check_actions(environment: Environment, actions: Mapping[int, object]) -> None:
    """Refuse a step the rules do not allow, before anything changes.

    An agent's fault (acting out of turn, a non-integer, an action outside the legal set) is an
    `IllegalAction` naming that agent; the runner's own fault (stepping a finished game without
    actions, forgetting a player who must act) is a `ValueError`.
    """
    to_act = environment.to_act()
    for player, action in actions.items():
        if player not in to_act:
            reason = "the game is over" if environment.done() else "it is not this player's turn"
            raise IllegalAction(player, action, reason)
    for player, action in actions.items():
        # bool is an int subclass, but `True` as a move is a bug in the agent, not column 1.
        if isinstance(action, bool) or not isinstance(action, int):
            raise IllegalAction(player, action, "an action must be an integer")
        if action not in environment.legal_actions(player):
            raise IllegalAction(player, action, "not a legal action in this position")
    if environment.done():
        raise ValueError("the game is over")
    missing = [player for player in to_act if player not in actions]
    if missing:
        raise ValueError(f"no action given for players {missing}")
