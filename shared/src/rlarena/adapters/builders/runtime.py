"""Where sandboxed agents run from: an interpreter and a copy of the agent runtime they can reach.

The platform may run as root from a virtualenv under /root (mode 0700), which the unprivileged
sandbox user cannot enter. So agents get their own interpreter (AGENT_PYTHON; by default the
system's python3 when the platform is root) and a private copy of `rlarena.agent_runtime`, which
is standard-library only, in the builds folder: the same split as the agent image on Kubernetes.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import rlarena.agent_runtime as agent_runtime_package

SYSTEM_PYTHON = Path("/usr/bin/python3")


@dataclass(frozen=True)
class AgentRuntime:
    python: str
    path: Path  # put first on sys.path: holds rlarena/agent_runtime/*.py

    def module_argv(self, module: str, *args: str) -> list[str]:
        """argv that runs `module` as __main__ under -I (isolated: no env vars, no user site)."""
        bootstrap = (
            "import runpy, sys; "
            f"sys.path.insert(0, {str(self.path)!r}); "
            f"runpy.run_module({module!r}, run_name='__main__', alter_sys=True)"
        )
        return [self.python, "-I", "-c", bootstrap, *args]


def default_builds_root(data_dir: Path) -> Path:
    """A folder the sandbox user can traverse (not list), even when DATA_DIR sits under /root."""
    tag = hashlib.sha256(str(data_dir.resolve()).encode()).hexdigest()[:10]
    return Path(tempfile.gettempdir()) / f"rlarena-builds-{tag}"


def agent_python(configured: str | None) -> str:
    if configured:
        return configured
    if os.geteuid() == 0 and SYSTEM_PYTHON.exists():
        return str(SYSTEM_PYTHON)
    return sys.executable


def install_runtime(builds_root: Path, python: str) -> AgentRuntime:
    """Copy the runtime package (idempotent) and make the tree reachable by the sandbox user."""
    builds_root.mkdir(parents=True, exist_ok=True)
    builds_root.chmod(0o711)
    source = Path(agent_runtime_package.__file__).parent
    target = builds_root / "runtime"
    package = target / "rlarena" / "agent_runtime"
    package.mkdir(parents=True, exist_ok=True)
    (target / "rlarena" / "__init__.py").write_text('"""The agent runtime, as agents see it."""\n')
    for module in source.glob("*.py"):
        shutil.copyfile(module, package / module.name)
    for folder in (target, target / "rlarena", package):
        folder.chmod(0o755)
    for file in package.glob("*.py"):
        file.chmod(0o644)
    (target / "rlarena" / "__init__.py").chmod(0o644)
    return AgentRuntime(python=python, path=target)
