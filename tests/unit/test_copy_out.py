"""SQL literals for COPY queries: quoted so no value can end the string or the statement."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from rlarena.adapters.db.copy_out import literal


def test_text_is_quoted_with_quotes_doubled() -> None:
    assert literal("tic-tac-toe") == "'tic-tac-toe'"
    assert literal("x'; DROP TABLE agents; --") == "'x''; DROP TABLE agents; --'"


def test_numbers_timestamps_and_intervals() -> None:
    assert literal(100) == "100"
    assert literal(True) == "TRUE"
    assert literal(datetime(2026, 11, 24, 12, tzinfo=UTC)) == "TIMESTAMPTZ '2026-11-24T12:00:00+00:00'"
    assert literal(timedelta(minutes=5)) == "INTERVAL '300.000000 seconds'"


def test_what_cannot_be_a_safe_literal_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone"):
        literal(datetime(2026, 11, 24, 12))
    with pytest.raises(ValueError, match="NUL"):
        literal("a\x00b")
