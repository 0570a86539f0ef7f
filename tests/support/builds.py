"""A build backend's progress, recorded instead of written to the database."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class RecordedProgress:
    """Satisfies `rlarena.adapters.builders.base.BuildProgress`; keeps what the backend reported."""

    messages: list[str] = field(default_factory=list)
    jobs: list[str] = field(default_factory=list)

    def validating(self, message: str) -> None:
        self.messages.append(message)

    def job_started(self, job_name: str) -> None:
        self.jobs.append(job_name)
