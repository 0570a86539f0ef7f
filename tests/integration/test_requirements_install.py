"""requirements.txt on the local platform: wheels only, from the real package index (PyPI), in the
sandboxed install step; cached by content; a size budget; errors that name the package; and in
the probe and in matches the installed packages are read-only and the network is still closed.

Only the install step reaches the network: the tests use one tiny pure-Python wheel (tabulate,
pinned), and the failures stop at pip's resolution, so PyPI is asked little. The database plays no
part in installing packages: these tests run on SQLite only.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from rlarena.adapters.builders.local import LocalBuilder
from rlarena.bootstrap import Platform, bootstrap
from rlarena.domain.statuses import SubmissionStatus
from rlarena.events.publisher import RecordingPublisher
from rlarena.executor.runner import OK, AgentSpec, run_match
from rlarena.sandbox.agent_venv import listed
from rlarena.sandbox.installed_packages import MARKER, packages_of
from tests.conftest import make_settings
from tests.support.api import ApiClient, User
from tests.support.author_cli import rlarena
from tests.support.builds import agent_for, build

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the strict sandbox's pool uids and cgroups need root")

WHEEL = "tabulate==0.9.0"  # a small pure-Python wheel, stable for years
SDIST_ONLY = "docopt==0.6.2"  # published as a source distribution only
UNKNOWN = "rlarena-no-such-package-7d1e4c90"
CHECKS = b"""
import errno, json, os, socket, sys
import tabulate

def _checks(where):
    packages = os.path.dirname(os.path.dirname(tabulate.__file__))
    found = {"where": where, "version": tabulate.__version__, "packages": packages}
    for name, path in (("write module", os.path.join(os.path.dirname(tabulate.__file__), "owned.py")),
                       ("write folder", os.path.join(packages, "owned.txt"))):
        try:
            with open(path, "w") as handle:
                handle.write("owned")
            found[name] = "written"
        except OSError as error:
            found[name] = errno.errorcode.get(error.errno, str(error.errno))
    try:
        socket.create_connection(("151.101.0.223", 443), timeout=3).close()  # pypi.org
        found["network"] = "connected"
    except OSError as error:
        found["network"] = type(error).__name__ + ":" + errno.errorcode.get(error.errno or 0, "?")
    print("CHECKS " + json.dumps(found), file=sys.stderr, flush=True)

_checks("import")

def agent(observation, configuration):
    return observation["action_mask"].index(1)
"""
GOOD = b"def agent(observation, configuration):\n    return observation['action_mask'].index(1)\n"


@pytest.fixture(scope="module")
def package_cache() -> Iterator[Path]:
    """One cache for the module (sandboxes must reach it: not under pytest's 0700 tmp folder)."""
    folder = Path(tempfile.mkdtemp(prefix="rlarena-test-packages-"))
    folder.chmod(0o755)
    yield folder / "cache"
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def database_url(sqlite_databases: Any, tmp_path: Path) -> Iterator[str]:
    url = str(sqlite_databases.create(tmp_path))
    yield url
    sqlite_databases.drop(url)


@pytest.fixture
def settings_overrides(package_cache: Path) -> dict[str, object]:
    return {
        "REQUIREMENTS_CACHE_DIR": package_cache,
        "SUBMISSIONS_PER_AGENT_PER_DAY": 50,
        "SUBMISSION_RATE_LIMIT_PER_MINUTE": 1000,
    }


@pytest.fixture
def owner(api: ApiClient) -> User:
    return api.register("author")


def checks_in(text: str) -> list[dict[str, Any]]:
    return [json.loads(line.split("CHECKS ", 1)[1]) for line in text.splitlines() if "CHECKS {" in line]


def built_folder(image_url: str | None) -> Path:
    assert image_url is not None and image_url.startswith("local://")
    return Path(image_url.removeprefix("local://"))


def test_a_wheel_installs_and_the_agent_imports_it_read_only_and_offline(
    platform: Platform, api: ApiClient, owner: User
) -> None:
    agent_id = agent_for(api, owner, "tic-tac-toe")
    built = build(platform, owner, agent_id, {"agent.py": CHECKS, "requirements.txt": f"{WHEEL}\n".encode()})
    assert built.status == SubmissionStatus.ACTIVE.value, built.error_message
    packages = packages_of(built_folder(built.docker_image_url))
    assert packages is not None and (packages / "tabulate").is_dir()
    assert packages.parent == platform.settings.resolved_requirements_cache_dir
    # The probe imported it offline, and could not write it.
    probe = checks_in(built.build_log or "")[0]
    assert probe["version"] == "0.9.0" and probe["packages"] == str(packages)
    assert probe["write module"] == "EROFS" and probe["write folder"] == "EROFS"
    assert probe["network"].startswith("OSError:") and probe["network"] != "connected", probe

    builder = platform.builder
    assert isinstance(builder, LocalBuilder)
    folder = built_folder(built.docker_image_url)
    played = run_match(
        "tic-tac-toe", [AgentSpec("a", folder, "agent.py"), AgentSpec("b", folder, "agent.py")], 7, builder.runtime
    )
    assert [result.status for result in played.agent_results] == [OK, OK], played.error_message
    for result in played.agent_results:
        (seen,) = checks_in(result.stderr)
        assert seen == {**probe, "where": "import"}, seen  # the same read-only install, the same closed network
    assert not (packages / "tabulate" / "owned.py").exists() and not (packages / "owned.txt").exists()


def test_the_same_requirements_reuse_the_install(platform: Platform, api: ApiClient, owner: User) -> None:
    spelled = [f"{WHEEL}\n", "# the same, spelled otherwise\nTabulate == 0.9.0\n"]
    folders = []
    for number, requirements in enumerate(spelled):
        agent_id = agent_for(api, owner, "tic-tac-toe") if number == 0 else api_agent(api, owner)
        built = build(platform, owner, agent_id, {"agent.py": GOOD, "requirements.txt": requirements.encode()})
        assert built.status == SubmissionStatus.ACTIVE.value, built.error_message
        folders.append(packages_of(built_folder(built.docker_image_url)))
    assert "reusing the packages installed before" in (built.build_log or ""), built.build_log
    assert folders[0] is not None and folders[0] == folders[1]


def api_agent(api: ApiClient, owner: User) -> uuid.UUID:
    return uuid.UUID(str(api.create_agent(owner, "second-bot", "tic-tac-toe")["id"]))


NO_MATCH = "No matching distribution found"  # pip's own words, kept in the build log


@pytest.mark.parametrize(
    ("requirements", "words", "pip_says"),
    [
        (SDIST_ONLY, ["'docopt' 0.6.2 has only source distributions", "wheels only"], NO_MATCH),
        (f"{UNKNOWN}==1.0", [f"no package named '{UNKNOWN}'"], NO_MATCH),
        ("pyyaml==5.3", ["no wheel of 'pyyaml' 5.3 fits the agent runtime", "win_amd64"], NO_MATCH),
        (f"{WHEEL}\ntabulate==0.8.10", ["conflict: tabulate==0.8.10 and tabulate==0.9.0"], "ResolutionImpossible"),
    ],
)
def test_a_package_that_cannot_be_installed_is_named(
    platform: Platform, api: ApiClient, owner: User, requirements: str, words: list[str], pip_says: str
) -> None:
    agent_id = agent_for(api, owner, "tic-tac-toe")
    built = build(platform, owner, agent_id, {"agent.py": GOOD, "requirements.txt": f"{requirements}\n".encode()})
    assert built.status == SubmissionStatus.FAILED.value
    for word in words:
        assert word in (built.error_message or ""), built.error_message
    assert (built.error_message or "-") in (built.build_log or "")
    assert pip_says in (built.build_log or "")


def test_the_size_budget_refuses_an_install_too_large(
    package_cache: Path, api: ApiClient, owner: User, database_url: str, tmp_path: Path
) -> None:
    # The same database, a platform whose budget is 1 KiB.
    settings = make_settings(
        tmp_path / "small", database_url, REQUIREMENTS_CACHE_DIR=package_cache, REQUIREMENTS_MAX_BYTES=1024
    )
    small = bootstrap(settings, publisher=RecordingPublisher())
    agent_id = agent_for(api, owner, "tic-tac-toe")
    built = build(small, owner, agent_id, {"agent.py": GOOD, "requirements.txt": f"{WHEEL}\n".encode()})
    assert built.status == SubmissionStatus.FAILED.value
    message = built.error_message or ""
    assert "more than the budget of 0.0 MB (REQUIREMENTS_MAX_BYTES)" in message and "tabulate" in message, message


def test_an_upload_cannot_name_installed_packages_itself(platform: Platform, api: ApiClient, owner: User) -> None:
    agent_id = agent_for(api, owner, "tic-tac-toe")
    built = build(platform, owner, agent_id, {"agent.py": GOOD, MARKER: b"/usr/lib/python3\n"})
    assert built.status == SubmissionStatus.FAILED.value
    assert f"the file name {MARKER} is reserved" in (built.error_message or "")


def test_validate_and_play_install_requirements_as_the_builder_does(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # As an author runs them: in the project's folder, with no DATA_DIR or cache folder set.
    monkeypatch.delenv("REQUIREMENTS_CACHE_DIR", raising=False)
    monkeypatch.delenv("DATA_DIR", raising=False)
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "agent.py").write_bytes(CHECKS)
    (mine / "requirements.txt").write_text(f"{WHEEL}\n")
    for _ in range(2):  # the second run reads the project folder again: the install is not in it
        validated = rlarena(tmp_path / "home", "validate", "tic-tac-toe", ".", cwd=mine)
        assert validated.returncode == 0, validated.stdout + validated.stderr
        assert "requirements.txt: " in validated.stdout and "PASSED" in validated.stdout
        assert sorted(path.name for path in mine.iterdir()) == ["agent.py", "requirements.txt"]
    assert "reusing the packages installed before" in validated.stdout
    played = rlarena(tmp_path / "home", "play", "tic-tac-toe", ".", "house:random", "--games", "1", cwd=mine)
    assert played.returncode == 0, played.stdout + played.stderr
    assert "status of A: OK 1, ERROR 0, TIMEOUT 0, INVALID 0" in played.stdout, played.stdout
    (mine / "requirements.txt").write_text(f"{SDIST_ONLY}\n")
    refused = rlarena(tmp_path / "home", "play", "tic-tac-toe", ".", "house:random", "--games", "1", cwd=mine)
    assert refused.returncode != 0
    assert ".: requirements.txt: 'docopt' 0.6.2 has only source distributions" in refused.stderr, refused.stderr


def test_packages_the_runtime_has_are_not_installed_again(platform: Platform, api: ApiClient, owner: User) -> None:
    runtime_has = [f"{pin.name}=={pin.version}" for pin in listed()]  # numpy, chess, onnxruntime
    agent_id = agent_for(api, owner, "tic-tac-toe")
    requirements = "\n".join(runtime_has) + "\n"
    built = build(platform, owner, agent_id, {"agent.py": GOOD, "requirements.txt": requirements.encode()})
    assert built.status == SubmissionStatus.ACTIVE.value, built.error_message
    assert "the agent runtime already has everything it asks for" in (built.build_log or ""), built.build_log
    assert packages_of(built_folder(built.docker_image_url)) is None  # nothing installed, nothing mounted
    # With one more package, only that one is installed beside the runtime's.
    agent_id = api_agent(api, owner)
    requirements += f"{WHEEL}\n"
    built = build(platform, owner, agent_id, {"agent.py": CHECKS, "requirements.txt": requirements.encode()})
    assert built.status == SubmissionStatus.ACTIVE.value, built.error_message
    assert "installing tabulate==0.9.0\n" in (built.build_log or ""), built.build_log
    packages = packages_of(built_folder(built.docker_image_url))
    assert packages is not None
    installed = sorted(entry.name for entry in packages.glob("*.dist-info"))
    assert installed == ["tabulate-0.9.0.dist-info"]  # numpy, chess and onnxruntime stay the runtime's
