"""An agent deleted while its version builds: the build still ends once, and nothing is left active."""

from __future__ import annotations

from sqlalchemy import select

from rlarena.adapters.builders.base import BuildOutcome
from rlarena.adapters.db.models import Submission
from rlarena.bootstrap import Platform
from rlarena.events.publisher import RecordingPublisher
from rlarena.service import builds
from tests.support.api import ApiClient

AGENT = b"def agent(observation, configuration):\n    return 0\n"
BUILT = BuildOutcome(ok=True, log="ok", image_url="local", interface="function")


def test_a_version_built_after_its_agent_was_deleted_is_not_active(
    platform: Platform, api: ApiClient, published: RecordingPublisher
) -> None:
    owner = api.register("leaver")
    agent = api.create_agent(owner, "leaving", "pong")
    assert api.upload(owner, agent["id"], "agent.py", AGENT).status_code == 201
    ticket = builds.claim_next(platform)
    assert ticket is not None
    assert api.delete(f"/api/v1/agents/{agent['id']}", headers=owner.headers).status_code in (200, 204)

    builds.finish_build(platform, ticket, BUILT)
    builds.finish_build(platform, ticket, BUILT)  # a late duplicate report changes nothing

    with platform.uow() as uow:
        versions = list(uow.session.scalars(select(Submission).where(Submission.agent_id == ticket.agent_id)))
    assert [(v.status, v.is_active) for v in versions] == [("inactive", False)]
    ended = [e.get_data() for e in published.events if e["type"] == "dev.rlarena.build.succeeded"]
    assert [e["status"] for e in ended] == ["inactive"]  # type: ignore[index]
