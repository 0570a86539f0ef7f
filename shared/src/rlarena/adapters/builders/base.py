"""What a build backend is given and what it reports."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True)
class BuildTicket:
    """One attempt at building one submission, claimed from the queue."""

    submission_id: uuid.UUID
    agent_id: uuid.UUID
    user_id: uuid.UUID
    environment_id: str
    version: int
    attempt: int
    source_key: str
    source_filename: str


@dataclass(frozen=True)
class BuildOutcome:
    """The end of a build: `ok`, or the user's mistake in `error` with the evidence in `log`."""

    ok: bool
    log: str
    error: str | None = None
    image_url: str | None = None
    interface: str | None = None
    vulnerabilities: dict[str, int] | None = None  # counts per severity when the image was scanned


class BuildInfrastructureError(Exception):
    """The platform failed, not the user's code: the build is queued again (bounded retries)."""


class BuildProgress(Protocol):
    """What a backend reports while a build runs (the build queue records it)."""

    def validating(self, message: str) -> None:
        """The code is in place and is being proven."""
        ...

    def job_started(self, job_name: str) -> None:
        """The build runs in this Kubernetes Job (the same name again: a redelivery)."""
        ...


class Builder(Protocol):
    def build(self, ticket: BuildTicket, progress: BuildProgress) -> BuildOutcome | None:
        """Run or start the build, reporting its steps to `progress`.

        None means the build continues elsewhere (a Kubernetes Job) and reports back by events.
        """
        ...


def probe_report(output: str) -> dict[str, Any] | None:
    """The probe's JSON report: the last line of its output that is a JSON object."""
    for line in reversed(output.strip().splitlines()):
        try:
            parsed = json.loads(line)
        except ValueError:
            continue
        if isinstance(parsed, dict):
            return parsed
    return None
