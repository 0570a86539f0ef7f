"""Which game an upload says it plays (ENVIRONMENT in its entry point), and the message when it is not the agent's."""

from __future__ import annotations

import io
import zipfile

import pytest

from rlarena.adapters.builders.declared_environment import environment_mismatch
from rlarena.adapters.source_check import SandboxedSourceCheck
from rlarena.domain.archives import ArchiveLimits, inspect_upload
from rlarena.domain.python_sources import declared_environment
from rlarena.sandbox.runtime_install import agent_python

AGENT = "def agent(observation, configuration):\n    return 0\n"
# As intake reads it: in the sandboxed child, with the agent interpreter.
CHECK = SandboxedSourceCheck(agent_python(None))


def zipped(files: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, content in files.items():
            archive.writestr(name, content)
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("source", "declared"),
    [
        ('ENVIRONMENT = "chess"\n' + AGENT, "chess"),
        ('ENVIRONMENT: str = "connect-four"\n' + AGENT, "connect-four"),
        ('ENVIRONMENT = "pong"\nENVIRONMENT = "chess"\n' + AGENT, "chess"),  # the last assignment counts
        ('ENVIRONMENT = OTHER = "pong"\n' + AGENT, "pong"),
        (AGENT, None),
        ('def agent(observation, configuration):\n    ENVIRONMENT = "chess"\n    return 0\n', None),  # not top level
        ('ENVIRONMENT = "chess"\nENVIRONMENT = pick()\n' + AGENT, None),  # not a literal: the probe will tell
        ("ENVIRONMENT = 3\n" + AGENT, None),
        ('environment = "chess"\n' + AGENT, None),  # the name is exact
    ],
)
def test_the_declared_game_is_read_from_the_source_without_running_it(source: str, declared: str | None) -> None:
    assert declared_environment(source) == declared


def test_the_upload_inspection_reports_the_entry_points_declaration_only() -> None:
    data = zipped({"agent.py": 'ENVIRONMENT = "chess"\n' + AGENT, "helper.py": 'ENVIRONMENT = "pong"\n'})
    assert inspect_upload("bot.zip", data, ArchiveLimits(), CHECK).declared_environment == "chess"
    single = inspect_upload("bot.py", b'ENVIRONMENT = "pong"\n' + AGENT.encode(), ArchiveLimits(), CHECK)
    assert single.declared_environment == "pong"
    assert inspect_upload("bot.py", AGENT.encode(), ArchiveLimits(), CHECK).declared_environment is None


def test_a_huge_declaration_is_cut_before_it_reaches_a_message() -> None:
    assert declared_environment(f'ENVIRONMENT = "{"x" * 10_000}"\n') == "x" * 100


@pytest.mark.parametrize("declared", ["chess", "chess-v6", "Chess", " CHESS "])
def test_the_agents_own_game_in_any_spelling_passes(declared: str) -> None:
    assert environment_mismatch(declared, "chess") is None


@pytest.mark.parametrize("declared", ["tic_tac_toe", "Tic Tac Toe", "tic-tac-toe-v3"])
def test_another_game_fails_naming_both_games_and_the_expected_actions(declared: str) -> None:
    message = environment_mismatch(declared, "chess", "agent.py")
    assert message is not None
    assert message.startswith(f"agent.py declares ENVIRONMENT = {declared!r}, but this agent plays Chess (chess)")
    assert "0-4671" in message  # chess's action format, so the user sees what the agent must return
    assert "or create a tic-tac-toe agent for this code" in message


def test_an_unknown_game_lists_the_known_ones() -> None:
    message = environment_mismatch("tictactoe", "pong")
    assert message is not None
    assert "'tictactoe', which is not a game of this platform" in message
    assert "known: tic-tac-toe, connect-four, chess, pong" in message
    assert "set it to 'pong'" in message


def test_without_a_declaration_nothing_is_checked() -> None:
    assert environment_mismatch(None, "pong") is None
