"""What a Kaniko build is made of: names, labels, the image's Dockerfile and the build context.

Standard library only and free of I/O, so it is cheap to import and easy to test. The Kubernetes
objects that use these pieces are in `kaniko_jobs.py`; the image layout and labels it shares with
the match Pods are in `adapters/kubernetes_pods.py`.

The agent image has three layers of ours around the user's files:

    /opt/rlarena/runtime/rlarena/agent_runtime/*.py   the platform's stdlib-only agent runtime
    /agent/...                                        the user's files, read-only to the agent
    ENTRYPOINT python -I -c <bootstrap> <module> ...  runs a runtime module (the probe by default)

The bootstrap puts the runtime on sys.path itself because `-I` (isolated mode) ignores PYTHONPATH;
PYTHONPATH is still set for tools that run the image without `-I`.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import rlarena.agent_runtime as agent_runtime_package
from rlarena.adapters.kubernetes_pods import (
    AGENT_DIR,
    AGENT_UID,
    IMAGE_BOOTSTRAP,
    PART_OF,
    PART_OF_LABEL,
    ROLE_LABEL,
    RUNTIME_ROOT,
)
from rlarena.domain.archives import AgentSource, pack_tar_gz

# Labels of ours beside the shared ones (`kubernetes_pods.PART_OF_LABEL`, `ROLE_LABEL`).
SUBMISSION_LABEL = "rlarena.dev/submission"
ATTEMPT_LABEL = "rlarena.dev/attempt"
ROLE_BUILD = "build"
ROLE_VALIDATE = "validate"
ROLE_SCAN = "scan"
ROLES = (ROLE_BUILD, ROLE_VALIDATE, ROLE_SCAN)
# Annotations on the build Job: what the validation Job needs, carried by the Job itself (and so by
# every event about it) rather than recomputed from settings that may have changed in between.
IMAGE_ANNOTATION = "rlarena.dev/image"
ENTRY_POINT_ANNOTATION = "rlarena.dev/entry-point"
# On the validation Job: the image scan Job started beside it, whose verdict the attempt waits for.
SCAN_JOB_ANNOTATION = "rlarena.dev/scan-job"

PROBE_MODULE = "rlarena.agent_runtime.probe"
# Printed by the pip step when it fails: tells the user's broken requirements.txt apart from an
# infrastructure failure (registry, storage) in Kaniko's log, whatever Kaniko's own wording.
REQUIREMENTS_FAILED_MARKER = "RLARENA-REQUIREMENTS-FAILED"

_MAX_NAME = 63  # a DNS-1123 label, which Job names must be for their Pods' names to derive from them
_NOT_DNS = re.compile(r"[^a-z0-9-]+")
_DIRECT_REFERENCE = re.compile(r"^[^;]*@")  # PEP 508 `name @ url`: an @ before any environment marker
_RUNTIME_INIT = '"""The agent runtime, as agents see it."""\n'


@dataclass(frozen=True)
class JobKey:
    """Which build attempt a Job belongs to and what it does, as read back from its labels."""

    submission_id: uuid.UUID
    attempt: int
    role: str


def job_name(role: str, submission_id: uuid.UUID, version: int, attempt: int) -> str:
    """`<role>-<submission hex>-v<version>-a<attempt>`: one name per attempt, so a redelivered
    request collides (409) and a rebuild, being a new attempt, never does.

    The whole id is used, not a prefix: two submissions sharing a prefix would otherwise share a
    name, and the second build would be taken for the first one already running.
    """
    raw = _NOT_DNS.sub("-", f"{role}-{submission_id.hex}-v{version}-a{attempt}".lower()).strip("-")
    if len(raw) <= _MAX_NAME:
        return raw
    digest = hashlib.sha256(raw.encode()).hexdigest()[:10]
    return f"{raw[: _MAX_NAME - len(digest) - 1].rstrip('-')}-{digest}"


def job_labels(role: str, submission_id: uuid.UUID, attempt: int) -> dict[str, str]:
    return {
        PART_OF_LABEL: PART_OF,
        ROLE_LABEL: role,
        SUBMISSION_LABEL: str(submission_id),
        ATTEMPT_LABEL: str(attempt),
    }


def our_jobs_selector() -> str:
    return f"{PART_OF_LABEL}={PART_OF},{ROLE_LABEL} in ({','.join(ROLES)})"


def job_key(labels: Mapping[str, object]) -> JobKey | None:
    """The attempt a Job's labels name, or None for anything that is not one of our Jobs."""
    if labels.get(PART_OF_LABEL) != PART_OF or labels.get(ROLE_LABEL) not in ROLES:
        return None
    try:
        submission_id = uuid.UUID(str(labels.get(SUBMISSION_LABEL)))
        attempt = int(str(labels.get(ATTEMPT_LABEL)))
    except ValueError:
        return None
    return JobKey(submission_id, attempt, str(labels[ROLE_LABEL]))


def context_key(submission_id: uuid.UUID, attempt: int) -> str:
    return f"builds/{submission_id}/attempt-{attempt}/context.tar.gz"


def image_reference(registry: str, agent_id: uuid.UUID, submission_id: uuid.UUID, version: int) -> str:
    """`<registry>/<agentId>:<submissionId>-v<version>`: one repository per agent, one tag per version."""
    return f"{registry.rstrip('/')}/{agent_id}:{submission_id}-v{version}"


def probe_args(entry_point: str) -> list[str]:
    """The arguments after the image's ENTRYPOINT that load the agent and report its interface."""
    return [PROBE_MODULE, AGENT_DIR, entry_point]


def requirement_problems(requirements: list[str]) -> list[str]:
    """Lines of requirements.txt that the image build refuses, with why.

    Only names and versions from the package index: an option line (`--index-url`, `-r`, `-e`) or a
    direct URL would make the build fetch from wherever the user says, from inside the cluster.
    """
    problems = []
    for line in requirements:
        options = [word for word in line.split()[1:] if word.startswith("-") and not word.startswith("--hash")]
        if line.startswith("-") or options:
            problems.append(f"{line!r}: pip options are not supported")
        elif "://" in line or _DIRECT_REFERENCE.search(line):
            problems.append(f"{line!r}: direct URLs are not supported")
    return problems


def dockerfile(base_image: str, entry_point: str, *, has_requirements: bool) -> str:
    """The agent image's Dockerfile. Exec-form JSON arrays keep any file name a single argument."""
    lines = [
        "# Generated by RL Arena (rlarena/adapters/builders/kaniko_context.py) for one agent submission.",
        f"FROM {base_image}",
        "ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 "
        f"PYTHONPATH={RUNTIME_ROOT} PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1",
    ]
    if has_requirements:
        # Requirements first and alone: Kaniko's layer cache then reuses the installed packages for
        # every later version of the agent whose requirements.txt did not change. Wheels only: a
        # source distribution runs its own setup code, and this step runs in the Kaniko container,
        # which holds the registry's push credentials.
        lines += [
            "COPY agent/requirements.txt /tmp/rlarena-requirements.txt",
            "RUN python -m pip install --no-cache-dir --only-binary=:all: --root-user-action=ignore "
            "-r /tmp/rlarena-requirements.txt "
            f"|| {{ echo {REQUIREMENTS_FAILED_MARKER} >&2; exit 1; }}; "
            "rm -f /tmp/rlarena-requirements.txt",
        ]
    lines += [
        f"COPY rlarena/ {RUNTIME_ROOT}/rlarena/",
        f"COPY agent/ {AGENT_DIR}/",
        f"WORKDIR {AGENT_DIR}",
        f"USER {AGENT_UID}:{AGENT_UID}",
        f"ENTRYPOINT {json.dumps(['python', '-I', '-c', IMAGE_BOOTSTRAP])}",
        f"CMD {json.dumps(probe_args(entry_point))}",
    ]
    return "\n".join(lines) + "\n"


def runtime_files() -> dict[str, bytes]:
    """The agent runtime package as `install_runtime` lays it out: rlarena/agent_runtime/*.py."""
    source = Path(agent_runtime_package.__file__).parent
    files = {"rlarena/__init__.py": _RUNTIME_INIT.encode()}
    for module in sorted(source.glob("*.py")):
        files[f"rlarena/agent_runtime/{module.name}"] = module.read_bytes()
    return files


def context_files(source: AgentSource, base_image: str) -> dict[str, bytes]:
    """Dockerfile at the top, the runtime under rlarena/, the user's files under agent/."""
    recipe = dockerfile(base_image, source.entry_point, has_requirements=bool(source.requirements))
    files = {"Dockerfile": recipe.encode(), **runtime_files()}
    files.update({f"agent/{path}": content for path, content in source.files.items()})
    return files


def build_context(source: AgentSource, base_image: str) -> bytes:
    """The build context Kaniko downloads: a reproducible tar.gz (same code, same bytes)."""
    return pack_tar_gz(context_files(source, base_image))
