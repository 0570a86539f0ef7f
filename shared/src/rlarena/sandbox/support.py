"""What this host can give the strict sandbox, found out once per process (never at import).

The strict sandbox needs five things; each missing one is named, so start-up logs and
`GET /health` can say exactly what is not isolated here (see `SandboxSupport.missing`):

- bubblewrap (`bwrap`, Debian package `bubblewrap`) and unprivileged user namespaces, for the
  namespaces (user, pid, mount, ipc, uts, cgroup, network) and the filesystem view;
- root, to hand every sandbox a uid of its own from the pool (`rlarena.sandbox.uid_pool`);
- writable cgroups with the memory, pids and cpu controllers (v1 or v2), for limits that cover all
  of a sandbox's processes together and for killing every one of them at the end;
- libseccomp (through the `pyseccomp` bindings), for the system-call filter.
"""

from __future__ import annotations

import functools
import logging
import os
import shutil
import subprocess
from dataclasses import dataclass

from rlarena.errors import ServiceUnavailable
from rlarena.sandbox import cgroups, seccomp_filter

log = logging.getLogger(__name__)

INSTALL_HINT = "apt-get install bubblewrap"
STRICT = "strict"


@dataclass(frozen=True)
class SandboxSupport:
    bwrap: str | None  # the bubblewrap executable, when it works here
    root: bool
    cgroups: cgroups.Hierarchies | None
    seccomp: bool
    problems: tuple[str, ...] = ()  # why a part is missing, for the log

    @property
    def missing(self) -> list[str]:
        """What the strict sandbox lacks on this host; empty when it is complete."""
        found = []
        if self.bwrap is None:
            found.append(f"bubblewrap with user namespaces ({INSTALL_HINT})")
        if not self.root:
            found.append("a uid of its own per sandbox (the platform is not root)")
        if self.cgroups is None:
            found.append("writable cgroups with memory, pids and cpu controllers")
        if not self.seccomp:
            found.append("a seccomp filter (libseccomp and pyseccomp)")
        return found

    @property
    def strict(self) -> bool:
        return not self.missing

    def describe(self) -> str | list[str]:
        """For GET /health: "strict", or the list of what is missing."""
        return STRICT if self.strict else self.missing


def announce(who: str, *, production: bool, favor_cgroup_changes: bool = True) -> None:
    """Say at start-up how `who` isolates agents here. Production refuses anything less than the
    strict sandbox: ServiceUnavailable naming what is missing. With `favor_cgroup_changes` (the
    SANDBOX_FAVOR_CGROUP_CHANGES setting) a root platform sets the host's cgroup2 mount option that
    makes a sandbox start ~15 ms faster (`cgroups.favor_dynamic_changes`)."""
    found = detect()
    if favor_cgroup_changes and found.cgroups is not None and cgroups.favor_dynamic_changes():
        log.info("cgroup changes favoured over fork and exit (cgroup2 favordynmods)")
    if found.strict:
        log.info("%s runs agents in the strict sandbox", who)
        return
    missing = "; ".join(found.missing)
    if production:
        raise ServiceUnavailable(
            f"{who} refuses to run agents' code without the strict sandbox (ENV=production): {missing}"
        )
    details = "".join(f" ({problem})" for problem in found.problems)
    log.warning("%s runs agents WITHOUT the strict sandbox; missing: %s%s", who, missing, details)


@functools.cache
def detect() -> SandboxSupport:
    problems: list[str] = []
    bwrap = _working_bwrap(problems)
    root = os.geteuid() == 0
    hierarchies = cgroups.find() if root else None
    if root and hierarchies is None:
        problems.append("no writable memory/pids/cpu cgroup hierarchy was found")
    seccomp = seccomp_filter.available()
    return SandboxSupport(bwrap=bwrap, root=root, cgroups=hierarchies, seccomp=seccomp, problems=tuple(problems))


def _working_bwrap(problems: list[str]) -> str | None:
    path = shutil.which("bwrap", path="/usr/local/bin:/usr/bin:/bin")
    if path is None:
        problems.append("bwrap is not installed")
        return None
    # The sandbox runs bwrap unprivileged (after the drop to the pool uid), so try it that way.
    # With the options the sandbox relies on (--disable-userns needs bubblewrap 0.8).
    argv = [path, "--unshare-all", "--unshare-user", "--unshare-cgroup", "--disable-userns", "--die-with-parent"]
    argv += ["--new-session", "--ro-bind", "/", "/", "--size", "1048576", "--tmpfs", "/tmp", "--", "/bin/true"]  # noqa: S108
    # As nobody when root (Popen's user/group switch happens in C, safe beside threads).
    nobody = 65534 if os.geteuid() == 0 else None
    try:
        done = subprocess.run(  # noqa: S603 - fixed argv
            argv,
            capture_output=True,
            timeout=10,
            check=False,
            user=nobody,
            group=nobody,
            extra_groups=[] if nobody else None,
        )
    except (OSError, subprocess.SubprocessError) as error:
        problems.append(f"bwrap could not run: {error}")
        return None
    if done.returncode != 0:
        problems.append("bwrap failed: " + done.stderr.decode(errors="replace").strip()[:200])
        return None
    return path
