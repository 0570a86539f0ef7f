from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from cloudevents.http import CloudEvent

from rlarena.errors import ConfigurationError
from rlarena.platform.manifests import (
    ManifestError,
    PingSource,
    Trigger,
    load_documents,
    parse_iso_duration,
    ping_sources,
    route_table,
    triggers,
)

KNATIVE_DIR = Path(__file__).parents[2] / "knative"


def documents(text: str) -> list[dict[str, Any]]:
    return [document for document in yaml.safe_load_all(text) if document]


def event(type_: str = "dev.rlarena.match.finished", **extensions: Any) -> CloudEvent:
    return CloudEvent({"type": type_, "source": "/rlarena/executor", **extensions}, {"matchId": "m1"})


def trigger(filters: dict[str, str]) -> Trigger:
    return Trigger(name="t", broker="default", filters=filters, subscriber="ratings")


BROKER = """
apiVersion: eventing.knative.dev/v1
kind: Broker
metadata: {name: default}
spec:
  delivery:
    retry: 5
    backoffPolicy: linear
    backoffDelay: PT2S
    deadLetterSink:
      ref: {apiVersion: serving.knative.dev/v1, kind: Service, name: graveyard}
"""

TRIGGER_WITHOUT_DELIVERY = """
apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata: {name: inherits}
spec:
  broker: default
  filter:
    attributes: {type: dev.rlarena.match.finished}
  subscriber:
    ref: {apiVersion: serving.knative.dev/v1, kind: Service, name: ratings}
    uri: /events
"""

TRIGGER_WITH_DELIVERY = """
apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata: {name: own-delivery}
spec:
  broker: default
  subscriber:
    ref: {apiVersion: serving.knative.dev/v1, kind: Service, name: matchmaker}
  delivery: {retry: 1, backoffDelay: PT1M}
"""


# --- Trigger filters ------------------------------------------------------------------------------


def test_a_trigger_matches_an_event_whose_attributes_equal_every_filter() -> None:
    assert trigger({"type": "dev.rlarena.match.finished", "source": "/rlarena/executor"}).matches(event())


def test_a_trigger_does_not_match_when_one_filter_value_differs() -> None:
    assert not trigger({"type": "dev.rlarena.match.finished", "source": "/rlarena/other"}).matches(event())


def test_a_filter_value_must_match_exactly_not_as_a_prefix() -> None:
    assert not trigger({"type": "dev.rlarena.match"}).matches(event())


def test_a_trigger_does_not_match_an_event_missing_a_filtered_attribute() -> None:
    assert not trigger({"environment": "connect4"}).matches(event())


def test_a_trigger_can_filter_on_an_extension_attribute() -> None:
    filtered = trigger({"type": "dev.rlarena.match.finished", "environment": "connect4"})

    assert filtered.matches(event(environment="connect4"))
    assert not filtered.matches(event(environment="chess"))


def test_an_empty_filter_matches_every_event() -> None:
    assert trigger({}).matches(event("anything.at.all"))


def test_an_empty_filter_value_matches_any_non_empty_value_as_in_knative() -> None:
    any_environment = trigger({"environment": ""})

    assert any_environment.matches(event(environment="chess"))
    assert not any_environment.matches(event(environment=""))
    assert not any_environment.matches(event())


# --- Trigger parsing --------------------------------------------------------------------------------


def test_a_trigger_without_delivery_inherits_its_brokers_delivery() -> None:
    (parsed,) = triggers(documents(BROKER + "---" + TRIGGER_WITHOUT_DELIVERY))

    assert parsed.retry == 5
    assert parsed.backoff_policy == "linear"
    assert parsed.backoff_delay == timedelta(seconds=2)
    assert parsed.dead_letter == "graveyard"


def test_a_trigger_with_its_own_delivery_ignores_the_brokers() -> None:
    (parsed,) = triggers(documents(BROKER + "---" + TRIGGER_WITH_DELIVERY))

    assert parsed.retry == 1
    assert parsed.backoff_policy == "exponential"
    assert parsed.backoff_delay == timedelta(minutes=1)
    assert parsed.dead_letter is None


def test_a_trigger_without_any_delivery_gets_no_retries_and_the_default_backoff() -> None:
    (parsed,) = triggers(documents(TRIGGER_WITHOUT_DELIVERY))

    assert parsed.retry == 0
    assert parsed.backoff_policy == "exponential"
    assert parsed.backoff_delay == timedelta(seconds=0.2)


def test_a_trigger_reads_its_subscriber_filters_and_path() -> None:
    (parsed,) = triggers(documents(TRIGGER_WITHOUT_DELIVERY))

    assert parsed.name == "inherits"
    assert parsed.broker == "default"
    assert parsed.subscriber == "ratings"
    assert parsed.subscriber_path == "/events"
    assert parsed.filters == {"type": "dev.rlarena.match.finished"}


def test_a_trigger_without_a_filter_has_empty_filters_and_no_path() -> None:
    (parsed,) = triggers(documents(TRIGGER_WITH_DELIVERY))

    assert parsed.filters == {}
    assert parsed.subscriber_path == ""


def test_objects_of_other_kinds_or_api_versions_are_not_triggers() -> None:
    old_api = TRIGGER_WITHOUT_DELIVERY.replace("eventing.knative.dev/v1", "eventing.knative.dev/v1beta1")

    assert triggers(documents(BROKER + "---" + old_api)) == []


def test_a_trigger_without_a_subscriber_ref_is_refused_naming_the_field() -> None:
    broken = TRIGGER_WITHOUT_DELIVERY.replace(
        "ref: {apiVersion: serving.knative.dev/v1, kind: Service, name: ratings}", ""
    )

    with pytest.raises(ManifestError, match=r"Trigger 'inherits': spec\.subscriber\.ref\.name is required"):
        triggers(documents(broken))


def test_a_non_string_filter_value_is_refused() -> None:
    broken = TRIGGER_WITHOUT_DELIVERY.replace("{type: dev.rlarena.match.finished}", "{attempt: 3}")

    with pytest.raises(ManifestError, match=r"spec\.filter\.attributes\.attempt must be a string"):
        triggers(documents(broken))


def test_an_unknown_backoff_policy_is_refused() -> None:
    broken = TRIGGER_WITH_DELIVERY.replace("retry: 1", "retry: 1, backoffPolicy: random")

    with pytest.raises(ManifestError, match=r"backoffPolicy must be exponential or linear"):
        triggers(documents(broken))


def test_a_negative_retry_count_is_refused() -> None:
    with pytest.raises(ManifestError, match=r"spec\.delivery\.retry"):
        triggers(documents(TRIGGER_WITH_DELIVERY.replace("retry: 1", "retry: -1")))


def test_a_malformed_backoff_delay_in_the_broker_is_reported_against_the_broker() -> None:
    broken = BROKER.replace("PT2S", "2 seconds")

    with pytest.raises(ManifestError, match=r"Broker 'default': spec\.delivery\.backoffDelay"):
        triggers(documents(broken + "---" + TRIGGER_WITHOUT_DELIVERY))


def test_the_newer_filters_dialect_is_refused_rather_than_ignored() -> None:
    newer = TRIGGER_WITH_DELIVERY.replace("spec:", "spec:\n  filters: [{prefix: {type: dev.rlarena.}}]")

    with pytest.raises(ManifestError, match=r"spec\.filters is not supported"):
        triggers(documents(newer))


def test_manifest_errors_are_configuration_errors() -> None:
    assert issubclass(ManifestError, ConfigurationError)


# --- ISO-8601 durations -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("PT0.5S", timedelta(seconds=0.5)),
        ("PT2S", timedelta(seconds=2)),
        ("PT1M", timedelta(minutes=1)),
        ("PT1H30M", timedelta(hours=1, minutes=30)),
        ("P1DT2H", timedelta(days=1, hours=2)),
        ("P2W", timedelta(weeks=2)),
        ("PT0,25S", timedelta(seconds=0.25)),
    ],
)
def test_iso_durations_are_parsed(text: str, expected: timedelta) -> None:
    assert parse_iso_duration(text) == expected


@pytest.mark.parametrize("text", ["", "P", "PT", "2S", "PT2", "P1Y", "P1M", "PT-1S", "pt2s", "PT2S extra"])
def test_malformed_or_variable_length_durations_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="ISO-8601"):
        parse_iso_duration(text)


# --- PingSources ------------------------------------------------------------------------------------

PING = """
apiVersion: sources.knative.dev/v1
kind: PingSource
metadata: {name: tick}
spec:
  schedule: "*/5 * * * *"
  contentType: application/json
  data: '{"reason": "tick"}'
  sink:
    ref: {apiVersion: eventing.knative.dev/v1, kind: Broker, name: default}
"""


def test_a_ping_source_is_read_with_the_default_namespace() -> None:
    (source,) = ping_sources(documents(PING))

    assert source == PingSource(
        name="tick",
        namespace="rlarena",
        schedule="*/5 * * * *",
        content_type="application/json",
        data='{"reason": "tick"}',
        sink_kind="Broker",
        sink_name="default",
    )


def test_a_ping_source_keeps_its_own_namespace_over_the_default() -> None:
    (source,) = ping_sources(documents(PING.replace("{name: tick}", "{name: tick, namespace: staging}")), "other")

    assert source.namespace == "staging"


def test_a_ping_source_without_a_schedule_is_refused() -> None:
    with pytest.raises(ManifestError, match=r"PingSource 'tick': spec\.schedule is required"):
        ping_sources(documents(PING.replace('schedule: "*/5 * * * *"', "")))


def test_a_ping_source_with_a_time_zone_is_refused_rather_than_fired_at_the_wrong_hour() -> None:
    with pytest.raises(ManifestError, match="timezone"):
        ping_sources(documents(PING.replace("spec:", "spec:\n  timezone: Europe/Paris")))


# --- Routes -----------------------------------------------------------------------------------------

ROUTES = """
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: api}
spec:
  rules:
    - matches:
        - path: {type: PathPrefix, value: /api/v1}
      backendRefs: [{name: fallback}]
    - matches:
        - path: {type: PathPrefix, value: /api/v1/agents}
      backendRefs: [{name: agents}]
    - matches:
        - path: {type: PathPrefix, value: /api/v1/agents/special/}
        - path: {type: Exact, value: /api/v1/agents/exact}
      backendRefs: [{name: special}]
    - matches:
        - path: {type: Exact, value: /health}
      backendRefs: [{name: health}, {name: ignored}]
"""


def test_an_exact_match_beats_a_longer_prefix_and_a_shorter_one() -> None:
    table = route_table(documents(ROUTES))

    assert table.resolve("/api/v1/agents/exact") == "special"
    assert table.resolve("/health") == "health"


def test_the_longest_matching_prefix_wins() -> None:
    table = route_table(documents(ROUTES))

    assert table.resolve("/api/v1/agents/7") == "agents"
    assert table.resolve("/api/v1/agents/special/7") == "special"
    assert table.resolve("/api/v1/users") == "fallback"


def test_prefixes_match_whole_path_segments_only() -> None:
    table = route_table(documents(ROUTES))

    assert table.resolve("/api/v1/agents") == "agents"
    assert table.resolve("/api/v1/agents/") == "agents"
    assert table.resolve("/api/v1/agentsx") == "fallback"
    assert table.resolve("/api/v1x") is None


def test_a_prefix_written_with_a_trailing_slash_still_matches_the_bare_segment() -> None:
    assert route_table(documents(ROUTES)).resolve("/api/v1/agents/special") == "special"


def test_an_exact_match_does_not_cover_sub_paths_or_a_trailing_slash() -> None:
    table = route_table(documents(ROUTES))

    assert table.resolve("/health/") is None
    assert table.resolve("/health/deep") is None


def test_an_unknown_path_resolves_to_nothing() -> None:
    assert route_table(documents(ROUTES)).resolve("/unknown") is None


def test_the_query_string_does_not_affect_routing() -> None:
    assert route_table(documents(ROUTES)).resolve("/health?verbose=1") == "health"


def test_backends_lists_the_first_backend_of_every_rule() -> None:
    assert route_table(documents(ROUTES)).backends() == {"fallback", "agents", "special", "health"}


def test_a_rule_without_matches_catches_every_path() -> None:
    catch_all = """
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: all}
spec:
  rules:
    - backendRefs: [{name: everything}]
"""
    assert route_table(documents(catch_all)).resolve("/anything/here") == "everything"


def test_a_regular_expression_match_is_refused() -> None:
    broken = ROUTES.replace("{type: Exact, value: /health}", "{type: RegularExpression, value: /h.*}")

    with pytest.raises(ManifestError, match=r"HTTPRoute 'api': spec\.rules\[3\]\.matches\[0\]\.path\.type"):
        route_table(documents(broken))


def test_a_header_match_is_refused_because_the_local_router_ignores_headers() -> None:
    broken = ROUTES.replace("- path: {type: Exact, value: /health}", "- headers: [{name: x, value: y}]")

    with pytest.raises(ManifestError, match="only path matches"):
        route_table(documents(broken))


def test_a_rule_without_backends_is_refused() -> None:
    broken = ROUTES.replace("backendRefs: [{name: fallback}]", "backendRefs: []")

    with pytest.raises(ManifestError, match=r"spec\.rules\[0\]\.backendRefs"):
        route_table(documents(broken))


def test_the_same_path_routed_to_two_backends_is_refused() -> None:
    clash = ROUTES.replace("{type: Exact, value: /health}", "{type: PathPrefix, value: /api/v1/agents/}")

    with pytest.raises(ManifestError, match="also to 'agents'"):
        route_table(documents(clash))


# --- Loading files ----------------------------------------------------------------------------------


def test_load_documents_reads_every_yaml_document_recursively_in_path_order(tmp_path: Path) -> None:
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "two.yml").write_text("kind: Second\n---\n---\nkind: Third\n")
    (tmp_path / "a.yaml").write_text("kind: First\n")
    (tmp_path / "kustomization.yaml").write_text("kind: Kustomization\n")
    (tmp_path / "notes.txt").write_text("kind: NotYaml\n")

    assert [document["kind"] for document in load_documents(tmp_path)] == ["First", "Second", "Third"]


def test_errors_in_a_loaded_file_name_that_file(tmp_path: Path) -> None:
    (tmp_path / "triggers.yaml").write_text(TRIGGER_WITH_DELIVERY.replace("broker: default", ""))

    with pytest.raises(ManifestError, match=r"triggers\.yaml: Trigger 'own-delivery': spec\.broker is required"):
        triggers(load_documents(tmp_path))


def test_invalid_yaml_is_reported_with_its_file(tmp_path: Path) -> None:
    (tmp_path / "broken.yaml").write_text("kind: [unclosed\n")

    with pytest.raises(ManifestError, match=r"broken\.yaml: not valid YAML"):
        load_documents(tmp_path)


def test_a_missing_manifest_directory_is_reported(tmp_path: Path) -> None:
    with pytest.raises(ManifestError, match="does not exist"):
        load_documents(tmp_path / "absent")


# --- The real manifests -----------------------------------------------------------------------------


def test_the_real_manifests_route_paths_and_events_as_the_cluster_does() -> None:
    loaded = load_documents(KNATIVE_DIR)
    table = route_table(loaded)

    assert table.resolve("/api/v1/agents/123") == "agents"
    assert table.resolve("/api/v1/auth/login") == "auth"
    assert table.resolve("/health") == "agents"

    ratings = next(found for found in triggers(loaded) if found.name == "ratings-match-finished")
    assert ratings.subscriber == "ratings"
    assert ratings.matches(event("dev.rlarena.match.finished"))
    assert not ratings.matches(event("dev.rlarena.match.failed"))
    assert not ratings.matches(event("dev.rlarena.match.scheduled"))


def test_the_real_ping_source_is_readable() -> None:
    sources = ping_sources(load_documents(KNATIVE_DIR))

    assert any(source.name == "matchmaker-tick" and source.sink_kind == "Broker" for source in sources)
