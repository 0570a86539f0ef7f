"""Fixtures shared by every tier."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from rlarena.config import Settings

# The browser fixtures (`chromium`, `page`) of the web tests: tests/support/browser.py.
pytest_plugins = ["tests.support.browser"]

ROOT = Path(__file__).resolve().parents[1]
TEST_SECRET = "test-secret-0123456789-abcdefghijklmnopqrstuvwxyz"


@pytest.fixture(autouse=True)
def _restore_environment() -> Iterator[None]:
    saved = dict(os.environ)
    yield
    os.environ.clear()
    os.environ.update(saved)


def make_settings(data_dir: Path, database_url: str = "", **overrides: object) -> Settings:
    values: dict[str, object] = {
        "ENV": "test",
        "DATA_DIR": data_dir,
        "DATABASE_URL": database_url,
        "JWT_SECRET": TEST_SECRET,
        "AUTH_RATE_LIMIT_PER_MINUTE": 10_000,
        "KNATIVE_DIR": ROOT / "knative",
        # No house agents unless a test is about them: they would join every ladder it looks at.
        "HOUSE_AGENTS": False,
    }
    values.update(overrides)
    return Settings(**values)
