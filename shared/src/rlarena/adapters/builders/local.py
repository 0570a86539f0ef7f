"""The local builder: unpack into a private folder and prove the agent loads, in the sandbox.

The user's code is never imported by the platform: the check runs `rlarena.agent_runtime.probe`
in a sandboxed child (`rlarena.sandbox.process`: the strict sandbox where the host has it), on a
staged read-only copy; the build itself stays in the private builds folder (DATA_DIR/builds).
A requirements.txt is installed first, as the Kaniko build does (wheels only, in a sandboxed step
with the network, cached by content: `requirements_install`); the built folder names the install
(`rlarena.sandbox.installed_packages`), which the probe and every match mount read-only.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from rlarena.adapters.builders.base import (
    BuildInfrastructureError,
    BuildOutcome,
    BuildProgress,
    BuildTicket,
    probe_report,
)
from rlarena.adapters.builders.declared_environment import environment_mismatch
from rlarena.adapters.builders.requirements_install import RequirementsInstaller
from rlarena.adapters.storage.base import ObjectStore
from rlarena.domain.archives import AgentSource, ArchiveLimits, read_upload
from rlarena.errors import RLArenaError
from rlarena.sandbox import staging
from rlarena.sandbox.installed_packages import MARKER, write_marker
from rlarena.sandbox.process import Mount, SandboxLimits, prepare_workdir, run_sandboxed
from rlarena.sandbox.runtime_install import AgentRuntime, install_runtime

if TYPE_CHECKING:
    from rlarena.environments.base import EnvironmentSpec

LOG_CAP = 64 * 1024
PROBE_LIMITS = SandboxLimits(wall_seconds=30, cpu_seconds=20, memory_bytes=1024 * 1024 * 1024)
# The validation match is a full game, but never longer than this.
VALIDATION_MATCH_SECONDS = 60.0


@dataclass(frozen=True)
class ValidationPlayer:
    """One side of the validation match, as the builder reports it."""

    agent_id: str
    ok: bool
    status: str  # the match's word for how this side ended (OK, ERROR, TIMEOUT, INVALID)
    error_message: str
    stderr: str
    wrong_action: bool  # an illegal action or an answer that is not an action at all
    game_state: str = ""  # the move, board and observation where it failed (a build log's lines)


@dataclass(frozen=True)
class ValidationPlayed:
    """What the builder needs of a validation match: did it run, how it went, each side's end."""

    ran: bool  # False: the platform could not play it (not the agent's fault)
    error_message: str  # the platform's error, when it did not run
    total_steps: int
    outcome_reason: str
    players: list[ValidationPlayer]


class ValidationMatch(Protocol):
    """Plays the agent against a copy of itself, in the sandbox (wired in `bootstrap.py`)."""

    def play_itself(
        self,
        environment_id: str,
        folder: Path,
        entry_point: str,
        *,
        seed: int,
        match_timeout_s: float,
        runtime: AgentRuntime,
    ) -> ValidationPlayed: ...


class LocalBuilder:
    def __init__(
        self,
        store: ObjectStore,
        builds_dir: Path,
        limits: ArchiveLimits,
        *,
        requirements: RequirementsInstaller | None,
        python: str,
        validation_match: ValidationMatch,
    ) -> None:
        self._store = store
        self._builds_dir = builds_dir
        self._limits = limits
        self._requirements = requirements  # None: requirements.txt may only name what the runtime has
        self._python = python
        self._validation = validation_match
        self._runtime: AgentRuntime | None = None

    @property
    def runtime(self) -> AgentRuntime:
        if self._runtime is None:
            self._runtime = install_runtime(self._python)
        return self._runtime

    def build(self, ticket: BuildTicket, progress: BuildProgress) -> BuildOutcome:
        log: list[str] = [f"build of version {ticket.version}, attempt {ticket.attempt}"]
        try:
            data = self._store.get(ticket.source_key)
        except RLArenaError as error:
            raise BuildInfrastructureError(f"could not read the upload: {error.message}") from error
        try:
            # The archive rules again (bounded unpacking), but no second compile in this process: intake
            # compiled the code in its sandboxed check, and the probe below loads it in the sandbox
            # (reporting the game it declares, however it declares it).
            source = read_upload(ticket.source_filename, data, self._limits)
        except RLArenaError as error:
            return BuildOutcome(ok=False, log=_join(log), error=error.message)
        log.append(f"{len(source.files)} file(s), entry point {source.entry_point}")
        workdir = self._unpack(ticket, source)
        # Sandboxes get a staged read-only copy; the build itself stays in the private builds folder.
        staged = staging.stage_copy(workdir, "build-")
        try:
            return self._check(ticket, source, (workdir, staged), log, progress)
        finally:
            staging.discard(staged)

    def _check(
        self,
        ticket: BuildTicket,
        source: AgentSource,
        folders: tuple[Path, Path],
        log: list[str],
        progress: BuildProgress,
    ) -> BuildOutcome:
        """Requirements, the probe and the validation match; `folders` is (the build, its staged copy)."""
        workdir, staged = folders
        if MARKER in source.files:
            message = f"the file name {MARKER} is reserved for the platform: rename or remove it"
            return BuildOutcome(ok=False, log=_join([*log, message]), error=message)
        missing = self._missing_requirements(source, staged)
        if missing:
            message = (
                "requirements.txt needs packages the agent runtime does not have: "
                f"{', '.join(missing)}; the local builder does not install packages "
                "(LOCAL_BUILD_INSTALL_REQUIREMENTS=false)"
            )
            return BuildOutcome(ok=False, log=_join([*log, message]), error=message)
        packages = None
        if self._requirements is not None and source.requirements:
            progress.validating("installing requirements.txt (wheels only)")
            installed = self._requirements.install(source.requirements, self.runtime)
            log.extend(installed.log)
            if installed.error is not None:
                return BuildOutcome(ok=False, log=_join(log), error=installed.error)
            packages = installed.packages
            if packages is not None:
                write_marker(workdir, packages)  # the match runner mounts them for this build's matches
        progress.validating("loading the agent in the sandbox")
        interface, failure = self._probe(staged, source.entry_point, ticket.environment_id, log, packages)
        if failure is None:
            failure = self._validation_match(ticket, workdir, source.entry_point, log)
        if failure is not None:
            return BuildOutcome(ok=False, log=_join(log), error=failure)
        return BuildOutcome(ok=True, log=_join(log), image_url=f"local://{workdir}", interface=interface)

    def _probe(
        self, workdir: Path, entry_point: str, environment_id: str, log: list[str], packages: Path | None
    ) -> tuple[str, str | None]:
        """Load the agent in the sandbox: (its interface, None) or ("", what the user must fix)."""
        log.append("loading the agent in the sandbox")
        result = run_sandboxed(
            self.runtime.module_argv("rlarena.agent_runtime.probe", str(workdir), entry_point, packages=packages),
            cwd=workdir,
            limits=PROBE_LIMITS,
            mounts=[Mount(workdir), Mount(self.runtime.path), *([Mount(packages)] if packages else [])],
        )
        if result.stderr.strip():
            log.append("agent output:\n" + result.stderr.strip())
        report = probe_report(result.stdout)
        if report is None:
            message = f"the agent could not be loaded: {result.reason}"
            log.append(message)
            return "", message
        if not report.get("ok"):
            message = str(report.get("error") or "the agent could not be loaded")
            log.extend([message, str(report.get("traceback") or "")])
            return "", message
        declared = report.get("environment")
        mismatch = environment_mismatch(declared if isinstance(declared, str) else None, environment_id)
        if mismatch is not None:
            log.append(mismatch)
            return "", mismatch
        interface = f"{report.get('interface')} ({report.get('method')})"
        log.append(f"agent interface: {interface}")
        return interface, None

    def _validation_match(self, ticket: BuildTicket, workdir: Path, entry_point: str, log: list[str]) -> str | None:
        """As Kaggle does: a match against a copy of itself, in the sandbox. The user's error, or None."""
        from rlarena.environments.registry import spec_of

        spec = spec_of(ticket.environment_id)
        played = self._validation.play_itself(
            ticket.environment_id,
            workdir,
            entry_point,
            seed=ticket.attempt,
            match_timeout_s=min(spec.match_timeout_s, VALIDATION_MATCH_SECONDS),
            runtime=self.runtime,
        )
        if not played.ran:
            raise BuildInfrastructureError(f"the validation match could not run: {played.error_message}")
        log.append(
            f"validation match against itself ({ticket.environment_id}): {played.total_steps} steps, "
            f"{played.outcome_reason or 'finished'}"
        )
        for result in played.players:
            if not result.ok:
                if result.stderr.strip():
                    log.append(f"{result.agent_id} output:\n{result.stderr.strip()}")
                log.append(f"{result.agent_id}: {result.status}: {result.error_message}")
                log.append(result.game_state)
                return f"the validation match failed ({result.status}): {result.error_message}" + _action_hint(
                    spec, wrong_action=result.wrong_action
                )
        return None

    def _unpack(self, ticket: BuildTicket, source: AgentSource) -> Path:
        """A fresh folder per attempt (mkdtemp: never a reused or predictable path) in the private
        builds folder; files are written without following links and never by an agent."""
        try:
            parent = self._builds_dir / str(ticket.submission_id)
            parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            self._builds_dir.chmod(0o700)
            workdir = Path(tempfile.mkdtemp(prefix=f"attempt-{ticket.attempt}-", dir=parent))
            for relative, content in source.files.items():
                target = (workdir / relative).resolve()
                if not target.is_relative_to(workdir.resolve()):  # read_upload refused these already
                    raise BuildInfrastructureError(f"unsafe path {relative!r} reached the builder")
                target.parent.mkdir(parents=True, exist_ok=True)
                descriptor = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
                with os.fdopen(descriptor, "wb") as handle:
                    handle.write(content)
            prepare_workdir(workdir)
        except OSError as error:
            raise BuildInfrastructureError(f"could not unpack the build: {type(error).__name__}") from error
        return workdir

    def _missing_requirements(self, source: AgentSource, workdir: Path) -> list[str]:
        """Requirements the agent interpreter lacks (asked of that interpreter, in the sandbox)."""
        if self._requirements is not None or not source.requirements:
            return []
        names = [_distribution_name(line) for line in source.requirements]
        names = [name for name in names if name]
        script = (
            "import json, sys, importlib.metadata as m\n"
            "def has(n):\n"
            "    try:\n        m.version(n)\n        return True\n"
            "    except m.PackageNotFoundError:\n        return False\n"
            "print(json.dumps([n for n in sys.argv[1:] if not has(n)]))\n"
        )
        result = run_sandboxed(
            [self.runtime.python, "-I", "-c", script, *names], cwd=workdir, limits=PROBE_LIMITS, mounts=[Mount(workdir)]
        )
        try:
            missing = json.loads(result.stdout.strip().splitlines()[-1])
        except (ValueError, IndexError) as error:
            raise BuildInfrastructureError(f"could not check requirements: {result.reason}") from error
        return [str(name) for name in missing]


def _action_hint(spec: EnvironmentSpec, *, wrong_action: bool) -> str:
    """For an illegal or malformed action, what the game expects: often code written for another game."""
    if not wrong_action:
        return ""
    return (
        f". {spec.name} ({spec.id}) expects actions {spec.actions}, chosen from the observation's legal actions; "
        f"its observation is {spec.observation}. Was this code written for another game?"
    )


def _distribution_name(requirement: str) -> str:
    name = requirement.split(";", maxsplit=1)[0].split("[", maxsplit=1)[0].split("@", maxsplit=1)[0]
    for separator in ("==", ">=", "<=", "~=", "!=", ">", "<", " "):
        name = name.split(separator)[0]
    return name.strip() if not name.strip().startswith("-") else ""


def _join(lines: list[str]) -> str:
    text = "\n".join(line for line in lines if line)
    # Keep the tail: the end of a log is where the failure is.
    return text if len(text) <= LOG_CAP else "[... earlier output cut ...]\n" + text[-LOG_CAP:]
