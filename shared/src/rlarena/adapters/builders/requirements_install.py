"""requirements.txt on the local platform, as the Kaniko build installs it: wheels only, from the
package index, in a sandbox that alone has network access, once per content.

The install runs pip (the platform's own copy of the pip package, mounted read-only, or the agent
interpreter's) under the agent interpreter, in the strict sandbox with the network (the only
sandbox that has it) and one writable folder. It is two steps:

1. a dry run (`--dry-run --report`) against the agent interpreter's own packages: what pip would
   install, dependencies resolved, leaving out what the agent runtime already has;
2. exactly those distributions, `--no-deps --only-binary=:all:`, into `--target`.

The result is cached under a key made of the normalised requirements, the agent interpreter's
identity (version, platform and its installed distributions), the index and pip's version: the
second build with the same requirements reuses the folder. Installs are owned by the platform and
read-only to sandboxes; a match mounts its agent's install read-only and puts it on sys.path
(`rlarena.sandbox.installed_packages`). The installed size has a budget; a failure names the
package and says why (no such package, no wheel, no wheel for this Python or platform, a version
conflict), read from pip's output and, for a missing distribution, from the index itself.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.metadata
import importlib.util
import json
import os
import re
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rlarena.adapters.builders.base import BuildInfrastructureError
from rlarena.adapters.builders.kaniko_context import requirement_problems
from rlarena.errors import RLArenaError
from rlarena.sandbox.installed_packages import CACHE_TAG, COMPLETE
from rlarena.sandbox.process import GiB, MiB, Mount, SandboxLimits, SandboxResult, require_readable_tree, run_sandboxed
from rlarena.sandbox.runtime_install import AgentRuntime

if TYPE_CHECKING:
    from rlarena.config import Settings

DEFAULT_INDEX_URL = "https://pypi.org/simple"
IDENTITY_LIMITS = SandboxLimits(wall_seconds=30, cpu_seconds=20, memory_bytes=1 * GiB)
INSTALL_SECONDS = 600
_REPORT_MAX_BYTES = 32 * MiB
_NO_MATCH = re.compile(r"No matching distribution found for (\S+)")
_CONFLICT = re.compile(r"Cannot install (.+?) because these package versions have conflicting dependencies")
_INVALID = re.compile(r"Invalid requirement: '([^']*)'")
_PINNED = re.compile(r"^[A-Za-z0-9._-]+(?:\[[^\]]*\])?===?([^;,]+)$")
_DISTRIBUTION_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")

# Run by the agent interpreter, offline: who it is, for the cache key.
_IDENTITY_SCRIPT = """
import importlib.metadata as m, json, platform, sys, sysconfig
names = sorted({f"{d.metadata['Name']}=={d.version}".lower() for d in m.distributions() if d.metadata['Name']})
print(json.dumps({"python": sys.version, "implementation": sys.implementation.name,
                  "platform": sysconfig.get_platform(), "machine": platform.machine(), "distributions": names}))
"""

# Run by the agent interpreter, with the network: what the index has of one project, when pip
# found no distribution for it (a 404, only source distributions, or wheels for other targets).
_INDEX_SCRIPT = """
import json, re, sys, urllib.error, urllib.request
index, name = sys.argv[1].rstrip("/"), re.sub(r"[-_.]+", "-", sys.argv[2]).lower()
request = urllib.request.Request(f"{index}/{name}/", headers={
    "Accept": "application/vnd.pypi.simple.v1+json, text/html;q=0.1"})
try:
    with urllib.request.urlopen(request, timeout=30) as response:
        body = response.read(16 * 1024 * 1024).decode("utf-8", "replace")
        kind = response.headers.get("Content-Type", "")
except urllib.error.HTTPError as error:
    print(json.dumps({"status": error.code}))
    raise SystemExit(0)
if "json" in kind:
    files = [f["filename"] for f in json.loads(body).get("files", [])]
else:
    files = re.findall(r">\\s*([^<>]+?\\.(?:whl|tar\\.gz|zip|tar\\.bz2))\\s*<", body)
print(json.dumps({"status": 200, "files": files}))
"""


@dataclass(frozen=True)
class RequirementsSettings:
    """The operator's choices (LOCAL_BUILD_INSTALL_REQUIREMENTS, REQUIREMENTS_*)."""

    cache_dir: Path
    index_url: str = DEFAULT_INDEX_URL
    max_bytes: int = 500 * MiB


@dataclass(frozen=True)
class _Target:
    """The interpreter the packages are for: its runtime and what it says of itself."""

    runtime: AgentRuntime
    identity: dict[str, object]


@dataclass
class Installed:
    """What the install step did: the folder to use (None: nothing to install, or it failed), the
    build log's lines, and the user's error when it failed."""

    packages: Path | None
    log: list[str] = field(default_factory=list)
    error: str | None = None


def installer_for(settings: Settings, *, author: bool = False) -> RequirementsInstaller | None:
    """The installer the settings ask for; None when LOCAL_BUILD_INSTALL_REQUIREMENTS is off.

    `author`: for `rlarena validate` and `play`, run in the author's project folder, where a
    DATA_DIR of `.data` would land in the next upload of that folder: unless REQUIREMENTS_CACHE_DIR
    is set, installs are kept in the user's cache folder (/var/cache/rlarena/packages as root,
    whose home sandboxes cannot reach)."""
    if not settings.local_build_install_requirements:
        return None
    cache_dir = settings.resolved_requirements_cache_dir
    if author and settings.requirements_cache_dir is None:
        cache_dir = author_cache_dir()
    return RequirementsInstaller(
        RequirementsSettings(
            cache_dir=cache_dir,
            index_url=settings.requirements_index_url,
            max_bytes=settings.requirements_max_bytes,
        )
    )


def author_cache_dir() -> Path:
    if os.geteuid() == 0:
        return Path("/var/cache/rlarena/packages")
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "rlarena" / "packages"


class RequirementsInstaller:
    def __init__(self, settings: RequirementsSettings) -> None:
        self._settings = settings
        self._root = settings.cache_dir.resolve()

    def install(self, requirements: list[str], runtime: AgentRuntime) -> Installed:
        """Install `requirements` for `runtime` (or reuse the install of the same ones).

        Raises BuildInfrastructureError for the platform's problems (the cache is unreachable, the
        index cannot be reached, the sandbox cannot start)."""
        problems = requirement_problems(requirements)
        if problems:
            message = "requirements.txt: " + "; ".join(problems) + " (names and versions from the package index only)"
            return Installed(None, [message], message)
        wanted = normalised(requirements)
        target = _Target(runtime, self._identity(runtime))
        key = _key(wanted, target, self._settings.index_url)
        folder = self._root / key
        if (folder / COMPLETE).is_file():
            reused = (
                "requirements.txt: reusing the packages installed before for the same requirements and "
                f"agent runtime (cache {key[:12]})"
            )
            installed = self._within_budget(Installed(folder, [reused]))
        else:
            installed = self._within_budget(self._install_fresh(wanted, target, folder))
        if installed.error is not None and installed.error not in installed.log:
            installed.log.append(installed.error)  # the build log ends with what the user must fix
        return installed

    # --- the cache ---------------------------------------------------------------------------------

    def _prepare_root(self) -> None:
        try:
            self._root.mkdir(mode=0o755, parents=True, exist_ok=True)
            self._root.chmod(0o755)  # content-addressed installs of public packages: nothing secret
            tag = self._root / CACHE_TAG
            if not tag.exists():
                tag.write_text("installed requirements of rlarena agents, by content hash\n", encoding="utf-8")
            tag.chmod(0o644)
            for stale in self._root.glob(".partial-*"):  # left by a platform that stopped mid-install
                if time.time() - stale.stat().st_mtime > 2 * INSTALL_SECONDS:
                    shutil.rmtree(stale, ignore_errors=True)
            require_readable_tree(self._root, "package cache (set REQUIREMENTS_CACHE_DIR to a folder others can reach)")
        except OSError as error:
            raise BuildInfrastructureError(f"could not prepare the package cache {self._root}: {error}") from error
        except RLArenaError as error:
            raise BuildInfrastructureError(error.message) from error

    def _identity(self, runtime: AgentRuntime) -> dict[str, object]:
        """Who the agent interpreter is (version, platform, installed distributions), asked offline."""
        self._prepare_root()
        result = self._sandboxed([runtime.python, "-I", "-c", _IDENTITY_SCRIPT], self._root, IDENTITY_LIMITS, [])
        try:
            identity = json.loads(result.stdout.strip().splitlines()[-1])
        except (ValueError, IndexError) as error:
            raise BuildInfrastructureError(f"could not ask the agent interpreter who it is: {result.reason}") from error
        if not isinstance(identity, dict):
            raise BuildInfrastructureError("the agent interpreter described itself in an unexpected way")
        return identity

    def _within_budget(self, installed: Installed) -> Installed:
        if installed.packages is None or installed.error is not None:
            return installed
        sizes = _sizes(installed.packages)
        total = sum(sizes.values())
        installed.log.append(f"installed packages: {_megabytes(total)} in {installed.packages}")
        if total > self._settings.max_bytes:
            largest = ", ".join(
                f"{name} ({_megabytes(size)})" for name, size in sorted(sizes.items(), key=lambda s: -s[1])[:3]
            )
            message = (
                f"the packages of requirements.txt take {_megabytes(total)}, more than the budget of "
                f"{_megabytes(self._settings.max_bytes)} (REQUIREMENTS_MAX_BYTES); the largest: {largest}"
            )
            return Installed(None, [*installed.log, message], message)
        return installed

    # --- installing --------------------------------------------------------------------------------

    def _install_fresh(self, wanted: list[str], target: _Target, folder: Path) -> Installed:
        log = [f"requirements.txt: installing {', '.join(wanted)} (wheels only, from {self._settings.index_url})"]
        work = Path(tempfile.mkdtemp(prefix=".partial-", dir=self._root))
        try:
            work.chmod(0o755)
            (work / "requirements.txt").write_text("\n".join(wanted) + "\n", encoding="utf-8")
            (work / "site").mkdir()
            planned = self._plan(work, target, log)
            if isinstance(planned, str):
                return Installed(None, log, planned)
            if not planned:
                log.append("requirements.txt: the agent runtime already has everything it asks for")
                return Installed(None, log)
            failure = self._fetch(work, target, planned, log)
            if failure is not None:
                return Installed(None, log, failure)
            site = work / "site"
            (site / COMPLETE).write_text(json.dumps({"requirements": wanted, "installed": planned}), encoding="utf-8")
            with contextlib.suppress(OSError):  # another build of the same requirements finished first
                os.rename(site, folder)
            if not (folder / COMPLETE).is_file():
                raise BuildInfrastructureError(f"could not store the installed packages in {folder}")
            return Installed(folder, log)
        finally:
            shutil.rmtree(work, ignore_errors=True)

    def _plan(self, work: Path, target: _Target, log: list[str]) -> list[str] | str:
        """`name==version` of what pip would install beside the runtime's packages, or the user's error."""
        report = work / "report.json"
        result = self._pip(target, work, ["install", "--dry-run", "--quiet", "--report", str(report),
                                           "-r", str(work / "requirements.txt")])  # fmt: skip
        if result.exit_code != 0:
            return self._failure(result, target, log)
        try:
            if report.stat().st_size > _REPORT_MAX_BYTES:
                raise BuildInfrastructureError("pip's installation report is too large to read")
            items = json.loads(report.read_text(encoding="utf-8")).get("install", [])
            return [f"{item['metadata']['name']}=={item['metadata']['version']}" for item in items]
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise BuildInfrastructureError(f"could not read pip's installation report: {error}") from error

    def _fetch(self, work: Path, target: _Target, planned: list[str], log: list[str]) -> str | None:
        log.append(f"installing {', '.join(planned)}")
        result = self._pip(target, work, ["install", "--no-deps", "--target", str(work / "site"), *planned])
        if result.exit_code != 0:
            return self._failure(result, target, log)
        log.append(_tail(result.stdout + result.stderr))
        return None

    def _pip(self, target: _Target, work: Path, args: list[str]) -> SandboxResult:
        budget = self._settings.max_bytes
        limits = SandboxLimits(
            wall_seconds=INSTALL_SECONDS,
            cpu_seconds=INSTALL_SECONDS,
            memory_bytes=2 * GiB + min(budget, 2 * GiB),
            max_file_bytes=budget,  # one file larger than the whole budget: refused while writing
            max_processes=64,
            output_cap_bytes=256 * 1024,
            network=True,
            tmp_bytes=min(budget, 2 * GiB) + 64 * MiB,  # pip downloads wheels to /tmp
        )
        prefix, mounts = _pip_command(target.runtime)
        options = ["--isolated", "--disable-pip-version-check", "--no-input", "--no-cache-dir", "--no-color",
                   "--progress-bar", "off", "--only-binary=:all:", "--index-url", self._settings.index_url]  # fmt: skip
        command, *rest = args
        return self._sandboxed([*prefix, command, *options, *rest], work, limits, [Mount(work, writable=True), *mounts])

    def _sandboxed(self, argv: list[str], cwd: Path, limits: SandboxLimits, mounts: list[Mount]) -> SandboxResult:
        try:
            return run_sandboxed(argv, cwd=cwd, limits=limits, mounts=mounts)
        except RLArenaError as error:
            raise BuildInfrastructureError(f"the install sandbox could not start: {error.message}") from error

    # --- what went wrong ---------------------------------------------------------------------------

    def _failure(self, result: SandboxResult, target: _Target, log: list[str]) -> str:
        """The user's error, named by package; BuildInfrastructureError when the index is unreachable."""
        output = result.stdout + result.stderr
        log.append(_tail(output))
        if result.timed_out:
            return f"installing requirements.txt took longer than {INSTALL_SECONDS} s"
        if result.signal is not None and "file size" in result.reason:
            return (
                f"a file of the packages of requirements.txt is larger than the budget of "
                f"{_megabytes(self._settings.max_bytes)} (REQUIREMENTS_MAX_BYTES)"
            )
        invalid = _INVALID.search(output)
        if invalid:
            return f"requirements.txt: {invalid.group(1)!r} is not a valid requirement"
        conflict = _CONFLICT.search(output)
        if conflict:
            causes = (
                output.split("The conflict is caused by:", 1)[-1].split("\n\n", 1)[0] if "caused by" in output else ""
            )
            detail = "; ".join(line.strip() for line in causes.splitlines() if line.strip())
            return f"requirements.txt asks for versions that conflict: {conflict.group(1)}" + (
                f" ({detail})" if detail else ""
            )
        missing = _NO_MATCH.search(output)
        if missing:
            return self._why_missing(missing.group(1), target)
        if _unreachable(output):
            raise BuildInfrastructureError(f"the package index {self._settings.index_url} could not be reached")
        last = [line for line in output.splitlines() if line.startswith("ERROR")]
        return f"installing requirements.txt failed ({result.reason}): " + (last[-1] if last else "see the build log")

    def _why_missing(self, requirement: str, target: _Target) -> str:
        found = _DISTRIBUTION_NAME.match(requirement)
        name = found.group(1) if found else requirement
        asked = self._sandboxed(
            [target.runtime.python, "-I", "-c", _INDEX_SCRIPT, self._settings.index_url, name],
            self._root,
            SandboxLimits(wall_seconds=60, cpu_seconds=30, network=True, output_cap_bytes=4 * MiB),
            [],
        )
        try:
            answer = json.loads(asked.stdout.strip().splitlines()[-1])
        except (ValueError, IndexError):
            answer = {}
        return why_missing(requirement, name, answer, self._settings.index_url, _runtime_words(target.identity))


def why_missing(requirement: str, name: str, answer: dict[str, Any], index_url: str, runtime: str) -> str:
    """Why pip found no distribution for `requirement`, from what the index said of project `name`
    (`answer`: its HTTP status and file names): the user's error, naming the package."""
    where = f"the package index ({index_url})"
    if answer.get("status") == 404:
        return f"requirements.txt: there is no package named {name!r} on {where}"
    files = [str(f) for f in answer.get("files", [])] if answer.get("status") == 200 else []
    wheels_only = "the platform installs wheels only, so no setup.py runs"
    pinned = _PINNED.match(requirement.replace(" ", ""))
    if files and pinned:
        version = pinned.group(1)
        of_version = [
            f for f in files if f"-{version}-" in f or re.search(rf"-{re.escape(version)}\.(tar\.gz|zip|tar\.bz2)$", f)
        ]
        wheels = sorted({"-".join(f.removesuffix(".whl").split("-")[-3:]) for f in of_version if f.endswith(".whl")})
        if not of_version:
            return f"requirements.txt: {name!r} has no version {version} on {where}"
        if not wheels:
            return (
                f"requirements.txt: {name!r} {version} has only source distributions on {where}, no wheels; "
                f"{wheels_only}: pick a version that publishes wheels, or bring pure-Python code in the upload"
            )
        shown = ", ".join(wheels[:6]) + (", ..." if len(wheels) > 6 else "")
        return (
            f"requirements.txt: no wheel of {name!r} {version} fits the agent runtime ({runtime}): its wheels "
            f"on {where} are for {shown}; {wheels_only}"
        )
    if files and not any(f.endswith(".whl") for f in files):
        return (
            f"requirements.txt: {name!r} has only source distributions on {where}, no wheels; {wheels_only}: "
            "pick a package that publishes wheels, or bring pure-Python code in the upload"
        )
    return (
        f"requirements.txt: no wheel of {requirement!r} fits the agent runtime ({runtime}) on {where}: check "
        f"the name and version, and that a wheel for this Python and platform exists; {wheels_only}"
    )


def _key(wanted: list[str], target: _Target, index_url: str) -> str:
    material = {
        "requirements": wanted,
        "runtime": target.identity,
        "index": index_url,
        "pip": _pip_version(target.runtime),
    }
    return hashlib.sha256(json.dumps(material, sort_keys=True).encode()).hexdigest()


def normalised(requirements: list[str]) -> list[str]:
    """The lines that matter, in one spelling: no comments or blank lines, no spaces but in an
    environment marker, the project's name in its normal form (PEP 503), sorted and each once."""
    lines = set()
    for line in requirements:
        requirement, _, marker = line.split(" #", 1)[0].partition(";")
        text = re.sub(r"\s+", "", requirement) + (f"; {' '.join(marker.split())}" if marker.strip() else "")
        found = _DISTRIBUTION_NAME.match(text)
        if found:
            text = re.sub(r"[-_.]+", "-", found.group(1)).lower() + text[found.end() :]
        if text and not text.startswith("#"):
            lines.add(text)
    return sorted(lines)


def _pip_command(runtime: AgentRuntime) -> tuple[list[str], list[Mount]]:
    """How to run pip under the agent interpreter: the platform's pip package (mounted alone,
    read-only), or the interpreter's own pip when the platform has none."""
    spec = importlib.util.find_spec("pip")
    if spec is None or spec.origin is None:
        return [runtime.python, "-I", "-m", "pip"], []
    package = Path(spec.origin).parent
    bootstrap = (
        f"import runpy, sys; sys.path.insert(0, {str(package.parent)!r}); "
        "runpy.run_module('pip', run_name='__main__', alter_sys=True)"
    )
    return [runtime.python, "-I", "-c", bootstrap], [Mount(package)]


def _pip_version(runtime: AgentRuntime) -> str:
    try:
        return importlib.metadata.version("pip")
    except importlib.metadata.PackageNotFoundError:
        return f"the pip of {runtime.python}"


def _runtime_words(identity: dict[str, object]) -> str:
    version = str(identity.get("python", "")).split(" ", 1)[0]
    return f"{identity.get('implementation', 'python')} {version}, {identity.get('platform', 'this platform')}"


def _unreachable(output: str) -> bool:
    words = ("Failed to establish a new connection", "Temporary failure in name resolution", "Could not fetch URL",
             "Max retries exceeded", "Network is unreachable")  # fmt: skip
    return any(word in output for word in words)


def _sizes(folder: Path) -> dict[str, int]:
    """Bytes per top-level entry of an install (links not followed)."""
    sizes: dict[str, int] = {}
    for entry in folder.iterdir():
        if entry.name == COMPLETE:
            continue
        total = entry.lstat().st_size
        if entry.is_dir() and not entry.is_symlink():
            for parent, _, names in os.walk(entry):
                total += sum(os.lstat(os.path.join(parent, name)).st_size for name in names)
        sizes[entry.name] = total
    return sizes


def _megabytes(size: int) -> str:
    return f"{size / MiB:.1f} MB"


def _tail(text: str, lines: int = 40) -> str:
    kept = text.strip().splitlines()
    return "\n".join(kept[-lines:])
