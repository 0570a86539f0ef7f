"""The Knative manifests: they render, validate against schemas, and agree with the code."""

from __future__ import annotations

import ast
import subprocess
import warnings
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from pydantic import BaseModel

from rlarena.events.catalogue import EventType
from rlarena.platform import targets
from rlarena.platform.manifests import load_documents, ping_sources, route_table, triggers
from tests.conftest import ROOT
from tests.support.manifests import KNATIVE, KUBECTL, OVERLAYS, _render

# The default kustomization (knative/, the base) and every overlay: each test on `rendered` runs on all.


@pytest.fixture(scope="module", params=[".", *(f"overlays/{name}" for name in OVERLAYS)])
def rendered(request: pytest.FixtureRequest) -> list[dict[str, Any]]:
    result = subprocess.run(
        [str(KUBECTL), "kustomize", str(KNATIVE / request.param)],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def _knative_models() -> dict[tuple[str, str], type[BaseModel]]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from cloudcoil.models.knative_eventing.eventing import v1 as eventing
        from cloudcoil.models.knative_eventing.sources import v1 as sources
        from cloudcoil.models.knative_serving.serving import v1 as serving
    return {
        ("serving.knative.dev/v1", "Service"): serving.Service,
        ("eventing.knative.dev/v1", "Broker"): eventing.Broker,
        ("eventing.knative.dev/v1", "Trigger"): eventing.Trigger,
        ("sources.knative.dev/v1", "PingSource"): sources.PingSource,
        ("sources.knative.dev/v1", "ApiServerSource"): sources.ApiServerSource,
        ("sources.knative.dev/v1", "SinkBinding"): sources.SinkBinding,
    }


def _unknown_fields(given: Any, kept: Any, path: str = "") -> list[str]:
    """Keys present in the manifest that the model dropped: typos the schema does not know."""
    if isinstance(given, dict) and isinstance(kept, dict):
        missing = [f"{path}.{key}" for key in given if key not in kept]
        return missing + [
            p for key in given if key in kept for p in _unknown_fields(given[key], kept[key], f"{path}.{key}")
        ]
    if isinstance(given, list) and isinstance(kept, list):
        return [
            p
            for index, (a, b) in enumerate(zip(given, kept, strict=False))
            for p in _unknown_fields(a, b, f"{path}[{index}]")
        ]
    return []


def test_a_typo_in_a_knative_manifest_is_caught() -> None:
    trigger = next(yaml.safe_load_all((KNATIVE / "base" / "eventing" / "triggers.yaml").read_text()))
    trigger["spec"]["subscirber"] = trigger["spec"].pop("subscriber")
    model = _knative_models()[("eventing.knative.dev/v1", "Trigger")]
    kept = model.model_validate(trigger).model_dump(by_alias=True, exclude_none=True, mode="json")
    assert _unknown_fields(trigger, kept) == [".spec.subscirber"]


def test_the_kustomization_renders_every_resource_into_the_namespace(rendered: list[dict[str, Any]]) -> None:
    kinds = {(doc["kind"], doc["metadata"]["name"]) for doc in rendered}
    assert {("Namespace", "rlarena"), ("Broker", "default"), ("PingSource", "matchmaker-tick")} <= kinds
    assert all(doc["metadata"].get("namespace") == "rlarena" for doc in rendered if doc["kind"] != "Namespace")


def test_core_kinds_validate_strictly_against_the_kubernetes_schemas(rendered: list[dict[str, Any]]) -> None:
    core = [doc for doc in rendered if doc["apiVersion"] == "v1"]
    assert core
    for doc in core:
        kubernetes_validate.validate(doc, "1.33.0", strict=True)


def test_the_overlays_are_dev_and_prod() -> None:
    assert OVERLAYS == ["dev", "prod"]


def _images(documents: list[dict[str, Any]]) -> set[str]:
    return {
        container["image"]
        for doc in documents
        for container in doc.get("spec", {}).get("template", {}).get("spec", {}).get("containers", [])
    }


def test_prod_runs_only_released_images_from_its_registry_and_keeps_the_api_warm() -> None:
    prod = _render(KNATIVE / "overlays" / "prod")
    images = _images(prod)
    assert len(images) == 8
    for image in images:
        registry = image.partition("/")[0]
        assert "." in registry and not image.endswith(":latest"), image
    annotations = {
        name: service["spec"]["template"]["metadata"]["annotations"]
        for name, service in _knative_services(prod).items()
    }
    for name in ("auth", "agents", "submissions", "matchmaker"):
        assert annotations[name]["autoscaling.knative.dev/min-scale"] == "1", name
    # Max-scale stays the base's: the PostgreSQL connection budget is counted from it.
    base = _knative_services(_render(KNATIVE))
    for name, service in base.items():
        if name != "executor":
            maximum = service["spec"]["template"]["metadata"]["annotations"]["autoscaling.knative.dev/max-scale"]
            assert annotations[name]["autoscaling.knative.dev/max-scale"] == maximum, name


def test_dev_lowers_scale_and_requests_but_keeps_one_relay() -> None:
    dev = _knative_services(_render(KNATIVE / "overlays" / "dev"))
    base = _knative_services(_render(KNATIVE))
    for name, service in dev.items():
        maximum = int(service["spec"]["template"]["metadata"]["annotations"]["autoscaling.knative.dev/max-scale"])
        assert maximum <= min(
            2, int(base[name]["spec"]["template"]["metadata"]["annotations"]["autoscaling.knative.dev/max-scale"])
        ), name
    assert dev["ws-relay"]["spec"]["template"]["metadata"]["annotations"]["autoscaling.knative.dev/min-scale"] == "1"
    assert dev["auth"]["spec"]["template"]["spec"]["containers"][0]["resources"]["requests"]["cpu"] == "50m"


def test_jobs_validate_strictly_against_the_kubernetes_schemas(rendered: list[dict[str, Any]]) -> None:
    jobs = [doc for doc in rendered if doc["apiVersion"] == "batch/v1"]
    assert [doc["metadata"]["name"] for doc in jobs] == ["migrate"]
    for doc in jobs:
        kubernetes_validate.validate(doc, "1.33.0", strict=True)


def test_the_migration_job_runs_rlarena_migrate_without_an_api_token(rendered: list[dict[str, Any]]) -> None:
    (job,) = [doc for doc in rendered if doc["kind"] == "Job"]
    pod = job["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["command"] == ["rlarena", "migrate"]
    assert pod["automountServiceAccountToken"] is False
    assert {"rlarena-config", "rlarena-secrets"} == {
        next(iter(source.values()))["name"] for source in container["envFrom"]
    }
    assert _subcommand_exists("migrate")


def _subcommand_exists(name: str) -> bool:
    """`rlarena <name> --help` is accepted by the CLI (argparse exits 0 on help, 2 on an unknown command)."""
    from rlarena.cli import main

    with pytest.raises(SystemExit) as exited:
        main([name, "--help"])
    return exited.value.code == 0


def _knative_services(rendered: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {
        doc["metadata"]["name"]: doc
        for doc in rendered
        if doc["apiVersion"] == "serving.knative.dev/v1" and doc["kind"] == "Service"
    }


def test_the_executor_serves_grpc_over_h2c_as_the_executor_account(rendered: list[dict[str, Any]]) -> None:
    executor = _knative_services(rendered)["executor"]
    pod = executor["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert pod["serviceAccountName"] == "executor"
    (port,) = container["ports"]
    assert port["name"] == "h2c"
    assert container["command"] == ["rlarena"]
    assert container["args"][:3] == ["executor", "--address", f"[::]:{port['containerPort']}"]
    assert _subcommand_exists("executor")
    # Never scaled to zero nor down: matches run in the background, unseen by the autoscaler.
    annotations = executor["spec"]["template"]["metadata"]["annotations"]
    assert annotations["autoscaling.knative.dev/min-scale"] == annotations["autoscaling.knative.dev/max-scale"]
    assert int(annotations["autoscaling.knative.dev/min-scale"]) >= 1


def test_the_sink_binding_gives_k_sink_to_exactly_the_services_that_publish(rendered: list[dict[str, Any]]) -> None:
    (binding,) = [doc for doc in rendered if doc["kind"] == "SinkBinding"]
    assert binding["spec"]["sink"]["ref"] == {
        "apiVersion": "eventing.knative.dev/v1",
        "kind": "Broker",
        "name": "default",
    }
    subject = binding["spec"]["subject"]
    assert (subject["apiVersion"], subject["kind"]) == ("serving.knative.dev/v1", "Service")
    selected = {
        name
        for name, service in _knative_services(rendered).items()
        if subject["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    }
    # Each publishes: submission.uploaded and storage events; build.*; match.scheduled/failed;
    # rating.updated; match.started/finished/failed. Auth, agents, dead-letters and the relay do not.
    assert selected == {
        "submissions",
        "submissions-storage",
        "builder",
        "builder-jobs",
        "matchmaker",
        "matchmaker-events",
        "ratings",
        "executor",
    }


def test_rbac_kinds_validate_strictly_against_the_kubernetes_schemas(rendered: list[dict[str, Any]]) -> None:
    rbac = [doc for doc in rendered if doc["apiVersion"] == "rbac.authorization.k8s.io/v1"]
    assert {doc["kind"] for doc in rbac} == {"Role", "RoleBinding"}
    for doc in rbac:
        kubernetes_validate.validate(doc, "1.33.0", strict=True)


def test_the_builder_may_only_run_jobs_and_read_their_pods(rendered: list[dict[str, Any]]) -> None:
    roles = {doc["metadata"]["name"]: doc for doc in rendered if doc["kind"] == "Role"}
    rules = {(tuple(r["apiGroups"]), tuple(r["resources"])): set(r["verbs"]) for r in roles["builder"]["rules"]}
    assert rules == {
        (("batch",), ("jobs",)): {"create", "get", "list", "delete"},
        (("",), ("pods",)): {"list"},
        (("",), ("pods/log",)): {"get"},
    }
    watcher = roles["build-jobs-source"]["rules"]
    assert watcher == [{"apiGroups": ["batch"], "resources": ["jobs"], "verbs": ["get", "list", "watch"]}]
    services = {doc["metadata"]["name"]: doc for doc in rendered if doc["kind"] == "Service"}
    for name in ("builder", "builder-jobs"):
        assert services[name]["spec"]["template"]["spec"]["serviceAccountName"] == "builder", name
    source = next(doc for doc in rendered if doc["kind"] == "ApiServerSource")
    assert source["spec"]["serviceAccountName"] == "build-jobs-source"
    bindings = {doc["metadata"]["name"]: doc for doc in rendered if doc["kind"] == "RoleBinding"}
    for name in ("builder", "build-jobs-source"):
        assert bindings[name]["subjects"] == [{"kind": "ServiceAccount", "name": name, "namespace": "rlarena"}]


def test_the_job_watcher_sends_what_its_trigger_accepts(rendered: list[dict[str, Any]]) -> None:
    source = next(doc for doc in rendered if doc["kind"] == "ApiServerSource")
    to_builder_jobs = {
        found.name: found for found in triggers(load_documents(KNATIVE)) if found.subscriber == "builder-jobs"
    }
    assert set(to_builder_jobs) == {"builder-job-updated", "builder-jobs-tick"}
    assert source["spec"]["mode"] == "Resource"
    assert to_builder_jobs["builder-job-updated"].filters == {
        "type": EventType.APISERVER_UPDATE.value,
        **source["spec"]["ceOverrides"]["extensions"],
    }
    # The PingSource's tick reaches the same service, which then reconciles the Jobs and the queue.
    assert to_builder_jobs["builder-jobs-tick"].filters == {"type": EventType.PING.value}
    (watched,) = source["spec"]["resources"]
    assert (watched["apiVersion"], watched["kind"]) == ("batch/v1", "Job")
    assert watched["selector"]["matchLabels"] == {"app.kubernetes.io/part-of": "rlarena"}
    (roles,) = watched["selector"]["matchExpressions"]
    assert set(roles["values"]) == {"build", "validate", "scan"}


def test_network_policies_validate_strictly_against_the_kubernetes_schemas(rendered: list[dict[str, Any]]) -> None:
    policies = [doc for doc in rendered if doc["apiVersion"] == "networking.k8s.io/v1"]
    assert {doc["metadata"]["name"] for doc in policies} >= {
        "build-pods-no-ingress",
        "validation-pods-no-egress",
        "kaniko-egress",
        "scan-egress",
    }
    for doc in policies:
        kubernetes_validate.validate(doc, "1.33.0", strict=True)


def test_knative_kinds_validate_against_the_knative_models(rendered: list[dict[str, Any]]) -> None:
    models = _knative_models()
    checked = 0
    for doc in rendered:
        model = models.get((doc["apiVersion"], doc["kind"]))
        if model is None:
            continue
        parsed = model.model_validate(doc)
        kept = parsed.model_dump(by_alias=True, exclude_none=True, mode="json")
        assert _unknown_fields(doc, kept) == [], f"{doc['kind']} {doc['metadata']['name']}"
        checked += 1
    assert checked >= 5


def test_every_trigger_filters_on_a_catalogued_type_and_reaches_a_served_service() -> None:
    documents = load_documents(KNATIVE)
    services = {doc["metadata"]["name"] for doc in documents if doc["kind"] == "Service"}
    catalogue = {t.value for t in EventType}
    for trigger in triggers(documents):
        assert trigger.filters.get("type") in catalogue, trigger.name
        assert trigger.subscriber in services, trigger.name
        assert trigger.subscriber in targets.EVENT_SERVICES, trigger.name


def test_every_route_backend_is_a_knative_service_with_a_local_target() -> None:
    documents = load_documents(KNATIVE)
    services = {doc["metadata"]["name"] for doc in documents if doc["kind"] == "Service"}
    backends = route_table(documents).backends()
    assert backends <= services
    assert backends == set(targets.HTTP_SERVICES)


def _decorated_functions(main: Path) -> dict[str, str]:
    """Function name -> functions-framework decorator kind ("http" or "cloud_event") in a main.py."""
    found = {}
    for node in ast.parse(main.read_text()).body:
        if isinstance(node, ast.FunctionDef):
            for decorator in node.decorator_list:
                if (
                    isinstance(decorator, ast.Attribute)
                    and isinstance(decorator.value, ast.Name)
                    and decorator.value.id == "functions_framework"
                ):
                    found[node.name] = decorator.attr
    return found


def test_every_knative_service_runs_a_target_its_function_defines() -> None:
    documents = load_documents(KNATIVE)
    for doc in documents:
        if doc["kind"] != "Service":
            continue
        name = doc["metadata"]["name"]
        if "rlarena.dev/function" not in doc["metadata"]["labels"]:
            # Not a function but a command of the rlarena CLI (the executor).
            container = doc["spec"]["template"]["spec"]["containers"][0]
            assert container["command"] == ["rlarena"], name
            assert _subcommand_exists(container["args"][0]), name
            continue
        env = {e["name"]: e["value"] for e in doc["spec"]["template"]["spec"]["containers"][0]["env"]}
        main = ROOT / "functions" / doc["metadata"]["labels"]["rlarena.dev/function"] / "main.py"
        defined = _decorated_functions(main)
        assert env["FUNCTION_TARGET"] in defined, name
        expected = "http" if name in targets.HTTP_SERVICES else "cloud_event"
        assert defined[env["FUNCTION_TARGET"]] == expected, name


def test_target_names_are_unique_across_functions() -> None:
    # functions-framework registers targets by function name: a clash would mix signature types.
    names = [n for main in (ROOT / "functions").glob("*/main.py") for n in _decorated_functions(main)]
    assert len(names) == len(set(names))


def test_the_pingsource_schedule_parses() -> None:
    from rlarena.platform.ping import CronSchedule

    for source in ping_sources(load_documents(KNATIVE)):
        CronSchedule.parse(source.schedule)
