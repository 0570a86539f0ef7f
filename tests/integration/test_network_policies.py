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

from rlarena.adapters.builders.kaniko_context import ROLES, job_labels
from rlarena.adapters.kubernetes_pods import ROLE_LABEL
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


# --- who may post to the Broker's ingress (issue 11: results come only from the platform) ----------

# The Broker ingress Pods of each class, where they run, as their controllers label them (Kafka and
# the MT broker share one ingress in knative-eventing; RabbitMQ runs one per Broker, beside it).
BROKER_INGRESSES = {
    "Kafka": ("knative-eventing", {"app": "kafka-broker-receiver", "app.kubernetes.io/name": "knative-eventing"}),
    "MTChannelBasedBroker": ("knative-eventing", {"eventing.knative.dev/brokerRole": "ingress"}),
    "RabbitMQBroker": (
        "rlarena",
        {"eventing.knative.dev/broker": "default", "eventing.knative.dev/brokerRole": "ingress"},
    ),
}
APISERVER_SOURCE_ADAPTER = {
    "eventing.knative.dev/source": "apiserver-source-controller",
    "eventing.knative.dev/sourceName": "build-jobs",
}
PING_SOURCE_ADAPTER = {"app.kubernetes.io/component": "pingsource-mt-adapter", "sources.knative.dev/role": "adapter"}


@pytest.fixture(scope="module")
def eventing_system() -> list[dict[str, Any]]:
    result = subprocess.run(
        [str(KUBECTL), "kustomize", str(ROOT / "knative" / "eventing-system")],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def knative_pod(service: str) -> dict[str, str]:
    """The labels Knative Serving puts on a Revision's Pods."""
    return {
        "serving.knative.dev/service": service,
        "serving.knative.dev/configuration": service,
        "serving.knative.dev/revision": f"{service}-00001",
    }


def selector_matches(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    """A LabelSelector as the API server evaluates it ({} selects everything)."""
    if any(labels.get(key) != value for key, value in (selector.get("matchLabels") or {}).items()):
        return False
    for expression in selector.get("matchExpressions") or []:
        key, operator, values = expression["key"], expression["operator"], expression.get("values") or []
        ok = {
            "In": key in labels and labels[key] in values,
            "NotIn": key not in labels or labels[key] not in values,
            "Exists": key in labels,
            "DoesNotExist": key not in labels,
        }[operator]
        if not ok:
            return False
    return True


def admits(
    policies: list[dict[str, Any]],
    target: tuple[str, dict[str, str]],
    source: tuple[str, dict[str, str]],
    port: int,
) -> bool:
    """Whether a connection from `source` (namespace, Pod labels) to `target` on TCP `port` is let in.

    Ingress policies add up: a Pod no ingress policy selects takes anything; a selected Pod takes
    what at least one rule of one selecting policy allows. A peer with only a podSelector means the
    target's own namespace; a namespaceSelector alone means every Pod of the matching namespaces.
    """
    namespace, labels = target
    applying = [
        policy
        for policy in policies
        if policy["metadata"]["namespace"] == namespace
        and "Ingress" in policy["spec"]["policyTypes"]
        and selector_matches(policy["spec"]["podSelector"], labels)
    ]
    if not applying:
        return True
    source_namespace, source_labels = source
    for policy in applying:
        for rule in policy["spec"].get("ingress") or []:
            ports = rule.get("ports")
            if ports and not any(p.get("protocol", "TCP") == "TCP" and p["port"] == port for p in ports):
                continue
            peers = rule.get("from")
            if peers is None:
                return True
            for peer in peers:
                if "namespaceSelector" in peer:
                    in_namespace = selector_matches(
                        peer["namespaceSelector"], {"kubernetes.io/metadata.name": source_namespace}
                    )
                else:
                    in_namespace = source_namespace == namespace
                if in_namespace and selector_matches(peer.get("podSelector") or {}, source_labels):
                    return True
    return False


def test_the_broker_ingress_policies_validate_strictly_and_land_where_the_ingresses_run(
    policies: list[dict[str, Any]], eventing_system: list[dict[str, Any]]
) -> None:
    assert {doc["kind"] for doc in eventing_system} == {"NetworkPolicy"}
    assert {doc["metadata"]["namespace"] for doc in eventing_system} == {"knative-eventing"}
    base = [p for p in policies if p["metadata"]["name"] == "broker-ingress-from-the-platform-only"]
    assert [p["metadata"]["namespace"] for p in base] == ["rlarena"]
    for policy in [*base, *eventing_system]:
        kubernetes_validate.validate(policy, "1.33.0", strict=True)


@pytest.mark.parametrize("broker_class", sorted(BROKER_INGRESSES))
def test_only_the_platforms_publishers_may_post_to_the_broker_ingress(
    policies: list[dict[str, Any]], eventing_system: list[dict[str, Any]], broker_class: str
) -> None:
    everything = [*policies, *eventing_system]
    ingress = BROKER_INGRESSES[broker_class]
    allowed = {
        "executor": ("rlarena", knative_pod("executor")),
        "ratings": ("rlarena", knative_pod("ratings")),
        "submissions": ("rlarena", knative_pod("submissions")),
        "matchmaker-events": ("rlarena", knative_pod("matchmaker-events")),
        "the ApiServerSource adapter": ("rlarena", APISERVER_SOURCE_ADAPTER),
        "the PingSource adapter": ("knative-eventing", PING_SOURCE_ADAPTER),
    }
    refused = {
        # Pods that run users' code, with exactly the labels the builder and executor give them.
        "a match Pod": ("rlarena", {ROLE_LABEL: "match", "app.kubernetes.io/part-of": "rlarena"}),
        **{f"a {role} Pod": ("rlarena", pod(role)) for role in ROLES},
        # Functions that publish nothing have no business there either.
        "auth": ("rlarena", knative_pod("auth")),
        "ws-relay": ("rlarena", knative_pod("ws-relay")),
        # A look-alike in another namespace, and anything else in the cluster.
        "a 'ratings' Pod of another namespace": ("intruder", knative_pod("ratings")),
        "an adapter look-alike of another namespace": ("intruder", APISERVER_SOURCE_ADAPTER),
        "an unlabelled Pod": ("default", {}),
    }
    for port in (8080, 8443):
        for name, source in allowed.items():
            assert admits(everything, ingress, source, port), f"{broker_class}: {name} is cut off on {port}"
        for name, source in refused.items():
            assert not admits(everything, ingress, source, port), f"{broker_class}: {name} may post on {port}"
    # Read-only metrics stay reachable for monitoring wherever it runs.
    assert admits(everything, ingress, ("monitoring", {"app": "prometheus"}), 9090)
    # Without the policies the attack is open: the evaluator is not simply refusing everything.
    assert admits([], ingress, refused["a match Pod"], 8080)
