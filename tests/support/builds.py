"""Build helpers for tests: a recording BuildProgress, and uploading then building through the queue."""

from __future__ import annotations

import io
import uuid
import zipfile
from dataclasses import dataclass, field

from rlarena.adapters.db.models import Submission
from rlarena.bootstrap import Platform
from rlarena.service import build_queue, submissions
from tests.support.api import ApiClient, User


@dataclass
class RecordedProgress:
    """Satisfies `rlarena.adapters.builders.base.BuildProgress`; keeps what the backend reported."""

    messages: list[str] = field(default_factory=list)
    jobs: list[str] = field(default_factory=list)

    def validating(self, message: str) -> None:
        self.messages.append(message)

    def job_started(self, job_name: str) -> None:
        self.jobs.append(job_name)


def agent_for(api: ApiClient, owner: User, environment: str) -> uuid.UUID:
    return uuid.UUID(str(api.create_agent(owner, f"bot-{environment}", environment)["id"]))


def build(platform: Platform, owner: User, agent_id: uuid.UUID, files: dict[str, bytes]) -> Submission:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, content in files.items():
            archive.writestr(name, content)
    view = submissions.submit_upload(platform, uuid.UUID(owner.id), agent_id, "bot.zip", buffer.getvalue())
    build_queue.run_queue(platform)
    with platform.uow() as uow:
        found = uow.session.get(Submission, view.submission.id)
        assert found is not None
        uow.session.expunge(found)
        return found
