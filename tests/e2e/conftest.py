"""Fixtures of the end-to-end tests: the local platform as a real process (tests/support/running_platform.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.running_platform import BIN, RunningPlatform, start_platform, stop_platform

__all__ = ["BIN", "RunningPlatform", "start_platform", "stop_platform"]


@pytest.fixture(scope="module")
def local_platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningPlatform]:
    running = start_platform(tmp_path_factory.mktemp("platform"))
    yield running
    stop_platform(running)
