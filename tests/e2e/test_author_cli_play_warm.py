"""`rlarena play` in warm sandboxes, several games at once, against the same games played cold one at
a time: the installed command in a subprocess, agents that seed their generators at import."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.author_cli import rlarena

SEEDED = (
    "import random\n"
    "random.seed({seed})\n\n\n"
    "def agent(observation, configuration):\n"
    "    return random.choice(observation['legal_actions'])\n"
)


def _summary(output: str) -> list[str]:
    wanted = ("A: ", "  A as player", "status of", "ended by")
    return [line for line in output.splitlines() if line.startswith(wanted)]


def test_warm_parallel_games_end_as_cold_sequential_ones(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "three.py").write_text(SEEDED.format(seed=3))
    (tmp_path / "four.py").write_text(SEEDED.format(seed=4))
    arguments = ("play", "tic-tac-toe", "three.py", "four.py", "--games", "8")
    monkeypatch.setenv("WARM_SANDBOXES", "false")
    cold = rlarena(tmp_path, *arguments, "--jobs", "1")
    monkeypatch.setenv("WARM_SANDBOXES", "true")
    warm = rlarena(tmp_path, *arguments, "--jobs", "3")
    assert cold.returncode == 0, cold.stderr
    assert warm.returncode == 0, warm.stderr
    assert _summary(warm.stdout) == _summary(cold.stdout)
    assert "status of A: OK 8, ERROR 0, TIMEOUT 0, INVALID 0" in warm.stdout
    assert len(_summary(warm.stdout)) >= 6


def test_jobs_must_be_positive(tmp_path: Path) -> None:
    run = rlarena(tmp_path, "play", "tic-tac-toe", "house:random", "house:random", "--jobs", "0")
    assert run.returncode == 2
    assert "--jobs must be between 1 and 64" in run.stderr
