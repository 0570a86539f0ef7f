"""The manifests around match Pods: the NetworkPolicy that cuts them off and the executor's RBAC."""

from __future__ import annotations

import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from rlarena.executor.kubernetes.jobs import match_labels
from tests.conftest import ROOT

KUBECTL = Path(sys.executable).parent / "kubectl"


@pytest.fixture(scope="module")
def rendered() -> list[dict[str, Any]]:
    result = subprocess.run(
        [str(KUBECTL), "kustomize", str(ROOT / "knative")], capture_output=True, text=True, check=True, timeout=60
    )
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def one(rendered: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    (found,) = [doc for doc in rendered if doc["kind"] == kind and doc["metadata"]["name"] == name]
    return found


def selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    if any(labels.get(key) != value for key, value in (selector.get("matchLabels") or {}).items()):
        return False
    for expression in selector.get("matchExpressions") or []:
        present = expression["key"] in labels
        inside = labels.get(expression["key"]) in expression.get("values", [])
        wanted = {"In": present and inside, "NotIn": not inside, "Exists": present, "DoesNotExist": not present}
        if not wanted[expression["operator"]]:
            return False
    return bool(selector)


def test_match_pods_may_not_connect_anywhere_nor_be_connected_to(rendered: list[dict[str, Any]]) -> None:
    policy = one(rendered, "NetworkPolicy", "match-pods-deny-all")
    kubernetes_validate.validate(policy, "1.33.0", strict=True)
    assert policy["metadata"]["namespace"] == "rlarena"
    assert sorted(policy["spec"]["policyTypes"]) == ["Egress", "Ingress"]
    assert "ingress" not in policy["spec"] and "egress" not in policy["spec"]  # no rule: nothing allowed
    pod_labels = {**match_labels(str(uuid.uuid4())), "app.kubernetes.io/part-of": "rlarena"}
    assert selects(policy["spec"]["podSelector"], pod_labels)
    assert not selects(policy["spec"]["podSelector"], {"app.kubernetes.io/part-of": "rlarena"})


def test_no_policy_opens_a_way_out_of_a_match_pod(rendered: list[dict[str, Any]]) -> None:
    # NetworkPolicies add up: another policy selecting match Pods with an egress rule would open it.
    pod_labels = {**match_labels(str(uuid.uuid4())), "app.kubernetes.io/part-of": "rlarena"}
    for policy in (doc for doc in rendered if doc["kind"] == "NetworkPolicy"):
        if selects(policy["spec"]["podSelector"], pod_labels):
            assert not policy["spec"].get("egress") and not policy["spec"].get("ingress"), policy["metadata"]["name"]


def test_the_executor_may_run_match_jobs_and_read_their_pods_and_nothing_else(rendered: list[dict[str, Any]]) -> None:
    account = one(rendered, "ServiceAccount", "executor")
    role = one(rendered, "Role", "executor")
    binding = one(rendered, "RoleBinding", "executor")
    for document in (account, role, binding):
        kubernetes_validate.validate(document, "1.33.0", strict=True)
    rules = {(tuple(r["apiGroups"]), tuple(r["resources"])): set(r["verbs"]) for r in role["rules"]}
    assert rules == {
        (("batch",), ("jobs",)): {"create", "get", "delete"},
        (("",), ("pods",)): {"list"},
        (("",), ("pods/log",)): {"get"},
    }
    assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "executor"}
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "executor", "namespace": "rlarena"}]
