"""Where sandboxed agents run from: an interpreter and a copy of the agent runtime they can reach.

The platform may run as root from a virtualenv under /root (mode 0700), which a sandbox's pool uid
cannot enter. So agents get their own interpreter: the curated agent runtime's python (a virtual
environment of numpy, python-chess and onnxruntime, `rlarena.sandbox.agent_venv`) when it has been
created, else the interpreter it is made from (AGENT_PYTHON; by default the system's python3 when
the platform is root) with the standard library only; and a private copy of
`rlarena.agent_runtime`, which is standard-library only: the same split as the agent image on
Kubernetes. The copy is made fresh for each process, in
a folder with an unpredictable name (`rlarena.sandbox.staging`), owned by the platform and never
writable by an agent: a folder an agent could create or change first is never reused.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import rlarena.agent_runtime as agent_runtime_package
from rlarena.sandbox import agent_venv, staging
from rlarena.sandbox.agent_venv import SYSTEM_PYTHON, base_python
from rlarena.sandbox.process import prepare_workdir

if TYPE_CHECKING:
    from rlarena.config import Settings

__all__ = ["SYSTEM_PYTHON", "AgentRuntime", "agent_python", "agent_python_for", "base_python", "install_runtime"]


@dataclass(frozen=True)
class AgentRuntime:
    python: str
    path: Path  # put first on sys.path: holds rlarena/agent_runtime/*.py

    def module_argv(self, module: str, *args: str, packages: Path | None = None) -> list[str]:
        """argv that runs `module` as __main__ under -I (isolated: no env vars, no user site).

        `packages`: a folder of installed requirements (rlarena.sandbox.installed_packages), put on
        sys.path before the interpreter's own site-packages, as pip would have installed them there."""
        bootstrap = f"import runpy, sys; sys.path.insert(0, {str(self.path)!r}); "
        # One thread for numpy's BLAS and onnxruntime (rlarena.agent_runtime.threads).
        bootstrap += "import rlarena.agent_runtime.threads as threads; threads.limit(); "
        if packages is not None:
            bootstrap += (
                "at = next((i for i, p in enumerate(sys.path) if p.endswith('-packages')), len(sys.path)); "
                f"sys.path.insert(at, {str(packages)!r}); "
            )
        bootstrap += f"runpy.run_module({module!r}, run_name='__main__', alter_sys=True)"
        return [self.python, "-I", "-c", bootstrap, *args]


def agent_python(configured: str | None, runtime_dir: Path | None = None) -> str:
    """The interpreter agents run on: the agent runtime's (in `runtime_dir`, by default
    AGENT_RUNTIME_DIR's default) once it exists, else `base_python` (standard library only)."""
    status = agent_venv.inspect(runtime_dir or agent_venv.default_dir())
    if status.usable:
        return str(status.python)
    return base_python(configured)


def agent_python_for(settings: Settings) -> str:
    """`agent_python` for the settings (AGENT_PYTHON, AGENT_RUNTIME_DIR, AGENT_RUNTIME_TORCH)."""
    folder = settings.resolved_agent_runtime_dir
    if agent_venv.inspect(folder, torch=settings.agent_runtime_torch).usable:
        return str(agent_venv.python_of(folder))
    return base_python(settings.agent_python)


def install_runtime(python: str) -> AgentRuntime:
    """A fresh copy of the runtime package that sandboxes can read and not change."""
    target = staging.new_folder("runtime-")
    package = target / "rlarena" / "agent_runtime"
    package.mkdir(parents=True)
    (target / "rlarena" / "__init__.py").write_text('"""The agent runtime, as agents see it."""\n')
    source = Path(agent_runtime_package.__file__).parent
    for module in source.glob("*.py"):
        shutil.copyfile(module, package / module.name)
    prepare_workdir(target)
    return AgentRuntime(python=python, path=target)
