"""The Jobs of a Kubernetes build, as kubernetes client models: Kaniko, then the validation probe and,
when TRIVY_ENABLED, the image scan beside it.

Pure: no API calls. Imported only by the Kaniko builder, which is only loaded when USE_K8S=true,
so the kubernetes client (about 0.3 s to import) never slows down any other function.

Kaniko builds the image inside its own container, and for that it must be root there: it unpacks
the base image's layers over its own filesystem with their owners and modes, and runs the
Dockerfile's RUN steps. So its container runs as uid 0 with a writable root filesystem; what can be
taken away is: every capability except the few that extracting and chowning files needs,
privilege escalation (no setuid binary is run; dropping to another user is not an escalation), the
service-account token, service links and any host namespace. The Dockerfile runs no user code
(see `kaniko_context.dockerfile`), and the validation Job that does run it is non-root. So is the
scan Job: Trivy reads the pushed image from the registry and never runs it.

Every Pod that runs agent code (the validation Job's here, the match Jobs' in
`executor/kubernetes/jobs.py`) is made by `kubernetes_pods.untrusted_pod_spec`, so both keep the
same promises.
"""

from __future__ import annotations

from kubernetes import client as k8s

from rlarena.adapters.builders.base import BuildTicket
from rlarena.adapters.builders.kaniko_context import (
    ENTRY_POINT_ANNOTATION,
    IMAGE_ANNOTATION,
    ROLE_BUILD,
    ROLE_SCAN,
    ROLE_VALIDATE,
    SCAN_JOB_ANNOTATION,
    context_key,
    image_reference,
    job_labels,
    job_name,
    probe_args,
)
from rlarena.adapters.kubernetes_pods import (
    AGENT_UID,
    UNTRUSTED_TMP_SIZE,
    agent_command,
    locked_down,
    untrusted_pod_spec,
)
from rlarena.config import Settings
from rlarena.errors import ConfigurationError

# Finished Jobs (and their Pods, hence their logs) stay this long: the reconciler must still see a
# Job whose event was missed, and the logs must still be there when the outcome is recorded.
JOB_TTL_SECONDS = 3600
VALIDATION_DEADLINE_SECONDS = 180
# The scan runs beside the validation, with the same deadline, so the build's own budget is unchanged.
SCAN_DEADLINE_SECONDS = VALIDATION_DEADLINE_SECONDS
# Trivy stops itself a little earlier, so a slow scan ends with Trivy's own message in the log.
SCAN_TIMEOUT_SECONDS = SCAN_DEADLINE_SECONDS - 20
SCANNER_UID = 65532
SCAN_DIR = "/scratch"  # Trivy's home, cache (the vulnerability database) and temporary files
SCAN_DOCKER_CONFIG_DIR = "/scanner/.docker"
MIN_KANIKO_DEADLINE_SECONDS = 60
DOCKER_CONFIG_DIR = "/kaniko/.docker"
S3_ACCESS_KEY_KEY = "access-key"
S3_SECRET_KEY_KEY = "secret-key"  # noqa: S105 - the name of a key in the Secret
KANIKO_CACHE_TTL = "24h"
# What extracting image layers needs as root: set owners (CHOWN), modes and times of files it
# does not own (FOWNER), keep setuid/setgid bits (FSETID), write into folders owned by others
# (DAC_OVERRIDE), file capabilities (SETFCAP), and switching to a base image's USER for a RUN step
# (SETUID, SETGID). The rest of the default set (NET_RAW, MKNOD, KILL, ...) is dropped.
KANIKO_CAPABILITIES = ["CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "SETFCAP", "SETGID", "SETUID"]
# Sizes: Kaniko holds the whole image filesystem and pip's work; the probe gets the local
# builder's probe limits (1 GiB, about a CPU).
KANIKO_REQUESTS = {"cpu": "500m", "memory": "1Gi", "ephemeral-storage": "2Gi"}
KANIKO_LIMITS = {"cpu": "2", "memory": "4Gi", "ephemeral-storage": "10Gi"}
VALIDATION_REQUESTS = {"cpu": "100m", "memory": "256Mi", "ephemeral-storage": "64Mi"}
VALIDATION_LIMITS = {"cpu": "1", "memory": "1Gi", "ephemeral-storage": "256Mi"}
# Trivy holds its vulnerability database (about 1 GiB unpacked) and reads the image's layers.
SCAN_REQUESTS = {"cpu": "250m", "memory": "512Mi", "ephemeral-storage": "1Gi"}
SCAN_LIMITS = {"cpu": "1", "memory": "2Gi", "ephemeral-storage": "3Gi"}
SCAN_SCRATCH_SIZE = "2Gi"


def kaniko_deadline_seconds(settings: Settings) -> int:
    """What is left of BUILD_TIMEOUT once the validation's own deadline is set aside.

    The queue presumes an attempt lost once BUILD_TIMEOUT has passed since it was claimed; build
    and validation together fit in it, so a slow but healthy build is never counted as lost.
    """
    total = int(settings.build_timeout.total_seconds())
    return max(MIN_KANIKO_DEADLINE_SECONDS, total - VALIDATION_DEADLINE_SECONDS)


def build_job_name(ticket: BuildTicket) -> str:
    return job_name(ROLE_BUILD, ticket.submission_id, ticket.version, ticket.attempt)


def validation_job_name(ticket: BuildTicket) -> str:
    return job_name(ROLE_VALIDATE, ticket.submission_id, ticket.version, ticket.attempt)


def scan_job_name(ticket: BuildTicket) -> str:
    return job_name(ROLE_SCAN, ticket.submission_id, ticket.version, ticket.attempt)


def trivy_image(settings: Settings) -> str:
    """TRIVY_IMAGE at TRIVY_VERSION: a tag (`0.70.0`), a pinned tag (`0.70.0@sha256:...`) or a digest."""
    version = settings.trivy_version
    separator = "@" if version.startswith("sha256:") else ":"
    return f"{settings.trivy_image}{separator}{version}"


def destination(settings: Settings, ticket: BuildTicket) -> str:
    return image_reference(settings.container_registry_url, ticket.agent_id, ticket.submission_id, ticket.version)


def cache_repo(settings: Settings) -> str:
    return settings.kaniko_cache_repo or f"{settings.container_registry_url.rstrip('/')}/cache"


def s3_endpoint_url(settings: Settings) -> str:
    if not settings.s3_endpoint:
        raise ConfigurationError("USE_K8S=true needs S3_ENDPOINT: Kaniko reads the build context from the bucket")
    scheme = "https" if settings.s3_secure else "http"
    return f"{scheme}://{settings.s3_endpoint}"


def kaniko_job(settings: Settings, ticket: BuildTicket, entry_point: str) -> k8s.V1Job:
    """The Job that builds and pushes the agent image from the context in the bucket."""
    name = build_job_name(ticket)
    image = destination(settings, ticket)
    labels = job_labels(ROLE_BUILD, ticket.submission_id, ticket.attempt)
    container = k8s.V1Container(
        name="kaniko",
        image=settings.kaniko_image,
        args=[
            "--dockerfile=Dockerfile",
            f"--context=s3://{settings.s3_bucket}/{context_key(ticket.submission_id, ticket.attempt)}",
            f"--destination={image}",
            "--cache=true",
            f"--cache-ttl={KANIKO_CACHE_TTL}",
            f"--cache-repo={cache_repo(settings)}",
        ],
        env=[
            # Kaniko's S3 client (the AWS SDK) reads these; the keys come from a Secret, never inline.
            k8s.V1EnvVar(name="S3_ENDPOINT", value=s3_endpoint_url(settings)),
            k8s.V1EnvVar(name="S3_FORCE_PATH_STYLE", value="true"),
            k8s.V1EnvVar(name="AWS_REGION", value=settings.s3_region),
            _secret_env("AWS_ACCESS_KEY_ID", settings.build_s3_secret, S3_ACCESS_KEY_KEY),
            _secret_env("AWS_SECRET_ACCESS_KEY", settings.build_s3_secret, S3_SECRET_KEY_KEY),
            k8s.V1EnvVar(name="DOCKER_CONFIG", value=DOCKER_CONFIG_DIR),
        ],
        volume_mounts=[k8s.V1VolumeMount(name="registry-credentials", mount_path=DOCKER_CONFIG_DIR, read_only=True)],
        resources=k8s.V1ResourceRequirements(requests=dict(KANIKO_REQUESTS), limits=dict(KANIKO_LIMITS)),
        security_context=k8s.V1SecurityContext(
            run_as_user=0,  # Kaniko cannot build as anyone else; see the module docstring
            run_as_non_root=False,
            privileged=False,
            allow_privilege_escalation=False,
            read_only_root_filesystem=False,
            capabilities=k8s.V1Capabilities(drop=["ALL"], add=list(KANIKO_CAPABILITIES)),
        ),
    )
    pod = _pod_spec(container, volumes=[_registry_credentials(settings, mode=0o400)])
    annotations = {IMAGE_ANNOTATION: image, ENTRY_POINT_ANNOTATION: entry_point}
    return _job(name, settings, labels, pod, deadline=kaniko_deadline_seconds(settings), annotations=annotations)


def validation_job(
    settings: Settings, ticket: BuildTicket, image: str, entry_point: str, *, scan_job: str | None = None
) -> k8s.V1Job:
    """The Job that runs the built image's probe: does the agent load, and through which interface?

    This runs the user's code, so it gets what a match Pod's agent gets (`untrusted_pod_spec`,
    `locked_down`): non-root, read-only filesystem but a small /tmp, no capabilities, no token, a
    process cap in its command. Egress is closed by a NetworkPolicy on `rlarena.dev/role: validate`.
    `scan_job` names the scan Job started beside it, whose verdict the attempt also waits for.
    """
    name = validation_job_name(ticket)
    labels = job_labels(ROLE_VALIDATE, ticket.submission_id, ticket.attempt)
    container = k8s.V1Container(
        name="probe",
        image=image,
        # A rebuild pushes the same tag again: never run a node's stale copy of an earlier attempt.
        image_pull_policy="Always",
        command=agent_command(settings.match_agent_max_processes),
        args=probe_args(entry_point),
        volume_mounts=[k8s.V1VolumeMount(name="tmp", mount_path="/tmp")],  # noqa: S108 - the container's own /tmp
        resources=k8s.V1ResourceRequirements(requests=dict(VALIDATION_REQUESTS), limits=dict(VALIDATION_LIMITS)),
        security_context=locked_down(AGENT_UID),
    )
    scratch = k8s.V1Volume(name="tmp", empty_dir=k8s.V1EmptyDirVolumeSource(size_limit=UNTRUSTED_TMP_SIZE))
    pod = untrusted_pod_spec(settings, containers=[container], volumes=[scratch], termination_grace_period_seconds=10)
    annotations = {SCAN_JOB_ANNOTATION: scan_job} if scan_job else None
    return _job(name, settings, labels, pod, deadline=VALIDATION_DEADLINE_SECONDS, annotations=annotations)


def scan_job(settings: Settings, ticket: BuildTicket, image: str) -> k8s.V1Job:
    """The Job that scans the pushed image with Trivy and prints its JSON report (read back from the log).

    `--exit-code=0`: findings are for the platform to judge (TRIVY_FAIL_ON_CRITICAL), so the Job
    fails only when the scan itself does. `--image-src=remote` reads the registry directly: there
    is no container engine to ask. Non-root, read-only root filesystem, no token, no capabilities.
    """
    name = scan_job_name(ticket)
    labels = job_labels(ROLE_SCAN, ticket.submission_id, ticket.attempt)
    container = k8s.V1Container(
        name="trivy",
        image=trivy_image(settings),
        args=[
            "image",
            "--format=json",
            "--scanners=vuln",
            "--image-src=remote",
            "--exit-code=0",
            "--no-progress",
            f"--timeout={SCAN_TIMEOUT_SECONDS}s",
            f"--cache-dir={SCAN_DIR}/cache",
            image,
        ],
        env=[
            k8s.V1EnvVar(name="HOME", value=SCAN_DIR),
            k8s.V1EnvVar(name="TMPDIR", value=SCAN_DIR),
            k8s.V1EnvVar(name="DOCKER_CONFIG", value=SCAN_DOCKER_CONFIG_DIR),
        ],
        volume_mounts=[
            k8s.V1VolumeMount(name="registry-credentials", mount_path=SCAN_DOCKER_CONFIG_DIR, read_only=True),
            k8s.V1VolumeMount(name="scratch", mount_path=SCAN_DIR),
        ],
        resources=k8s.V1ResourceRequirements(requests=dict(SCAN_REQUESTS), limits=dict(SCAN_LIMITS)),
        security_context=k8s.V1SecurityContext(
            run_as_user=SCANNER_UID,
            run_as_group=SCANNER_UID,
            run_as_non_root=True,
            privileged=False,
            allow_privilege_escalation=False,
            read_only_root_filesystem=True,
            capabilities=k8s.V1Capabilities(drop=["ALL"]),
        ),
    )
    scratch = k8s.V1Volume(name="scratch", empty_dir=k8s.V1EmptyDirVolumeSource(size_limit=SCAN_SCRATCH_SIZE))
    # Readable by the scanner's group only: the file belongs to root, fsGroup gives the group access.
    volumes = [_registry_credentials(settings, mode=0o440), scratch]
    pod = _pod_spec(container, volumes=volumes, fs_group=SCANNER_UID)
    return _job(name, settings, labels, pod, deadline=SCAN_DEADLINE_SECONDS, annotations={IMAGE_ANNOTATION: image})


def _registry_credentials(settings: Settings, *, mode: int) -> k8s.V1Volume:
    """The registry Secret's `.dockerconfigjson` as `config.json`, the name Docker's config format uses."""
    return k8s.V1Volume(
        name="registry-credentials",
        secret=k8s.V1SecretVolumeSource(
            secret_name=settings.container_registry_secret,
            items=[k8s.V1KeyToPath(key=".dockerconfigjson", path="config.json")],
            default_mode=mode,
        ),
    )


def _secret_env(name: str, secret: str, key: str) -> k8s.V1EnvVar:
    return k8s.V1EnvVar(
        name=name, value_from=k8s.V1EnvVarSource(secret_key_ref=k8s.V1SecretKeySelector(name=secret, key=key))
    )


def _pod_spec(
    container: k8s.V1Container,
    *,
    volumes: list[k8s.V1Volume],
    fs_group: int | None = None,
) -> k8s.V1PodSpec:
    return k8s.V1PodSpec(
        containers=[container],
        volumes=volumes,
        restart_policy="Never",
        automount_service_account_token=False,
        enable_service_links=False,
        termination_grace_period_seconds=10,
        security_context=k8s.V1PodSecurityContext(
            seccomp_profile=k8s.V1SeccompProfile(type="RuntimeDefault"), fs_group=fs_group
        ),
    )


def _job(
    name: str,
    settings: Settings,
    labels: dict[str, str],
    pod: k8s.V1PodSpec,
    *,
    deadline: int,
    annotations: dict[str, str] | None = None,
) -> k8s.V1Job:
    return k8s.V1Job(
        api_version="batch/v1",
        kind="Job",
        metadata=k8s.V1ObjectMeta(
            name=name, namespace=settings.k8s_namespace, labels=dict(labels), annotations=annotations
        ),
        spec=k8s.V1JobSpec(
            # Retries are the platform's (bounded, and counted per submission), never the Job's.
            backoff_limit=0,
            active_deadline_seconds=deadline,
            ttl_seconds_after_finished=JOB_TTL_SECONDS,
            template=k8s.V1PodTemplateSpec(metadata=k8s.V1ObjectMeta(labels=dict(labels)), spec=pod),
        ),
    )
