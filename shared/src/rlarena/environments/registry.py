"""Every game the platform can run, by versioned id, loaded only when a match needs it.

Specs are plain data here so that the API (`GET /environments`, validating an agent's
environment) never imports PettingZoo or numpy; `create()` imports the game's module from its
"module:Class" entry point.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import cast

from rlarena.environments.base import Environment, EnvironmentSpec
from rlarena.errors import InvalidInput


class UnknownEnvironment(InvalidInput, ValueError):
    """An id no registered game answers to; an `InvalidInput` so the API answers 400."""

    code = "unknown_environment"


@dataclass(frozen=True)
class Registration:
    spec: EnvironmentSpec
    entry_point: str  # "module:Class"; the class is called with the spec


_BOARD_GAMES = "rlarena.environments.board_games"

REGISTRATIONS: tuple[Registration, ...] = (
    Registration(
        EnvironmentSpec(
            id="tic-tac-toe",
            version="v3",
            name="Tic-Tac-Toe",
            move_timeout_s=2,
            overage_s=60,
            startup_timeout_s=30,
            max_steps=9,
            observation="planes 3x3x2 (own, opponent marks), action_mask[9], board rows (0 empty, 1 own, 2 opponent)",
            actions="0-8: the cell to mark, column-major (cell = 3 * column + row)",
        ),
        f"{_BOARD_GAMES}:TicTacToe",
    ),
    Registration(
        EnvironmentSpec(
            id="connect-four",
            version="v3",
            name="Connect Four",
            move_timeout_s=2,
            overage_s=60,
            startup_timeout_s=30,
            max_steps=42,
            observation="planes 6x7x2 (own, opponent pieces), action_mask[7], "
            "board rows from the top (0 empty, 1 own, 2 opponent)",
            actions="0-6: the column to drop a piece into",
        ),
        f"{_BOARD_GAMES}:ConnectFour",
    ),
    Registration(
        EnvironmentSpec(
            id="chess",
            version="v6",
            name="Chess",
            move_timeout_s=5,
            overage_s=60,
            startup_timeout_s=30,
            max_steps=1000,
            observation="planes 8x8x111, action_mask[4672], fen, legal_moves (UCI) beside legal_actions",
            actions="0-4671: PettingZoo's AlphaZero-style move encoding; a game reaching 1000 plies is a draw",
        ),
        f"{_BOARD_GAMES}:Chess",
    ),
    Registration(
        EnvironmentSpec(
            id="pong",
            version="v1",
            name="Pong",
            move_timeout_s=1,
            overage_s=30,
            startup_timeout_s=30,
            max_steps=1000,
            observation="[ball_x, ball_y, ball_vx, ball_vy, paddle1_y, paddle2_y, score1, score2]",
            actions="0 up, 1 stay, 2 down",
        ),
        "rlarena.environments.pong:Pong",
    ),
)

_BY_ID = {registration.spec.id: registration for registration in REGISTRATIONS}


def available() -> list[EnvironmentSpec]:
    return [registration.spec for registration in REGISTRATIONS]


def spec_of(environment_id: str) -> EnvironmentSpec:
    """Accepts "tic-tac-toe" and "tic-tac-toe-v3"; a wrong version is unknown, not coerced."""
    return _registration(environment_id).spec


def create(environment_id: str) -> Environment:
    registration = _registration(environment_id)
    module_name, _, class_name = registration.entry_point.partition(":")
    factory = cast(Callable[[EnvironmentSpec], Environment], getattr(importlib.import_module(module_name), class_name))
    return factory(registration.spec)


def _registration(environment_id: str) -> Registration:
    if environment_id in _BY_ID:
        return _BY_ID[environment_id]
    base, _, version = environment_id.rpartition("-")
    registration = _BY_ID.get(base)
    if registration is not None and registration.spec.version == version:
        return registration
    known = sorted(_BY_ID)
    hint = f" ({base} is at {registration.spec.version})" if registration is not None else ""
    raise UnknownEnvironment(
        f"unknown environment {environment_id!r}{hint}; known: {', '.join(known)}",
        details={"known": [entry.spec.versioned_id for entry in REGISTRATIONS]},
    )
