"""The GAME argument of the author's commands: its help, and the game it names (or why not)."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rlarena.environments.base import EnvironmentSpec


def add_game_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("game", help="the game, e.g. tic-tac-toe, connect-four, chess, pong")


def named_game(command: str, game: str) -> EnvironmentSpec | None:
    """The game `game` names; None after saying on stderr that there is no such game."""
    from rlarena.environments.registry import spec_of
    from rlarena.errors import RLArenaError

    try:
        return spec_of(game)
    except RLArenaError as error:
        print(f"rlarena {command}: {error.message}", file=sys.stderr)
        return None
