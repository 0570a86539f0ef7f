"""A stored match result (the executor's `result.json`) as the match.finished payload.

One function, used by both sides: the executor announces exactly what it stored, and the
reconciler rebuilds the same announcement from the stored document when the event was lost.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from rlarena.events.catalogue import AgentResult, MatchFinished


def finished_payload(match_id: uuid.UUID, environment_id: str, result: Mapping[str, Any]) -> MatchFinished:
    """The MatchFinished payload of a stored SUCCESS result (older results carry no `finished_at`
    and no `outcome_reason`)."""
    winner = result.get("winner_agent_id") or ""
    finished_at = result.get("finished_at") or ""
    return MatchFinished(
        match_id=match_id,
        environment_id=environment_id,
        winner_id=uuid.UUID(winner) if winner else None,
        agent_results=[
            AgentResult(
                agent_id=uuid.UUID(str(r["agent_id"])),
                score=float(r["score"]),
                status=str(r.get("status") or "OK"),
                error_message=r.get("error_message") or None,
            )
            for r in result.get("agent_results", [])
        ],
        total_steps=int(result.get("total_steps") or 0),
        replay_url=result.get("replay_url") or None,
        finished_at=datetime.fromisoformat(finished_at) if finished_at else None,
        end_reason=result.get("outcome_reason") or None,
    )
