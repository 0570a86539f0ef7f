"""Why a match ended and how each side ended it, in words a reader of the record needs: pure.

A game that ran its course ends for the game's reason ("checkmate", "four in a row",
"threefold repetition"). A game an agent broke ends for that: the kind and the agent, by name,
and what happened ("TIMEOUT by deep-blue: no action within 5 s plus its overage bank ..."), so
an opponent's crash never reads as a normal win. A match the platform could not finish says so.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

OK, ERROR, TIMEOUT, INVALID = "OK", "ERROR", "TIMEOUT", "INVALID"
AGENT_STATUSES = (OK, ERROR, TIMEOUT, INVALID)
REASON_CAP = 500  # the column's length
DETAIL_CAP = 200  # how much of an agent's error a reason quotes (its first line)


@dataclass(frozen=True)
class SideEnd:
    """How one side ended a match: its agent's name, its status and the error, if any."""

    name: str
    status: str
    error_message: str | None = None


def agent_status(status: str | None) -> str:
    """One of AGENT_STATUSES; a result without one is OK (older results), anything else an ERROR."""
    if not status:
        return OK
    return status if status in AGENT_STATUSES else ERROR


def finished_reason(game_reason: str | None, sides: Sequence[SideEnd]) -> str | None:
    """The end of a played match: the failing sides if any, else the game's reason (None if unknown)."""
    failed = [side for side in sides if agent_status(side.status) != OK]
    if not failed:
        return _capped(game_reason) if game_reason else None
    blamed = "; ".join(_blame(side) for side in failed)
    if len(failed) == len(sides):
        blamed = f"every agent failed in the same step: {blamed}"
    return _capped(blamed)


def failed_reason(error_message: str) -> str:
    """The end of a match the platform could not finish (its error, the reaper's reason)."""
    return _capped(f"platform error: {first_line(error_message) or 'unknown'}")


def cancelled_reason(why: str) -> str:
    return _capped(f"cancelled: {why}")


def first_line(text: str | None) -> str:
    line = text.strip().splitlines()[0].strip() if text and text.strip() else ""
    return line if len(line) <= DETAIL_CAP else line[: DETAIL_CAP - 3] + "..."


def _blame(side: SideEnd) -> str:
    detail = first_line(side.error_message)
    head = f"{agent_status(side.status)} by {side.name}"
    return f"{head}: {detail}" if detail else head


def _capped(text: str) -> str:
    return text if len(text) <= REASON_CAP else text[: REASON_CAP - 3] + "..."
