"""`rlarena validate GAME PATH`: the platform's upload checks and its validation match, locally.

Nothing here re-implements a rule: the upload goes through `inspect_upload` (the archive rules and
the sandboxed source check) and the declared-game check, then through the local builder itself
(`LocalBuilder.build`: requirements, the sandboxed probe, the validation match against a copy of
itself), so the messages printed are the ones a build log on the platform shows.
Exit codes: 0 the platform would accept it, 1 it would not, 2 a usage error.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from rlarena.authoring.games import add_game_argument, named_game

if TYPE_CHECKING:
    from rlarena.adapters.builders.base import BuildOutcome
    from rlarena.config import Settings
    from rlarena.domain.archives import AgentSource, ArchiveLimits
    from rlarena.environments.base import EnvironmentSpec

PASSED, FAILED, USAGE = 0, 1, 2


def configure(parser: argparse.ArgumentParser) -> None:
    add_game_argument(parser)
    parser.add_argument("path", help="the agent: a .py file, a folder, or a .zip/.tar.gz archive")


def run(arguments: argparse.Namespace) -> int:
    from rlarena.authoring.uploads import upload_of
    from rlarena.config import load_settings
    from rlarena.errors import RLArenaError

    spec = named_game("validate", arguments.game)
    if spec is None:
        return USAGE
    path = Path(arguments.path).expanduser()
    if not path.exists():
        print(f"rlarena validate: {path}: no such file or folder", file=sys.stderr)
        return USAGE
    settings = load_settings()
    limits = settings.archive_limits()
    print(f"validating {path} for {spec.name} ({spec.id}): the platform's upload checks, then its validation match")
    _say_how_agents_are_isolated()
    try:
        filename, data = upload_of(path, limits)
        source = checked_upload(settings, limits, spec, filename, data)
    except RLArenaError as error:
        print(f"refused at upload ({error.code}): {error.message}")
        return FAILED
    print(f"upload checks passed: {len(source.files)} file(s), entry point {source.entry_point}")
    outcome = built(settings, limits, spec, filename, data)
    print("build log:")
    print(outcome.log)
    if not outcome.ok:
        print(f"FAILED: {outcome.error}")
        return FAILED
    print(f"PASSED: the platform would accept this agent for {spec.id} (interface {outcome.interface})")
    return PASSED


def checked_upload(
    settings: Settings, limits: ArchiveLimits, spec: EnvironmentSpec, filename: str, data: bytes
) -> AgentSource:
    """Intake's checks (service/submissions.py): the archive, the sandboxed compile, the declared game."""
    from rlarena.adapters.builders.declared_environment import environment_mismatch
    from rlarena.adapters.source_check import source_check_for
    from rlarena.domain.archives import inspect_upload
    from rlarena.errors import InvalidInput

    source = inspect_upload(filename, data, limits, source_check_for(settings))
    problem = environment_mismatch(source.declared_environment, spec.id, where=source.entry_point)
    if problem is not None:
        raise InvalidInput(problem, code="wrong_environment")
    return source


def built(settings: Settings, limits: ArchiveLimits, spec: EnvironmentSpec, filename: str, data: bytes) -> BuildOutcome:
    """The local builder's build of the upload, in a scratch folder removed afterwards."""
    import tempfile
    import uuid

    from rlarena.adapters.builders.base import BuildInfrastructureError, BuildOutcome, BuildTicket
    from rlarena.adapters.builders.local import LocalBuilder
    from rlarena.adapters.builders.requirements_install import installer_for
    from rlarena.adapters.storage.local import LocalFolderStore
    from rlarena.domain.archives import upload_kind
    from rlarena.executor.validation import RunnerValidationMatch
    from rlarena.sandbox.runtime_install import agent_python_for

    with tempfile.TemporaryDirectory(prefix="rlarena-validate-") as scratch:
        store = LocalFolderStore(Path(scratch) / "objects")
        key = f"validate/source.{upload_kind(filename)}"
        store.put(key, data)
        builder = LocalBuilder(
            store,
            Path(scratch) / "builds",
            limits,
            requirements=installer_for(settings, author=True),
            python=agent_python_for(settings),
            validation_match=RunnerValidationMatch(),
        )
        ids = uuid.uuid4()
        ticket = BuildTicket(ids, ids, ids, spec.id, version=1, attempt=1, source_key=key, source_filename=filename)
        try:
            return builder.build(ticket, _PrintedProgress())
        except BuildInfrastructureError as error:
            message = f"the check itself could not run here (not the agent's fault): {error}"
            return BuildOutcome(ok=False, log=message, error=message)


class _PrintedProgress:
    """The build's steps as they happen (the build log follows at the end)."""

    def validating(self, message: str) -> None:
        print(f"... {message}", flush=True)

    def job_started(self, job_name: str) -> None:
        print(f"... {job_name}", flush=True)


def _say_how_agents_are_isolated() -> None:
    from rlarena.sandbox import support

    found = support.detect()
    if not found.strict:
        print(f"note: agents run here without the strict sandbox ({'; '.join(found.missing)})", file=sys.stderr)
