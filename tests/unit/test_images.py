"""The container images, checked without a container engine: what the Dockerfiles copy exists and
reaches the build context, the final stages run as a non-root user without build tools, every
function and every image the manifests name is built, and `make images` / `make deploy` exist."""

from __future__ import annotations

import os
import re
import shlex
import stat
import subprocess
import sys
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

from rlarena.adapters.builders.kaniko_context import dockerfile
from rlarena.adapters.kubernetes_pods import AGENT_UID
from rlarena.config import Settings
from rlarena.platform.manifests import load_documents
from tests.conftest import ROOT

IMAGES = ROOT / "images"
BUILD_SCRIPT = IMAGES / "build.sh"
FUNCTIONS = sorted(path.parent.name for path in (ROOT / "functions").glob("*/main.py"))
BUILD_TOOLS = ("build-essential", "gcc", "g++", "make", "git")


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[tuple[str, str]] = field(default_factory=list)


def instructions(path: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, comments dropped and continued lines joined."""
    joined = re.sub(r"\\\n", " ", "\n".join(line for line in path.read_text().splitlines() if not line.startswith("#")))
    found = []
    for line in joined.splitlines():
        if line.strip():
            keyword, _, rest = line.strip().partition(" ")
            found.append((keyword.upper(), rest.strip()))
    return found


def stages(path: Path) -> list[Stage]:
    found: list[Stage] = []
    for keyword, rest in instructions(path):
        if keyword == "FROM":
            words = rest.split()
            found.append(Stage(base=words[0], name=words[2] if len(words) == 3 else None))
        elif found:
            found[-1].instructions.append((keyword, rest))
    return found


def copy_sources(rest: str, function: str) -> list[str]:
    """The local sources of a COPY or ADD (none when copied from another stage), ${FUNCTION} expanded."""
    words = shlex.split(rest.replace("${FUNCTION}", function))
    if any(word.startswith("--from=") for word in words):
        return []
    return [word for word in words if not word.startswith("--")][:-1]


def dockerfiles() -> list[Path]:
    return sorted(IMAGES.glob("*.Dockerfile"))


def dockerignore_allows(source: str) -> bool:
    """The context keeps `source`: .dockerignore excludes everything (`*`) and re-includes paths with `!`."""
    lines = [line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()]
    assert "*" in lines, "the .dockerignore is written as an allow-list"
    allowed = [line[1:].rstrip("/") for line in lines if line.startswith("!")]
    return any(source.rstrip("/") == path or source.startswith(f"{path}/") for path in allowed)


def run_build_script(path: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["/bin/sh", str(BUILD_SCRIPT)],
        env={"PATH": path, **env},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def fake_tool(directory: Path, name: str, body: str) -> None:
    tool = directory / name
    tool.write_text(f"#!/bin/sh\n{body}\n")
    tool.chmod(tool.stat().st_mode | stat.S_IXUSR)


@pytest.fixture
def bare_path(tmp_path: Path) -> Path:
    """A PATH with no container builder on it."""
    (tmp_path / "bin").mkdir()
    return tmp_path / "bin"


def test_there_is_a_dockerfile_for_functions_the_executor_and_the_agent_base() -> None:
    assert {path.name for path in dockerfiles()} >= {
        "function.Dockerfile",
        "executor.Dockerfile",
        "agent-base.Dockerfile",
    }


@pytest.mark.parametrize("function", FUNCTIONS)
def test_every_copy_source_of_the_function_image_exists_and_is_in_the_build_context(function: str) -> None:
    sources = [
        source
        for keyword, rest in instructions(IMAGES / "function.Dockerfile")
        if keyword in {"COPY", "ADD"}
        for source in copy_sources(rest, function)
    ]
    assert f"functions/{function}/requirements.txt" in sources
    assert f"functions/{function}/main.py" in sources
    for source in sources:
        assert (ROOT / source).exists(), source
        assert dockerignore_allows(source), source


@pytest.mark.parametrize("path", dockerfiles(), ids=lambda path: path.name)
def test_every_copy_source_exists_and_is_in_the_build_context(path: Path) -> None:
    for keyword, rest in instructions(path):
        if keyword in {"COPY", "ADD"}:
            for source in copy_sources(rest, FUNCTIONS[0]):
                assert (ROOT / source).exists(), source
                assert dockerignore_allows(source), source


def test_the_build_context_leaves_out_the_venv_tests_and_data() -> None:
    for path in (".venv", "tests", ".data", "docs", ".git", "bench"):
        assert not dockerignore_allows(path), path


@pytest.mark.parametrize("name", ["function.Dockerfile", "executor.Dockerfile"])
def test_the_final_stage_runs_as_a_non_root_user_without_build_tools(name: str) -> None:
    builder, final = stages(IMAGES / name)
    users = [rest for keyword, rest in final.instructions if keyword == "USER"]
    assert users, "the final stage sets a USER"
    assert users[-1].split(":")[0] not in {"root", "0"}
    final_text = " ".join(rest for _, rest in final.instructions)
    assert not [tool for tool in BUILD_TOOLS if re.search(rf"(?<![\w-]){re.escape(tool)}(?![\w-])", final_text)]
    # The builder is where the tools and the wheels are; the final stage takes the environment only.
    assert "build-essential" in " ".join(rest for _, rest in builder.instructions)
    copied = [rest for keyword, rest in final.instructions if keyword == "COPY" and "--from=" in rest]
    assert copied == [f"--from={builder.name} /opt/venv /opt/venv"]


@pytest.mark.parametrize(
    ("name", "requirements"),
    [("function.Dockerfile", "-r functions/${FUNCTION}/requirements.txt"), ("executor.Dockerfile", '"./shared[')],
)
def test_dependencies_are_resolved_against_the_constraints(name: str, requirements: str) -> None:
    builder = stages(IMAGES / name)[0]
    (wheels,) = [rest for keyword, rest in builder.instructions if keyword == "RUN" and "pip wheel" in rest]
    assert "-c constraints.txt" in wheels
    assert requirements in wheels


def test_the_executor_image_holds_the_games_and_grpc_and_runs_the_cli() -> None:
    builder, final = stages(IMAGES / "executor.Dockerfile")
    wheels = " ".join(rest for keyword, rest in builder.instructions if keyword == "RUN")
    assert re.search(r"\./shared\[[^\]]*games[^\]]*\]", wheels)
    assert re.search(r"\./shared\[[^\]]*grpc[^\]]*\]", wheels)
    assert ("ENTRYPOINT", '["rlarena"]') in final.instructions


def test_agent_images_built_from_the_agent_base_run_as_the_agent_user() -> None:
    # The base stays root so the generated pip step can install; the generated Dockerfile ends as the agent.
    (base,) = stages(IMAGES / "agent-base.Dockerfile")
    assert not [rest for keyword, rest in base.instructions if keyword == "USER"]
    generated = dockerfile("registry.example.com/rlarena/agent-base:1.0.0", "agent.py", has_requirements=True)
    users = [line.split()[1] for line in generated.splitlines() if line.startswith("USER ")]
    assert users[-1] == f"{AGENT_UID}:{AGENT_UID}"
    assert generated.index("RUN python -m pip install") < generated.index(f"USER {AGENT_UID}")
    # The user the agent runs as exists in the base, as does the second player's.
    created = " ".join(rest for keyword, rest in base.instructions if keyword == "RUN")
    assert str(AGENT_UID) in created and str(AGENT_UID + 1) in created


def test_make_images_builds_every_function_the_executor_and_the_agent_base(bare_path: Path) -> None:
    result = run_build_script(str(bare_path), CONTAINER_BUILDER="echo")

    assert result.returncode == 0, result.stderr
    built = {}
    for line in result.stdout.splitlines():
        if line.startswith("--tag"):
            words = line.split()
            built[words[1]] = words
    assert set(built) == {f"rlarena/{name}:latest" for name in [*FUNCTIONS, "executor", "agent-base"]}
    for name in FUNCTIONS:
        words = built[f"rlarena/{name}:latest"]
        assert words[words.index("--build-arg") + 1] == f"FUNCTION={name}"
        assert words[words.index("--file") + 1] == "images/function.Dockerfile"
        assert words[-1] == "."
    assert "images/executor.Dockerfile" in built["rlarena/executor:latest"]
    assert "images/agent-base.Dockerfile" in built["rlarena/agent-base:latest"]


def test_make_images_names_images_after_the_registry_and_tag(bare_path: Path) -> None:
    result = run_build_script(str(bare_path), CONTAINER_BUILDER="echo", REGISTRY="reg.example/rl", TAG="1.2.3")

    assert "--tag reg.example/rl/auth:1.2.3 " in result.stdout


def test_every_image_the_manifests_run_is_one_make_images_builds(bare_path: Path) -> None:
    built = {
        line.split()[1].split(":")[0]
        for line in run_build_script(str(bare_path), CONTAINER_BUILDER="echo").stdout.splitlines()
        if line.startswith("--tag")
    }
    used = set()
    for document in load_documents(ROOT / "knative" / "base"):
        template = document.get("spec", {}).get("template", {}).get("spec", {})
        used |= {container["image"].split(":")[0] for container in template.get("containers", [])}
    assert "rlarena/executor" in used
    assert used <= built
    assert Settings.model_fields["match_runner_image"].default.split(":")[0] in built


@pytest.mark.parametrize("overlay", ["dev", "prod"])
def test_each_overlay_points_the_image_settings_at_the_images_it_deploys(overlay: str) -> None:
    kustomization = yaml.safe_load((ROOT / "knative" / "overlays" / overlay / "kustomization.yaml").read_text())
    deployed = {image["newName"]: image["newTag"] for image in kustomization["images"]}
    rendered = subprocess.run(
        [str(Path(sys.executable).parent / "kubectl"), "kustomize", str(ROOT / "knative" / "overlays" / overlay)],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    (config,) = [doc for doc in yaml.safe_load_all(rendered) if doc and doc["kind"] == "ConfigMap"]
    runner_name, runner_tag = config["data"]["MATCH_RUNNER_IMAGE"].rsplit(":", 1)
    assert deployed[runner_name] == runner_tag
    base_name, base_tag = config["data"]["AGENT_BASE_IMAGE"].rsplit(":", 1)
    assert base_name.endswith("/agent-base") and base_tag == deployed[runner_name]
    assert {name.rsplit("/", 1)[1] for name in deployed} == {*FUNCTIONS, "executor"}


def test_make_images_without_a_builder_says_so_and_fails(bare_path: Path) -> None:
    result = run_build_script(str(bare_path))

    assert result.returncode != 0
    assert "no container builder found" in result.stderr
    assert result.stdout == ""


def test_a_docker_client_without_a_daemon_is_not_taken_for_a_builder(bare_path: Path) -> None:
    fake_tool(bare_path, "docker", 'echo "Cannot connect to the Docker daemon" >&2; exit 1')

    result = run_build_script(str(bare_path))

    assert result.returncode != 0
    assert "cannot reach a daemon" in result.stderr


def test_podman_is_used_when_docker_has_no_daemon(bare_path: Path, tmp_path: Path) -> None:
    log = tmp_path / f"calls-{uuid.uuid4().hex}"
    fake_tool(bare_path, "docker", "exit 1")
    fake_tool(bare_path, "podman", f'echo "$@" >> {log}')

    result = run_build_script(str(bare_path))

    assert result.returncode == 0, result.stderr
    calls = log.read_text().splitlines()
    assert len(calls) == len(FUNCTIONS) + 2
    assert all(call.startswith("build --tag rlarena/") for call in calls)


def test_the_makefile_has_images_and_deploy_targets() -> None:
    targets = {
        line.split(":")[0] for line in (ROOT / "Makefile").read_text().splitlines() if re.match(r"^[\w-]+:", line)
    }
    assert {"images", "deploy"} <= targets
    images = subprocess.run(["make", "-n", "images"], cwd=ROOT, capture_output=True, text=True, check=True)
    assert "images/build.sh" in images.stdout


def test_make_deploy_migrates_before_it_rolls_out_the_prod_overlay() -> None:
    result = subprocess.run(
        ["make", "-n", "deploy"], cwd=ROOT, capture_output=True, text=True, check=True, env={**os.environ}
    )
    steps = result.stdout.splitlines()
    first = next(i for i, step in enumerate(steps) if "apply -k knative/overlays/prod --selector" in step)
    wait = next(i for i, step in enumerate(steps) if "wait job/migrate" in step)
    full = next(i for i, step in enumerate(steps) if step.rstrip().endswith("apply -k knative/overlays/prod"))
    assert first < wait < full
    assert "'!rlarena.dev/function'" in steps[first]
