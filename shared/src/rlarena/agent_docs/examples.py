"""Each game's example position, played on the real game and taken as the match runner sends it.

The observation is the environment's own (`observation(player)`) and the configuration is built by
the function the runner calls (`rlarena.environments.guide.configuration`), both passed through
JSON as on the wire; tests/integration/test_agent_interface_examples.py checks that an agent in
the sandbox receives exactly this. Loads the game (PettingZoo for the board games).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from rlarena.environments import registry
from rlarena.environments.base import Environment
from rlarena.environments.guide import Guide, configuration


@dataclass(frozen=True)
class Played:
    step: int  # steps played before the example position: the agent is asked at this step
    actions: tuple[tuple[int, ...], ...]  # the example's moves as action integers, per step
    observation: dict[str, Any]
    configuration: dict[str, Any]


def play_example(guide: Guide) -> Played:
    from rlarena.executor.runner import MatchLimits

    spec = registry.spec_of(guide.environment_id)
    environment = registry.create(spec.id)
    environment.reset(guide.example.seed)
    played: list[tuple[int, ...]] = []
    for moves in guide.example.moves:
        to_act = environment.to_act()
        actions = tuple(_action(environment, move) for move in moves)
        environment.step(dict(zip(to_act, actions, strict=True)))
        played.append(actions)
    player = guide.example.player
    if player not in environment.to_act():
        raise ValueError(f"{spec.id}'s example: player {player} is not to act after the moves")
    limits = MatchLimits.from_spec(spec)
    sent = configuration(
        spec,
        player=player,
        step=environment.steps,
        move_timeout_s=limits.move_timeout_s,
        overage_s=limits.overage_s,
    )
    return Played(
        step=environment.steps,
        actions=tuple(played),
        observation=_as_sent(environment.observation(player)),
        configuration=_as_sent(sent),
    )


def shown(observation: dict[str, Any], elided: tuple[str, ...]) -> dict[str, Any]:
    """The observation as the docs print it: each elided key replaced by its shape and digest."""
    return {key: elision(value) if key in elided else value for key, value in observation.items()}


def elision(value: Any) -> str:
    """`<8x8x111 values, sha256 0123456789ab>`: the shape, and the digest of the compact JSON."""
    shape = []
    inner = value
    while isinstance(inner, list):
        shape.append(len(inner))
        inner = inner[0] if inner else None
    digest = hashlib.sha256(json.dumps(value, separators=(",", ":")).encode()).hexdigest()[:12]
    return f"<{'x'.join(map(str, shape))} values, sha256 {digest}>"


def _action(environment: Environment, move: int | str) -> int:
    if isinstance(move, int):
        return move
    from rlarena.environments.board_games import Chess

    if not isinstance(environment, Chess):
        raise ValueError(f"a UCI move ({move!r}) in an example of {environment.spec.id}")
    return environment.action_of(move)


def _as_sent(value: dict[str, Any]) -> dict[str, Any]:
    decoded: dict[str, Any] = json.loads(json.dumps(value))
    return decoded
