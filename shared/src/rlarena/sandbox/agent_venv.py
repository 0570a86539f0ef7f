"""The curated agent runtime: a virtual environment of numpy, python-chess and onnxruntime.

Agents run on the interpreter sandboxes use (AGENT_PYTHON, by default the system's python3 when
the platform is root), and that interpreter alone has only the standard library. So the platform
creates a virtual environment from it (`make agent-runtime`, which `make dev` and CI run:
`python -m rlarena.sandbox.agent_venv`) holding the packages pinned in `agent_packages.txt`, the
one list the Kubernetes agent-base image installs too. Sandboxes run the environment's python,
with the environment mounted read-only (`rlarena.sandbox.bwrap.interpreter_mounts`).

Where it lives (AGENT_RUNTIME_DIR): by default /opt/rlarena/agent-runtime when the platform is
root, since a sandbox's pool uid must be able to read it and cannot enter /root or a 0700 folder;
otherwise under the user's ~/.local/share (no uid drop then). Creation is idempotent: a stamp file
records what was installed, and a folder whose stamp matches the list is left alone (~1 ms). A new
environment is built beside the old one and swapped in with a rename, under a lock.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

PACKAGES_FILE = Path(__file__).with_name("agent_packages.txt")
SYSTEM_PYTHON = Path("/usr/bin/python3")
STAMP = "rlarena-agent-runtime.json"
TORCH_OPTION = "torch"
_PIN = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)==(?P<version>[^\s#]+)\s*(#\s*(?P<note>.*))?$")
_READ_EXECUTE = 0o5

log = logging.getLogger(__name__)

State = Literal["ready", "stale", "missing", "unreachable"]


@dataclass(frozen=True)
class Pin:
    name: str
    version: str
    listed: bool  # named in GET /environments and docs/agents.md (the rest are dependencies)
    option: str | None  # installed only when the operator enables this option

    @property
    def requirement(self) -> str:
        return f"{self.name}=={self.version}"


@dataclass(frozen=True)
class RuntimeStatus:
    folder: Path
    state: State
    detail: str  # for people: what is wrong and how to fix it, or what is there
    installed: dict[str, str] = field(default_factory=dict)  # normalized name -> version

    @property
    def python(self) -> Path:
        return python_of(self.folder)

    @property
    def usable(self) -> bool:
        return self.state in ("ready", "stale")


def pins(text: str | None = None) -> list[Pin]:
    """Every pin of the packages file (or of `text`), options included."""
    found: list[Pin] = []
    for raw in (PACKAGES_FILE.read_text(encoding="utf-8") if text is None else text).splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        match = _PIN.match(line)
        if match is None:
            raise ValueError(f"{PACKAGES_FILE.name}: not a `name==version` pin: {line!r}")
        note = (match["note"] or "").strip()
        option = note.removeprefix("option:").strip() if note.startswith("option:") else None
        found.append(Pin(match["name"], match["version"], note == "listed" or option is not None, option))
    return found


def wanted(*, torch: bool = False) -> list[Pin]:
    """The pins to install: all but the options not enabled."""
    return [pin for pin in pins() if pin.option is None or (pin.option == TORCH_OPTION and torch)]


def listed(*, torch: bool = False) -> list[Pin]:
    """What agents are told they can import, with versions."""
    return [pin for pin in wanted(torch=torch) if pin.listed]


def default_dir() -> Path:
    """AGENT_RUNTIME_DIR's default (see the module's notes)."""
    from rlarena.config import default_agent_runtime_dir

    return default_agent_runtime_dir()


def base_python(configured: str | None) -> str:
    """The interpreter sandboxes can run, which the agent runtime is made from (AGENT_PYTHON; by
    default the system's python3 when root, else the platform's own)."""
    if configured:
        return configured
    if os.geteuid() == 0 and SYSTEM_PYTHON.exists():
        return str(SYSTEM_PYTHON)
    return sys.executable


def python_of(folder: Path) -> Path:
    return folder / "bin" / "python"


def normalized(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def installed_versions(folder: Path) -> dict[str, str]:
    """What the environment really holds, from its *.dist-info folders (no interpreter started)."""
    versions: dict[str, str] = {}
    for info in folder.glob("lib/python3*/site-packages/*.dist-info"):
        name, _, version = info.name.removesuffix(".dist-info").partition("-")
        versions[normalized(name)] = version
    return versions


def _fingerprint(base_python: str, torch: bool) -> dict[str, object]:
    requirements = sorted(pin.requirement for pin in wanted(torch=torch))
    digest = hashlib.sha256("\n".join(requirements).encode()).hexdigest()
    return {"packages_sha256": digest, "base_python": os.path.realpath(base_python), "torch": torch}


def inspect(folder: Path, *, torch: bool = False) -> RuntimeStatus:
    """Whether `folder` holds the runtime the packages file asks for, and sandboxes can read it."""
    stamp = folder / STAMP
    if not python_of(folder).exists() or not stamp.exists():
        return RuntimeStatus(
            folder,
            "missing",
            f"no agent runtime in {folder}: run `make agent-runtime` (agents get the standard library only)",
        )
    blocked = _closed_to_others(folder)
    if blocked is not None:
        return RuntimeStatus(
            folder,
            "unreachable",
            f"the agent runtime {folder} cannot be read by sandboxes: {blocked} is closed to other users "
            "(set AGENT_RUNTIME_DIR to a folder outside /root and any 0700 folder)",
        )
    installed = installed_versions(folder)
    try:
        recorded = json.loads(stamp.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        recorded = {}
    expected = _fingerprint(str(recorded.get("base_python", "")), torch)
    if recorded.get("packages_sha256") != expected["packages_sha256"] or recorded.get("torch") != torch:
        return RuntimeStatus(
            folder,
            "stale",
            f"the agent runtime in {folder} differs from {PACKAGES_FILE.name}: run `make agent-runtime`",
            installed,
        )
    summary = ", ".join(f"{pin.name} {pin.version}" for pin in listed(torch=torch))
    return RuntimeStatus(folder, "ready", f"agent runtime {folder}: {summary}", installed)


def describe(status: RuntimeStatus) -> dict[str, object]:
    """For GET /health: the state, what to do about it, and the packages agents really get."""
    return {"state": status.state, "detail": status.detail, "packages": dict(sorted(status.installed.items()))}


def announce(who: str, folder: Path, *, torch: bool = False) -> RuntimeStatus:
    """Say at start-up what agents will import here: the runtime's packages, or a warning that
    they get the standard library only (and how to fix it)."""
    status = inspect(folder, torch=torch)
    if status.state == "ready":
        log.info("%s runs agents on the %s", who, status.detail)
    else:
        log.warning("%s: %s", who, status.detail)
    return status


def _closed_to_others(folder: Path) -> Path | None:
    """The first folder on the way to `folder` that other users cannot search (root only: an
    unprivileged platform runs sandboxes as itself)."""
    if os.geteuid() != 0:
        return None
    path = Path(os.path.abspath(folder))
    for part in dict.fromkeys([*reversed(path.parents), path, *reversed(path.resolve().parents), path.resolve()]):
        try:
            mode = part.stat().st_mode
        except OSError:
            return part
        if mode & _READ_EXECUTE != _READ_EXECUTE:
            return part
    return None


def create(
    folder: Path,
    *,
    base_python: str,
    torch: bool = False,
    report: Callable[[str], None] = print,
) -> RuntimeStatus:
    """Make `folder` the runtime the packages file asks for (a no-op when it already is)."""
    current = inspect(folder, torch=torch)
    if current.state == "ready":
        return current
    folder = Path(os.path.abspath(folder))
    folder.parent.mkdir(parents=True, exist_ok=True)
    with _locked(folder.parent / f".{folder.name}.lock"):
        current = inspect(folder, torch=torch)  # another process may have made it meanwhile
        if current.state == "ready":
            return current
        report(f"creating the agent runtime in {folder} ({current.detail})")
        build = Path(tempfile.mkdtemp(prefix=f".{folder.name}-new-", dir=folder.parent))
        try:
            _build(build, base_python=base_python, torch=torch)
            _swap_in(build, folder)
        finally:
            shutil.rmtree(build, ignore_errors=True)
    return inspect(folder, torch=torch)


def _build(build: Path, *, base_python: str, torch: bool) -> None:
    from rlarena.sandbox.process import prepare_workdir

    subprocess.run([base_python, "-m", "venv", "--without-pip", str(build)], check=True)  # noqa: S603
    requirements = build / "requirements.txt"
    requirements.write_text("".join(f"{pin.requirement}\n" for pin in wanted(torch=torch)), encoding="utf-8")
    # The platform's pip installs into the environment (`--python`): no pip inside the runtime.
    # --no-deps: the file pins every dependency; nothing unlisted slips in.
    command = [sys.executable, "-m", "pip", "--python", str(python_of(build)), "install", "--quiet"]
    command += ["--no-deps", "--no-input", "--disable-pip-version-check", "-r", str(requirements)]
    subprocess.run(command, check=True)  # noqa: S603
    requirements.unlink()
    stamp = _fingerprint(base_python, torch) | {"packages": [pin.requirement for pin in wanted(torch=torch)]}
    (build / STAMP).write_text(json.dumps(stamp, indent=2) + "\n", encoding="utf-8")
    prepare_workdir(build)  # folders 0755, files 0644: readable by every pool uid, writable by none


def _swap_in(build: Path, folder: Path) -> None:
    old: Path | None = None
    if folder.exists() or folder.is_symlink():
        old = Path(tempfile.mkdtemp(prefix=f".{folder.name}-old-", dir=folder.parent))
        folder.rename(old / folder.name)
    build.rename(folder)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    with path.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def main(argv: list[str]) -> int:
    """`python -m rlarena.sandbox.agent_venv [--check]`: create (or check) the runtime the settings name."""
    from rlarena.config import load_settings

    settings = load_settings()
    folder = settings.resolved_agent_runtime_dir
    torch = settings.agent_runtime_torch
    if argv == ["--check"]:
        status = inspect(folder, torch=torch)
        print(status.detail)
        return 0 if status.state == "ready" else 1
    if argv:
        print("usage: python -m rlarena.sandbox.agent_venv [--check]", file=sys.stderr)
        return 2
    try:
        status = create(folder, base_python=base_python(settings.agent_python), torch=torch)
    except subprocess.CalledProcessError as error:
        command = " ".join(str(part) for part in error.cmd[:6])
        print(
            f"could not create the agent runtime in {folder}: `{command} ...` exited {error.returncode}; "
            "see its output above (pip names the package it could not install)",
            file=sys.stderr,
        )
        return 1
    print(status.detail)
    return 0 if status.state == "ready" else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
