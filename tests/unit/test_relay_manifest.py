"""The relay's manifests: one always-on replica, routed at /api/v1/ws, fed every event it relays."""

from __future__ import annotations

from typing import Any

from rlarena.events.catalogue import EventType
from rlarena.platform import targets
from rlarena.platform.manifests import load_documents, route_table, triggers
from rlarena.relay.messages import RELAYED
from tests.conftest import ROOT


def relay_service() -> dict[str, Any]:
    (service,) = [
        doc
        for doc in load_documents(ROOT / "knative")
        if doc["kind"] == "Service" and doc["metadata"]["name"] == "ws-relay"
    ]
    return service


def test_the_relay_runs_exactly_one_always_on_replica() -> None:
    # Every connection and every event must meet in one process: a second replica would miss
    # the events delivered to the first. Changing this needs fan-out across replicas first.
    annotations = relay_service()["spec"]["template"]["metadata"]["annotations"]

    assert annotations["autoscaling.knative.dev/min-scale"] == "1"
    assert annotations["autoscaling.knative.dev/max-scale"] == "1"


def test_the_relay_does_not_cap_concurrent_requests_since_each_websocket_is_one() -> None:
    spec = relay_service()["spec"]["template"]["spec"]

    assert spec["containerConcurrency"] == 0


def test_the_relay_container_runs_the_asgi_server_not_functions_framework() -> None:
    (container,) = relay_service()["spec"]["template"]["spec"]["containers"]

    assert container["command"] == ["python", "-m", "rlarena.relay"]
    assert container["readinessProbe"]["httpGet"]["path"] == "/health"


def test_the_relays_triggers_deliver_exactly_the_event_types_it_relays() -> None:
    relayed = {
        trigger.filters["type"]
        for trigger in triggers(load_documents(ROOT / "knative"))
        if trigger.subscriber == "ws-relay"
    }

    assert relayed == set(RELAYED)
    assert EventType.MATCH_FINISHED.value not in relayed  # completion comes with the ratings, from rating.updated


def test_the_websocket_path_is_routed_to_the_relay_and_nothing_else_is() -> None:
    table = route_table(load_documents(ROOT / "knative"))

    assert table.resolve("/api/v1/ws") == "ws-relay"
    assert table.resolve("/api/v1/ws/other") != "ws-relay"
    assert "ws-relay" in targets.HTTP_SERVICES and "ws-relay" in targets.EVENT_SERVICES
