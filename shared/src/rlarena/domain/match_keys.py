"""Where a match's result and replay live in the object store: the executor writes them there,
the platform reads them (logs, replays, the reconciler). Pure, so both sides import it."""

from __future__ import annotations


def result_key(match_id: str) -> str:
    """The executor's stored result (`result.json`): the source of truth for how the game ended."""
    return f"matches/{match_id}/result.json"


def replay_key(match_id: str) -> str:
    return f"replays/{match_id}.json"
