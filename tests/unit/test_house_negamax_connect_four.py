"""The connect-four negamax house agent takes a win it has and blocks the one it faces, whatever the
machine's load (a search of one or two plies finishes well inside its time budget): its strength
in positions, beside the statistical test against random (tests/integration/test_house_agents.py)."""

from __future__ import annotations

import importlib.util
from types import ModuleType

import pytest

from tests.conftest import ROOT

AGENT = ROOT / "shared" / "src" / "rlarena" / "house" / "agents" / "connect-four" / "negamax" / "main.py"


@pytest.fixture(scope="module")
def negamax() -> ModuleType:
    spec = importlib.util.spec_from_file_location("house_connect_four_negamax", AGENT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def board(bottom_up: list[str]) -> list[list[int]]:
    """Rows given from the bottom as strings of '.', 'x' (the agent's) and 'o'; six rows from the top."""
    rows = [[{".": 0, "x": 1, "o": 2}[c] for c in row] for row in bottom_up]
    rows += [[0] * 7 for _ in range(6 - len(rows))]
    return list(reversed(rows))


def move(negamax: ModuleType, bottom_up: list[str]) -> int:
    cells = board(bottom_up)
    legal = [column for column in range(7) if cells[0][column] == 0]
    return int(negamax.agent({"board": cells, "legal_actions": legal}, {}))


def test_it_takes_a_win_in_one(negamax: ModuleType) -> None:
    assert move(negamax, ["xxx..oo", "....o.."]) == 3


def test_it_blocks_the_opponents_win_in_one(negamax: ModuleType) -> None:
    assert move(negamax, ["ooo..xx", "......x"]) == 3


def test_it_prefers_its_own_win_to_a_block(negamax: ModuleType) -> None:
    # The opponent threatens the bottom row at column 3; the agent wins at once in column 6.
    assert move(negamax, ["ooo...x", "......x", "......x"]) == 6


def test_it_blocks_a_vertical_threat(negamax: ModuleType) -> None:
    assert move(negamax, ["x.o..x.", "..o....", "..o...."]) == 2
