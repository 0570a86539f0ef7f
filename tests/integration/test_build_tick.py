"""The PingSource's tick catches builds up: missed Job events on Kubernetes, queued builds anywhere.

On the cluster the Trigger `builder-jobs-tick` delivers each tick to `builder-jobs`; locally the
in-process broker routes it by the same Trigger.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cloudevents.conversion import to_binary, to_structured
from cloudevents.http import CloudEvent
from functions_framework import create_app

from rlarena.adapters.builders.kaniko import KanikoBuilder
from rlarena.bootstrap import Platform
from rlarena.entrypoints.submissions import on_job_event
from rlarena.platform.broker import InProcessBroker
from rlarena.platform.manifests import load_documents, ping_sources, triggers
from rlarena.platform.ping import ping_event
from rlarena.service import build_queue
from tests.conftest import ROOT
from tests.support.api import ApiClient, User
from tests.support.cluster import Cluster, kubernetes_overrides
from tests.support.kaniko import BUILDS_NAMESPACE as NAMESPACE
from tests.support.kaniko import REPORT_OK, names, row, submit
from tests.support.seaweedfs import S3Server

KNATIVE = ROOT / "knative"
PONG_AGENT = b"def agent(observation, configuration):\n    return 1\n"


def tick() -> CloudEvent:
    """The event the real PingSource manifest makes Knative send."""
    (source,) = [found for found in ping_sources(load_documents(KNATIVE)) if found.name == "matchmaker-tick"]
    return ping_event(source)


@pytest.fixture
def owner(api: ApiClient) -> User:
    return api.register("ticked")


@pytest.fixture
def agent_id(api: ApiClient, owner: User) -> str:
    return str(api.create_agent(owner, "ticked", "pong")["id"])


class TestOnKubernetes:
    @pytest.fixture
    def settings_overrides(self, s3_server: S3Server) -> dict[str, object]:
        return kubernetes_overrides(s3_server, NAMESPACE, "tick", BUILD_CONCURRENCY=1)

    @pytest.fixture
    def target(self, platform: Platform) -> Any:
        main = str(ROOT / "functions" / "submissions" / "main.py")
        return create_app("builder_on_job_event", main).test_client()  # type: ignore[no-untyped-call]

    def test_the_tick_applies_job_ends_whose_events_were_missed_and_starts_queued_builds(
        self, platform: Platform, builder: KanikoBuilder, cluster: Cluster, owner: User, agent_id: str, target: Any
    ) -> None:
        first = submit(platform, owner, agent_id)
        second = submit(platform, owner, agent_id)
        build_queue.run_queue(platform)
        assert (row(platform, first).status, row(platform, second).status) == ("building", "pending")
        cluster.finish_job(names(first)[0], ok=True)  # the Job event is lost

        headers, body = to_binary(tick())
        response = target.post("/", headers=headers, data=body)

        assert response.status_code == 200, response.data
        assert row(platform, first).status == "validating"
        assert names(first)[1] in cluster.jobs()

        cluster.finish_job(names(first)[1], ok=True, log=REPORT_OK)  # lost again
        headers, body = to_structured(tick())
        assert target.post("/", headers=headers, data=body).status_code == 200

        assert row(platform, first).status == "active"
        assert row(platform, second).status == "building"  # the freed slot went to the queued build
        assert names(second, version=2)[0] in cluster.jobs()

    def test_a_tick_that_cannot_reach_the_cluster_is_answered_for_a_retry(
        self, platform: Platform, builder: KanikoBuilder, cluster: Cluster, owner: User, agent_id: str, target: Any
    ) -> None:
        submit(platform, owner, agent_id)
        cluster.stop()
        headers, body = to_binary(tick())

        response = target.post("/", headers=headers, data=body)

        assert response.status_code >= 500  # the broker delivers the tick again; the build is queued again
        assert response.json["error"]


class TestOnTheLocalPlatform:
    @pytest.fixture
    def settings_overrides(self) -> dict[str, object]:
        return {"SUBMISSIONS_PER_AGENT_PER_DAY": 50, "SUBMISSION_RATE_LIMIT_PER_MINUTE": 1000}

    @pytest.fixture
    def broker(self, platform: Platform, tmp_path: Path) -> Iterator[InProcessBroker]:
        routes = [found for found in triggers(load_documents(KNATIVE)) if found.subscriber == "builder-jobs"]
        made = InProcessBroker(
            routes,
            {"builder-jobs": on_job_event},
            dead_letter_path=tmp_path / "dead-letters.jsonl",
            sleep=lambda _: None,
        )
        yield made
        made.close()

    def test_the_trigger_routes_the_tick_to_the_queue_which_builds_what_waits(
        self, platform: Platform, broker: InProcessBroker, owner: User, agent_id: str, tmp_path: Path
    ) -> None:
        waiting = submit(platform, owner, agent_id, {"agent.py": PONG_AGENT})  # its upload event went nowhere
        assert row(platform, waiting).status == "pending"

        broker.publish(tick())
        assert broker.drain(120)

        assert row(platform, waiting).status == "active"
        assert not (tmp_path / "dead-letters.jsonl").exists()
