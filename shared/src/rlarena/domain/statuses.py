"""Every status value the platform writes. The database schema allows exactly these."""

from __future__ import annotations

from enum import StrEnum


class SubmissionStatus(StrEnum):
    UPLOADING = "uploading"  # a presigned upload URL was issued; the object has not arrived yet
    PENDING = "pending"
    BUILDING = "building"
    VALIDATING = "validating"
    ACTIVE = "active"
    FAILED = "failed"
    INACTIVE = "inactive"


class MatchStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"


class QueueStatus(StrEnum):
    WAITING = "waiting"
    MATCHED = "matched"


def sql_in(values: type[StrEnum]) -> str:
    """The values as an SQL list for a CHECK constraint."""
    return ", ".join(f"'{v.value}'" for v in values)
