"""`rlarena play` and `rlarena compare` as an author runs them: the installed command in a
subprocess, real agents (a file, a folder, a zip, house agents) in the platform's sandbox, and
the printed summary, the replay file and the exit status checked."""

from __future__ import annotations

import json
import re
import tarfile
from pathlib import Path

from rlarena.config import Settings
from rlarena.replays.html import DATA_ELEMENT_ID
from tests.support.author_cli import rlarena
from tests.support.running_platform import zipped

FIRST_LEGAL = "def agent(observation, configuration):\n    return observation['legal_actions'][0]\n"
# Plays its first move, then raises: an ERROR on its second move, with the traceback.
CRASHES = (
    "def agent(observation, configuration):\n"
    "    if configuration['step'] >= 2:\n"
    "        raise RuntimeError('boom on the second move')\n"
    "    return observation['legal_actions'][0]\n"
)
HELPER = "def last(observation):\n    return observation['legal_actions'][-1]\n"
USES_HELPER = "from helper import last\n\n\ndef agent(observation, configuration):\n    return last(observation)\n"


def _line(output: str, start: str) -> str:
    return next(line for line in output.splitlines() if line.startswith(start))


def test_a_file_against_a_house_agent_prints_the_summary_and_writes_the_replay(tmp_path: Path) -> None:
    (tmp_path / "first.py").write_text(FIRST_LEGAL)
    replay = tmp_path / "last.html"
    run = rlarena(tmp_path, "play", "tic-tac-toe", "first.py", "house:negamax", "--games", "4", "--replay", str(replay))
    assert run.returncode == 0, run.stderr
    out = run.stdout
    assert "4 games: A = first.py, B = house:negamax" in out
    assert _line(out, "A: ").startswith("A: 0 won")  # the first legal cell never beats perfect play
    assert _line(out, "  A as player 0:") and _line(out, "  A as player 1:")
    assert _line(out, "status of A:") == "status of A: OK 4, ERROR 0, TIMEOUT 0, INVALID 0"
    assert _line(out, "status of B:") == "status of B: OK 4, ERROR 0, TIMEOUT 0, INVALID 0"
    assert re.match(
        r"move time of A: p50 [\d.]+ ms, p95 [\d.]+ ms, max [\d.]+ ms \(\d+ moves\)", _line(out, "move time of A:")
    )
    assert re.match(r"score of A: 0\.\d{3} \(95% CI 0\.\d{3} to 0\.\d{3}\); Elo difference ", _line(out, "score of A:"))
    # Progress went to stderr, one line per game (stderr is not a terminal here).
    assert re.search(r"^4/4  A \d+ won", run.stderr, re.MULTILINE)
    page = replay.read_text()
    data = re.search(rf'<script type="application/json" id="{DATA_ELEMENT_ID}">(.*?)</script>', page, re.S)
    assert data is not None
    recorded = json.loads(data.group(1))
    # Game 4 (index 3) has A as player 1: the replay lists B first.
    assert recorded["metadata"]["agents"] == ["house:negamax", "first.py"]
    assert recorded["metadata"]["seed"] == 4
    assert f"replay of game 4 written to {replay}" in out


def test_a_folder_and_a_zip_play_with_their_own_modules(tmp_path: Path) -> None:
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "agent.py").write_text(USES_HELPER)
    (folder / "helper.py").write_text(HELPER)
    (folder / "__pycache__").mkdir()
    (folder / "__pycache__" / "junk.pyc").write_bytes(b"\0junk")
    theirs = {"theirs/agent.py": USES_HELPER.encode(), "theirs/helper.py": HELPER.encode()}
    (tmp_path / "theirs.zip").write_bytes(zipped(theirs))
    run = rlarena(tmp_path, "play", "connect-four", "mine", "theirs.zip", "--games", "2", "--seed", "7")
    assert run.returncode == 0, run.stderr
    assert "2 games: A = mine, B = theirs.zip" in run.stdout
    assert _line(run.stdout, "status of A:") == "status of A: OK 2, ERROR 0, TIMEOUT 0, INVALID 0"
    assert _line(run.stdout, "status of B:") == "status of B: OK 2, ERROR 0, TIMEOUT 0, INVALID 0"
    # Both always drop into the last legal column, and then whoever moves first wins: once each.
    assert _line(run.stdout, "A: ") == "A: 1 won, 0 drawn, 1 lost"
    assert _line(run.stdout, "  A as player 0:") == "  A as player 0: 1 won, 0 drawn, 0 lost"
    with tarfile.open(tmp_path / "theirs.tar.gz", "w:gz") as archive:
        archive.add(folder / "agent.py", "agent.py")
        archive.add(folder / "helper.py", "helper.py")
    swapped = rlarena(tmp_path, "play", "connect-four", "mine", "theirs.tar.gz", "--games", "1", "--swap")
    assert swapped.returncode == 0, swapped.stderr
    assert "1 game: A = mine, B = theirs.tar.gz" in swapped.stdout
    assert _line(swapped.stdout, "  A as player 1:") == "  A as player 1: 0 won, 0 drawn, 1 lost"
    assert "A as player 0" not in swapped.stdout


def test_a_crashing_agent_shows_in_the_status_counts_with_its_traceback(tmp_path: Path) -> None:
    (tmp_path / "crashes.py").write_text(CRASHES)
    run = rlarena(tmp_path, "play", "connect-four", "crashes.py", "house:random", "--games", "2")
    assert run.returncode == 0, run.stderr
    assert _line(run.stdout, "status of A:") == "status of A: OK 0, ERROR 2, TIMEOUT 0, INVALID 0"
    assert _line(run.stdout, "status of B:") == "status of B: OK 2, ERROR 0, TIMEOUT 0, INVALID 0"
    assert _line(run.stdout, "A: ") == "A: 0 won, 0 drawn, 2 lost"
    assert "first failure of A (game 1, seed 1, ERROR):" in run.stdout
    assert "RuntimeError: boom on the second move" in run.stdout
    assert "Traceback (most recent call last)" in run.stdout


def test_bad_games_agents_and_options_exit_2_with_a_clear_message(tmp_path: Path) -> None:
    (tmp_path / "first.py").write_text(FIRST_LEGAL)
    (tmp_path / "notes.txt").write_text("not an agent")
    most = Settings.model_fields["archive_max_files"].default
    crowded = tmp_path / "crowded"  # more files than an upload may hold (ARCHIVE_MAX_FILES)
    crowded.mkdir()
    for index in range(most + 1):
        (crowded / f"data_{index}.txt").write_text("x")
    cases = [
        (["play", "checkers", "first.py", "house:random"], "unknown environment 'checkers'; known: chess"),
        (["play", "tic-tac-toe", "missing.py", "house:random"], "missing.py: no such file or folder"),
        (["play", "chess", "house:negamax", "house:random"], "choose one of: house:random, house:greedy, house:search"),
        (["play", "tic-tac-toe", "notes.txt", "house:random"], "an agent is a folder, a .py"),
        (["play", "tic-tac-toe", "first.py", "house:random", "--games", "0"], "--games must be at least 1"),
        (["play", "tic-tac-toe", "crowded", "house:random"], f"holds more than an upload may ({most} files"),
        (["play", "pong", "house:random", "house:random", "--replay", "no/such/x.html"], "does not exist"),
        (["compare", "pong", "house:follower", "house:random", "--elo1", "-5"], "elo1 must be greater"),
    ]
    for arguments, message in cases:
        run = rlarena(tmp_path, *arguments)
        assert run.returncode == 2, (arguments, run.stdout, run.stderr)
        assert message in run.stderr, (arguments, run.stderr)
        assert run.stdout == ""


def test_compare_stops_early_once_new_is_clearly_stronger(tmp_path: Path) -> None:
    run = rlarena(
        tmp_path, "compare", "tic-tac-toe", "house:negamax", "house:random", "--elo1", "200", "--games", "100"
    )
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert lines[0] == "NEW is stronger"
    llr = re.match(r"  LLR \+([\d.]+) \(bounds -2\.94 to \+2\.94; H0: Elo 0, H1: Elo 200", lines[1])
    assert llr is not None and float(llr.group(1)) >= 2.94
    pairs = re.match(r"  (\d+) games in (\d+) pairs", lines[2])
    assert pairs is not None and int(pairs.group(1)) == 2 * int(pairs.group(2)) < 100  # stopped early
    assert "score of NEW" in lines[3]
    assert "status of NEW: OK" in run.stdout


def test_compare_says_when_new_is_weaker_and_when_it_cannot_tell_yet(tmp_path: Path) -> None:
    weaker = rlarena(tmp_path, "compare", "tic-tac-toe", "house:random", "house:negamax", "--elo1", "200")
    assert weaker.returncode == 0, weaker.stderr
    assert weaker.stdout.splitlines()[0] == "NEW is weaker"
    assert re.match(r"  LLR -[\d.]+ \(bounds", weaker.stdout.splitlines()[1])
    undecided = rlarena(tmp_path, "compare", "pong", "house:random", "house:random", "--games", "4")
    assert undecided.returncode == 0, undecided.stderr
    assert undecided.stdout.splitlines()[0] == "can't tell yet"
    assert "  4 games in 2 pairs" in undecided.stdout
