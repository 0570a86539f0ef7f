"""What every Pod that runs agent code shares, whoever creates it: the Kaniko builder's validation
Job (`adapters/builders/kaniko_jobs.py`) and the executor's match Jobs (`executor/kubernetes/jobs.py`).

The agent image's layout (where the runtime and the user's files are, the agents' uid, the
bootstrap its ENTRYPOINT runs), the labels every Job and Pod of ours carries, the command that
caps an agent's processes, and the Pod and container security settings.

Cheap to import: the names and the command are standard library only, and the kubernetes client
(about 0.3 s to import) is loaded only when a Pod spec is made, so the job event path, which reads
labels, never pays for it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kubernetes import client as k8s

    from rlarena.config import Settings

# Labels every Job and Pod of ours carries: the watcher, the reconciler and NetworkPolicies select on them.
PART_OF_LABEL = "app.kubernetes.io/part-of"
PART_OF = "rlarena"
ROLE_LABEL = "rlarena.dev/role"

RUNTIME_ROOT = "/opt/rlarena/runtime"
AGENT_DIR = "/agent"
AGENT_UID = 10001  # numeric, so no RUN step is needed to create a user and any base image works
# Every container that runs agent code has a /tmp of its own, of this size.
UNTRUSTED_TMP_SIZE = "64Mi"
# One bootstrap for every use of the image: the first argument names the runtime module to run.
IMAGE_BOOTSTRAP = (
    "import runpy, sys; "
    f"sys.path.insert(0, {RUNTIME_ROOT!r}); "
    # onnxruntime's sessions get one thread, as locally (the image's ENV sets the BLAS variables).
    "import rlarena.agent_runtime.threads as threads; threads.limit(); "
    "runpy.run_module(sys.argv.pop(1), run_name='__main__', alter_sys=True)"
)


def agent_command(max_processes: int) -> list[str]:
    """The image's ENTRYPOINT with limits set first, for the Pods that run agent code.

    Kubernetes has no per-container process limit, so the command sets RLIMIT_NPROC (processes and
    threads of the container's uid; lowered to the hard limit the runtime gave, never raised, so it
    cannot fail) and no core dumps, then runs the runtime module exactly as the ENTRYPOINT does.
    Only `python` and the runtime folder of the image are used, so images built before this
    command existed run it too.
    """
    if max_processes < 1:
        raise ValueError(f"max_processes must be positive, got {max_processes}")
    limits = (
        "import resource; "
        "_hard = resource.getrlimit(resource.RLIMIT_NPROC)[1]; "
        f"_cap = {max_processes} if _hard == resource.RLIM_INFINITY else min({max_processes}, _hard); "
        "resource.setrlimit(resource.RLIMIT_NPROC, (_cap, _cap)); "
        "resource.setrlimit(resource.RLIMIT_CORE, (0, 0)); "
        "del _hard, _cap; "
    )
    return ["python", "-I", "-c", limits + IMAGE_BOOTSTRAP]


def untrusted_pod_spec(
    settings: Settings,
    *,
    containers: list[k8s.V1Container],
    volumes: list[k8s.V1Volume],
    termination_grace_period_seconds: int,
    init_containers: list[k8s.V1Container] | None = None,
) -> k8s.V1PodSpec:
    """A Pod that runs agent code (a validation probe, a match's agents): the promises they share.

    No service-account token, no service links, no host namespace, no shared process namespace,
    non-root, seccomp RuntimeDefault, no fsGroup (so no group shared over the volumes), the
    registry Secret to pull the agent images. `MATCH_RUNTIME_CLASS` runs the Pod under that
    RuntimeClass (e.g. gVisor) and `MATCH_USER_NAMESPACES` in its own user namespace
    (`hostUsers: false`), each only when set: see "Match Pod security" in docs/DEPLOY.md.
    """
    from kubernetes import client as k8s

    return k8s.V1PodSpec(
        init_containers=init_containers,
        containers=containers,
        volumes=volumes,
        restart_policy="Never",
        automount_service_account_token=False,
        enable_service_links=False,
        share_process_namespace=False,
        host_network=False,
        host_pid=False,
        host_ipc=False,
        host_users=False if settings.match_user_namespaces else None,
        runtime_class_name=settings.match_runtime_class or None,
        termination_grace_period_seconds=termination_grace_period_seconds,
        image_pull_secrets=[k8s.V1LocalObjectReference(name=settings.container_registry_secret)],
        security_context=k8s.V1PodSecurityContext(
            run_as_non_root=True, seccomp_profile=k8s.V1SeccompProfile(type="RuntimeDefault")
        ),
    )


def locked_down(uid: int) -> k8s.V1SecurityContext:
    """A container that runs agent code (or sits beside it): its own uid and gid, nothing else."""
    from kubernetes import client as k8s

    return k8s.V1SecurityContext(
        run_as_user=uid,
        run_as_group=uid,
        run_as_non_root=True,
        privileged=False,
        allow_privilege_escalation=False,
        read_only_root_filesystem=True,
        capabilities=k8s.V1Capabilities(drop=["ALL"]),
    )
