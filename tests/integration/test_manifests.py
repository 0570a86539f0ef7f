"""The Knative manifests: they render, validate against schemas, and agree with the code."""

from __future__ import annotations

import ast
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from pydantic import BaseModel

from rlarena.events.catalogue import EventType
from rlarena.events.manifests import load_documents, ping_sources, route_table, triggers
from rlarena.platform import targets
from tests.conftest import ROOT

KNATIVE = ROOT / "knative"
KUBECTL = Path(sys.executable).parent / "kubectl"


@pytest.fixture(scope="module")
def rendered() -> list[dict[str, Any]]:
    result = subprocess.run(
        [str(KUBECTL), "kustomize", str(KNATIVE)], capture_output=True, text=True, check=True, timeout=60
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


def test_rbac_kinds_validate_strictly_against_the_kubernetes_schemas(rendered: list[dict[str, Any]]) -> None:
    rbac = [doc for doc in rendered if doc["apiVersion"] == "rbac.authorization.k8s.io/v1"]
    assert {doc["kind"] for doc in rbac} == {"Role", "RoleBinding"}
    for doc in rbac:
        kubernetes_validate.validate(doc, "1.33.0", strict=True)


def test_the_builder_may_only_run_jobs_and_read_their_pods(rendered: list[dict[str, Any]]) -> None:
    roles = {doc["metadata"]["name"]: doc for doc in rendered if doc["kind"] == "Role"}
    rules = {(tuple(r["apiGroups"]), tuple(r["resources"])): set(r["verbs"]) for r in roles["builder"]["rules"]}
    assert rules == {
        (("batch",), ("jobs",)): {"create", "get", "list", "watch", "delete"},
        (("",), ("pods", "pods/log")): {"get", "list"},
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
    from rlarena.events.ping import CronSchedule

    for source in ping_sources(load_documents(KNATIVE)):
        CronSchedule.parse(source.schedule)
