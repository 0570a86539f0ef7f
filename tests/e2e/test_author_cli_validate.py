"""`rlarena validate GAME PATH` as an author runs it: the platform's upload checks and validation
match, locally (real sandbox), with the same messages a real upload's build log shows."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.support.author_cli import rlarena
from tests.support.running_platform import RunningPlatform, upload, wait_for, zipped

GOOD = "def agent(observation, configuration):\n    return observation['legal_actions'][0]\n"
# The README's old sample: legal for player 0's first move, illegal for player 1's (cell 0 is taken).
ALWAYS_ZERO = "def agent(observation, configuration):\n    return 0\n"
RAISING = (
    "def agent(observation, configuration):\n"
    "    if configuration['step'] >= 2:\n"
    "        raise RuntimeError('gave up at step %d' % configuration['step'])\n"
    "    return observation['legal_actions'][0]\n"
)


def written(folder: Path, name: str, code: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(code)
    return path


def build_log_of(output: str) -> str:
    """The lines `rlarena validate` prints between "build log:" and its verdict."""
    return output.split("build log:\n", 1)[1].rsplit("\nFAILED: ", 1)[0].rsplit("\nPASSED: ", 1)[0]


def test_a_good_agent_passes_as_a_file_a_folder_and_a_zip(tmp_path: Path) -> None:
    single = written(tmp_path / "single", "agent.py", GOOD)
    folder = tmp_path / "folder"
    written(
        folder,
        "main.py",
        "from helper import first\n\ndef agent(observation, configuration):\n    return first(observation)\n",
    )
    written(folder, "helper.py", "def first(observation):\n    return observation['legal_actions'][0]\n")
    archive = tmp_path / "bot.zip"
    archive.write_bytes(zipped({"bot/agent.py": GOOD.encode()}))
    for path, entry_point, files in ((single, "agent.py", 1), (folder, "main.py", 2), (archive, "agent.py", 1)):
        result = rlarena(tmp_path / "home", "validate", "connect-four", str(path))
        assert result.returncode == 0, result.stdout + result.stderr
        assert f"upload checks passed: {files} file(s), entry point {entry_point}" in result.stdout
        assert "validation match against itself (connect-four)" in result.stdout
        assert "PASSED: the platform would accept this agent for connect-four" in result.stdout


def test_an_illegal_move_fails_with_the_platforms_message_the_move_and_the_board(tmp_path: Path) -> None:
    agent = written(tmp_path, "agent.py", ALWAYS_ZERO)
    result = rlarena(tmp_path / "home", "validate", "tic-tac-toe", str(agent))
    assert result.returncode == 1, result.stdout + result.stderr
    out = result.stdout
    assert "FAILED: the validation match failed (INVALID): the action 0 is not legal in this position" in out
    assert "Was this code written for another game?" in out
    # Players are numbered as observations number them: player 1 moves second.
    assert "player 1: INVALID: the action 0 is not legal in this position" in out
    assert "player 2" not in out
    assert "game state when player 1 failed at step 1 (move 2 of the game):" in out
    assert "    X . .\n    . . .\n    . . ." in out  # player 0 took cell 0, the top-left corner
    assert "    legal_actions: [1, 2, 3, 4, 5, 6, 7, 8]" in out
    assert "    player: 1" in out


def test_a_raising_agent_shows_its_traceback_and_the_position_it_failed_in(tmp_path: Path) -> None:
    agent = written(tmp_path, "agent.py", RAISING)
    result = rlarena(tmp_path / "home", "validate", "chess", str(agent))
    assert result.returncode == 1, result.stdout + result.stderr
    out = result.stdout
    assert "FAILED: the validation match failed (ERROR): RuntimeError: gave up at step 2" in out
    assert "Traceback (most recent call last):" in out
    assert "raise RuntimeError('gave up at step %d' % configuration['step'])" in out
    assert "game state when player 0 failed at step 2 (move 3 of the game):" in out
    fen = re.search(r"position \(FEN\): (\S+) w ", out)
    assert fen is not None and fen.group(1).count("/") == 7  # white to move after two plies
    assert "    legal_moves: [" in out


def test_what_the_upload_refuses_is_refused_with_the_upload_message(tmp_path: Path) -> None:
    broken = written(tmp_path, "agent.py", "def agent(observation, configuration)\n    return 0\n")
    result = rlarena(tmp_path / "home", "validate", "tic-tac-toe", str(broken))
    assert result.returncode == 1
    assert "refused at upload (syntax_error):" in result.stdout
    other_game = written(tmp_path / "other", "agent.py", 'ENVIRONMENT = "chess"\n' + GOOD)
    result = rlarena(tmp_path / "home", "validate", "tic-tac-toe", str(other_game))
    assert result.returncode == 1
    assert "refused at upload (wrong_environment):" in result.stdout
    assert "chess" in result.stdout


@pytest.mark.parametrize(
    ("arguments", "says"),
    [
        (("validate", "checkers", "agent.py"), "unknown environment 'checkers'"),
        (("validate", "tic-tac-toe", "missing.py"), "missing.py: no such file or folder"),
        (("validate", "tic-tac-toe"), "the following arguments are required: path"),
    ],
)
def test_usage_errors_exit_2_saying_what_is_wrong(tmp_path: Path, arguments: tuple[str, ...], says: str) -> None:
    written(tmp_path / "home", "agent.py", GOOD)
    result = rlarena(tmp_path / "home", *arguments)
    assert result.returncode == 2
    assert says in result.stderr


@pytest.mark.parametrize(("code", "game"), [(ALWAYS_ZERO, "tic-tac-toe"), (GOOD, "connect-four")])
def test_the_build_log_is_the_one_a_real_upload_gets(
    tmp_path: Path, local_platform: RunningPlatform, code: str, game: str
) -> None:
    agent = written(tmp_path, "agent.py", code)
    local = rlarena(tmp_path / "home", "validate", game, str(agent))
    user = local_platform.request(
        "POST",
        "/api/v1/auth/register",
        {"username": f"same-{game}", "email": f"{game}@e.io", "password": "long enough"},
    ).body
    created = local_platform.request("POST", "/api/v1/agents", {"name": "same", "environmentId": game}, user["token"])
    status, body = upload(local_platform, user["token"], created.body["agent"]["id"], "agent.py", code.encode())
    assert status == 201, body
    built = wait_for(local_platform, user["token"], body["submission"]["id"], {"active", "failed"})
    logs = local_platform.request("GET", f"/api/v1/submissions/{built['id']}/build-logs", token=user["token"]).body
    assert build_log_of(local.stdout) == logs["buildLog"]
    if built["status"] == "failed":
        assert local.returncode == 1
        assert f"FAILED: {built['errorMessage']}\n" in local.stdout
    else:
        assert local.returncode == 0


FULL_COLUMN = [f"    {mark} . . . . . ." for mark in "OXOXOX"]
SERVE = "ball at [0.5, 0.5], paddles at [0.5, 0.5], score [0, 0]"


@pytest.mark.parametrize(
    ("game", "code", "state"),
    [
        # Always column 0: the seventh piece has no room; the board shows the full column.
        ("connect-four", ALWAYS_ZERO, ["at step 6 (move 7 of the game)", *FULL_COLUMN]),
        # 3 is no pong action: both fail at once, at the serve.
        ("pong", "def agent(observation, configuration):\n    return 3\n", ["at step 0", SERVE]),
    ],
)
def test_the_game_state_is_drawn_for_every_kind_of_game(tmp_path: Path, game: str, code: str, state: list[str]) -> None:
    agent = written(tmp_path, "agent.py", code)
    result = rlarena(tmp_path / "home", "validate", game, str(agent))
    assert result.returncode == 1
    assert "(INVALID): the action" in result.stdout
    for line in state:
        assert line in result.stdout
