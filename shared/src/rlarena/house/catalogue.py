"""Which house agents exist: per game, a name, what it does, and the folder holding its code.

The code lives in `rlarena/house/agents/<game>/<name>/main.py`, standard library only, so it runs
in the sandbox exactly as an author's upload does (`house:<name>` on the command line).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from rlarena.errors import InvalidInput

_AGENTS_FOLDER = Path(__file__).parent / "agents"
ENTRY_POINT = "main.py"
PREFIX = "house:"


class UnknownHouseAgent(InvalidInput, ValueError):
    code = "unknown_house_agent"


@dataclass(frozen=True)
class HouseAgent:
    game: str  # the unversioned environment id, e.g. "connect-four"
    name: str  # e.g. "negamax"; unique within its game
    description: str
    entry_point: str = ENTRY_POINT

    @property
    def folder(self) -> Path:
        return _AGENTS_FOLDER / self.game / self.name

    @property
    def reference(self) -> str:
        return f"{PREFIX}{self.name}"


HOUSE_AGENTS: tuple[HouseAgent, ...] = (
    HouseAgent("tic-tac-toe", "random", "a uniformly random legal move"),
    HouseAgent("tic-tac-toe", "greedy", "wins when it can, blocks when it must, else prefers centre and corners"),
    HouseAgent("tic-tac-toe", "negamax", "perfect play: full-depth negamax, never loses"),
    HouseAgent("connect-four", "random", "a uniformly random legal column"),
    HouseAgent("connect-four", "greedy", "wins when it can, blocks when it must, else prefers central columns"),
    HouseAgent("connect-four", "negamax", "negamax with alpha-beta to a fixed depth and a line-counting evaluation"),
    HouseAgent("chess", "random", "a uniformly random legal move"),
    HouseAgent("chess", "greedy", "takes the most valuable piece it can, else a random move"),
    HouseAgent("chess", "search", "a shallow alpha-beta search on material"),
    HouseAgent("pong", "random", "a random paddle move"),
    HouseAgent("pong", "follower", "keeps its paddle level with the ball"),
)


def for_game(game: str) -> list[HouseAgent]:
    return [agent for agent in HOUSE_AGENTS if agent.game == game]


def lookup(game: str, name: str) -> HouseAgent:
    """`name` with or without the "house:" prefix; an unknown one names the choices."""
    bare = name.removeprefix(PREFIX)
    for agent in for_game(game):
        if agent.name == bare:
            return agent
    choices = ", ".join(agent.reference for agent in for_game(game)) or "none"
    raise UnknownHouseAgent(f"no house agent {name!r} for {game}; choose one of: {choices}")
