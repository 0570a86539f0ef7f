"""What the NetworkPolicies let each kind of build-side Pod reach, read from the rendered manifests.

Policies of one direction add up for the Pods they select, so the checks evaluate every policy
against a Pod's labels the way the network plugin does, instead of reading one policy at a time.
"""

from __future__ import annotations

import copy
import ipaddress
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from rlarena.adapters.builders.kaniko_context import ROLE_LABEL, ROLES, job_labels
from tests.conftest import ROOT

KUBECTL = Path(sys.executable).parent / "kubectl"
DNS = {"namespace": {"kubernetes.io/metadata.name": "kube-system"}, "pod": {"k8s-app": "kube-dns"}}
OBJECT_STORAGE = {"rlarena.dev/serves": "object-storage"}
REGISTRY = {"rlarena.dev/serves": "registry"}
PRIVATE = ["10.1.2.3", "172.20.0.1", "192.168.1.1", "169.254.169.254", "100.64.0.10", "127.0.0.1", "fd00::1"]
PUBLIC = ["151.101.0.223", "140.82.112.34", "2a04:4e42::223"]


@pytest.fixture(scope="module")
def policies() -> list[dict[str, Any]]:
    result = subprocess.run(
        [str(KUBECTL), "kustomize", str(ROOT / "knative")], capture_output=True, text=True, check=True, timeout=60
    )
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc and doc["kind"] == "NetworkPolicy"]


def selects(policy: dict[str, Any], labels: dict[str, str]) -> bool:
    selector = policy["spec"]["podSelector"]
    if any(labels.get(key) != value for key, value in selector.get("matchLabels", {}).items()):
        return False
    for expression in selector.get("matchExpressions", []):
        assert expression["operator"] == "In", "this evaluator knows only In"
        if labels.get(expression["key"]) not in expression["values"]:
            return False
    return True


def egress_rules(policies: list[dict[str, Any]], labels: dict[str, str]) -> list[dict[str, Any]] | None:
    """Every egress rule that applies to a Pod with `labels`; None when no policy restricts its egress."""
    restricting = [p for p in policies if selects(p, labels) and "Egress" in p["spec"]["policyTypes"]]
    if not restricting:
        return None
    return [rule for policy in restricting for rule in policy["spec"].get("egress", [])]


def ingress_restricted(policies: list[dict[str, Any]], labels: dict[str, str]) -> bool:
    applying = [p for p in policies if selects(p, labels) and "Ingress" in p["spec"]["policyTypes"]]
    return bool(applying) and not any(policy["spec"].get("ingress") for policy in applying)


def peers(rules: list[dict[str, Any]]) -> list[tuple[dict[str, Any], list[tuple[str, int]]]]:
    return [
        (peer, [(port["protocol"], port["port"]) for port in rule.get("ports", [])])
        for rule in rules
        for peer in rule.get("to", [])
    ]


def reaches_address(rules: list[dict[str, Any]], address: str, port: int) -> bool:
    ip = ipaddress.ip_address(address)
    for peer, ports in peers(rules):
        block = peer.get("ipBlock")
        if block is None or (ports and ("TCP", port) not in ports):
            continue
        network = ipaddress.ip_network(block["cidr"])
        if ip.version == network.version and ip in network:
            excluded = [ipaddress.ip_network(cidr) for cidr in block.get("except", [])]
            if not any(ip.version == net.version and ip in net for net in excluded):
                return True
    return False


def reaches_pods(rules: list[dict[str, Any]], pod_labels: dict[str, str], namespace: dict[str, str]) -> list[Any]:
    """The ports (empty: all) on which Pods with these labels, in a namespace with these labels, are reachable."""
    found = []
    for peer, ports in peers(rules):
        if "podSelector" not in peer:
            continue
        pod_match = peer["podSelector"].get("matchLabels", {})
        namespace_match = (peer.get("namespaceSelector") or {}).get("matchLabels", {})
        if "namespaceSelector" not in peer:
            continue  # same-namespace peers: none of ours are meant to be reached that way
        if all(pod_labels.get(k) == v for k, v in pod_match.items()) and all(
            namespace.get(k) == v for k, v in namespace_match.items()
        ):
            found.append(ports)
    return found


def pod(role: str) -> dict[str, str]:
    """The labels the builder puts on a Job's Pod (plus the ones the Job controller adds)."""
    return {**job_labels(role, uuid.uuid4(), 1), "job-name": f"{role}-x", "controller-uid": "u"}


def test_every_policy_validates_strictly_and_a_typo_would_be_caught(policies: list[dict[str, Any]]) -> None:
    assert len(policies) >= 4
    for policy in policies:
        kubernetes_validate.validate(policy, "1.33.0", strict=True)
    broken = copy.deepcopy(next(p for p in policies if p["metadata"]["name"] == "kaniko-egress"))
    broken["spec"]["egress"][0]["too"] = broken["spec"]["egress"][0].pop("to")
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, "1.33.0", strict=True)


def test_pods_that_run_user_code_get_no_network_at_all(policies: list[dict[str, Any]]) -> None:
    # The validation probe (here), and match Pods, whose agent containers run the built images.
    for labels in (pod("validate"), {ROLE_LABEL: "match", "app.kubernetes.io/part-of": "rlarena"}):
        assert egress_rules(policies, labels) == [], labels
        assert ingress_restricted(policies, labels), labels


def test_nothing_connects_to_build_validation_or_scan_pods(policies: list[dict[str, Any]]) -> None:
    for role in ROLES:
        assert ingress_restricted(policies, pod(role)), role


def test_kaniko_reaches_dns_object_storage_the_registry_and_public_https_only(policies: list[dict[str, Any]]) -> None:
    rules = egress_rules(policies, pod("build"))
    assert rules is not None
    assert reaches_pods(rules, DNS["pod"], DNS["namespace"]) == [[("UDP", 53), ("TCP", 53)]]
    assert reaches_pods(rules, OBJECT_STORAGE, {"kubernetes.io/metadata.name": "storage"}) == [[]]
    assert reaches_pods(rules, REGISTRY, {"kubernetes.io/metadata.name": "registry"}) == [[]]
    assert reaches_pods(rules, {"app": "postgres"}, {"kubernetes.io/metadata.name": "rlarena"}) == []
    for address in PUBLIC:
        assert reaches_address(rules, address, 443), address
        assert not reaches_address(rules, address, 22), address
    for address in PRIVATE:  # the API server, databases, other functions, cloud metadata
        assert not reaches_address(rules, address, 443), address


def test_the_scan_reaches_dns_the_registry_and_public_https_but_not_storage(policies: list[dict[str, Any]]) -> None:
    rules = egress_rules(policies, pod("scan"))
    assert rules is not None
    assert reaches_pods(rules, DNS["pod"], DNS["namespace"]) == [[("UDP", 53), ("TCP", 53)]]
    assert reaches_pods(rules, REGISTRY, {"kubernetes.io/metadata.name": "registry"}) == [[]]
    assert reaches_pods(rules, OBJECT_STORAGE, {"kubernetes.io/metadata.name": "storage"}) == []
    assert all(reaches_address(rules, address, 443) for address in PUBLIC)
    assert not any(reaches_address(rules, address, 443) for address in PRIVATE)


def test_the_platforms_own_pods_are_left_alone(policies: list[dict[str, Any]]) -> None:
    function = {"app.kubernetes.io/part-of": "rlarena", "serving.knative.dev/service": "submissions"}
    assert egress_rules(policies, function) is None
    assert not ingress_restricted(policies, function)


def test_the_policies_select_the_roles_the_builder_labels_its_jobs_with(policies: list[dict[str, Any]]) -> None:
    selected: set[str] = set()
    for policy in policies:
        selector = policy["spec"]["podSelector"]
        if ROLE_LABEL in selector.get("matchLabels", {}):
            selected.add(selector["matchLabels"][ROLE_LABEL])
        for expression in selector.get("matchExpressions", []):
            selected.update(expression["values"])
    assert selected >= set(ROLES)
