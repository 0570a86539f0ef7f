"""What every Pod that runs agent code must promise, checked on its JSON (as sent to the API server).

Used on match Pods and validation Pods, as built (unit tests) and as stored by the emulated API
server (integration tests). `agents` names the containers that run agent code; the others (the
match runner) are the platform's own, and only have to keep the promises every container keeps.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rlarena.adapters.kubernetes_pods import agent_command

# Volume kinds an agent may mount: scratch space of its own. Never hostPath, a Secret, a projected
# token or a ConfigMap.
AGENT_VOLUME_KINDS = {"emptyDir"}
ALLOWED_SECCOMP = {"RuntimeDefault", "Localhost"}


def containers(pod: dict[str, Any]) -> list[dict[str, Any]]:
    return [*(pod.get("initContainers") or []), *pod["containers"]]


def writable_volumes(container: dict[str, Any]) -> set[str]:
    return {mount["name"] for mount in container.get("volumeMounts") or [] if not mount.get("readOnly")}


def assert_untrusted_pod(
    pod: dict[str, Any],
    agents: Sequence[str],
    *,
    max_processes: int,
    runtime_class: str | None = None,
    user_namespaces: bool = False,
) -> None:
    """Every promise of a Pod that runs agent code; `pod` is the Pod spec's JSON."""
    # The Pod: no token, no host namespace, no shared process namespace, non-root, seccomp.
    assert pod["automountServiceAccountToken"] is False
    assert pod["enableServiceLinks"] is False
    assert pod["shareProcessNamespace"] is False  # explicit, not the default
    assert (pod["hostNetwork"], pod["hostPID"], pod["hostIPC"]) == (False, False, False)
    assert pod["restartPolicy"] == "Never"
    security = pod["securityContext"]
    assert security["runAsNonRoot"] is True
    assert security["seccompProfile"]["type"] in ALLOWED_SECCOMP
    # A group given to every container (fsGroup, supplementalGroups) would be shared by both agents.
    assert not {"fsGroup", "supplementalGroups", "sysctls", "runAsUser", "runAsGroup"} & set(security), security
    assert "hostAliases" not in pod and "nodeName" not in pod
    # Optional layers: present exactly when set.
    if runtime_class:
        assert pod["runtimeClassName"] == runtime_class
    else:
        assert "runtimeClassName" not in pod
    if user_namespaces:
        assert pod["hostUsers"] is False
    else:
        assert "hostUsers" not in pod  # the default (the host's users): see docs/DEPLOY.md

    everyone = containers(pod)
    names = [container["name"] for container in everyone]
    assert set(agents) <= set(names) and len(set(names)) == len(names)
    uids, gids = [], []
    for container in everyone:
        name = container["name"]
        context = container["securityContext"]
        assert context["runAsNonRoot"] is True, name
        assert context["runAsUser"] > 0 and context["runAsGroup"] > 0, name
        assert context["privileged"] is False and context["allowPrivilegeEscalation"] is False, name
        assert context["readOnlyRootFilesystem"] is True, name
        assert context["capabilities"] == {"drop": ["ALL"]}, name
        assert context.get("seccompProfile", {"type": "RuntimeDefault"})["type"] in ALLOWED_SECCOMP, name
        assert "procMount" not in context and "windowsOptions" not in context, name
        assert "envFrom" not in container, name
        assert not any(port.get("hostPort") for port in container.get("ports") or []), name
        resources = container["resources"]
        assert {"cpu", "memory", "ephemeral-storage"} <= set(resources["limits"]), name
        assert {"memory", "ephemeral-storage"} <= set(resources["requests"]), name
        uids.append(context["runAsUser"])
        gids.append(context["runAsGroup"])
    # Each container its own uid and gid: no two share one, the agents least of all.
    assert len(set(uids)) == len(uids), dict(zip(names, uids, strict=True))
    assert len(set(gids)) == len(gids), dict(zip(names, gids, strict=True))

    volumes = {volume["name"]: volume for volume in pod.get("volumes") or []}
    by_name = {container["name"]: container for container in everyone}
    for agent in agents:
        container = by_name[agent]
        # The process cap, set by the command before the image's runtime starts.
        assert container["command"] == agent_command(max_processes), agent
        mounts = {mount["mountPath"]: mount["name"] for mount in container.get("volumeMounts") or []}
        assert "/tmp" in mounts, f"{agent} has no /tmp of its own"  # noqa: S108 - the container's own /tmp
        for name in mounts.values():
            kinds = set(volumes[name]) - {"name"}
            assert kinds <= AGENT_VOLUME_KINDS, (agent, name, kinds)
            assert volumes[name]["emptyDir"].get("sizeLimit"), (agent, name)
        # No volume an agent mounts is mounted by another agent, writable or not.
        for other in agents:
            if other != agent:
                shared = {m["name"] for m in container.get("volumeMounts") or []} & {
                    m["name"] for m in by_name[other].get("volumeMounts") or []
                }
                assert not shared, (agent, other, shared)
                assert not writable_volumes(container) & writable_volumes(by_name[other])
        if len(agents) > 1:
            # Without a volume of its own there, /dev/shm would be the Pod's, shared with the other agent.
            assert "/dev/shm" in mounts, agent  # noqa: S108 - the container's own /dev/shm
