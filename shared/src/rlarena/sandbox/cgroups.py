"""One control group per sandbox: limits over all of its processes together, and a sure kill.

Works with the hierarchies the host mounts: cgroup v2 (one tree with the memory, pids and cpu
controllers enabled) or v1 (a tree per controller, as on this project's machines, which mount v1
memory/pids/cpu plus a v2 tree with no useful controller). Root creates the groups under an
`rlarena` parent in each tree; the sandbox launcher moves itself in before it drops privileges and
execs bubblewrap, so every descendant starts inside and cannot move out (the group files belong to
root, and a cgroup namespace hides the tree).

A group is named after the pool uid it serves (`uid-<uid>`), which one live sandbox holds at a time
(`rlarena.sandbox.uid_pool`): a group left by a crashed platform is emptied and reused.

Limits: memory (resident plus tmpfs pages the sandbox wrote, no swap), a process count (threads
count too) and a CPU share (a quota of whole cores). `kill()` SIGKILLs every process in the group
(v2: `cgroup.kill`; v1: repeated passes over `cgroup.procs`, which the pids limit keeps finite).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path("/sys/fs/cgroup")
PARENT = "rlarena"
CONTROLLERS = ("memory", "pids", "cpu")
CPU_PERIOD_US = 100_000
_KILL_PASSES = 50
_REMOVE_SECONDS = 2.0


@dataclass(frozen=True)
class Hierarchies:
    """Where each controller lives: one v2 tree for all, or a v1 tree each."""

    version: int
    trees: tuple[Path, ...]  # v2: (tree,); v1: (memory, pids, cpu) and cpuacct when mounted apart
    accounting: Path | None = None  # v1: the cpuacct tree (CPU time used by the whole group)

    def groups(self, name: str) -> list[Path]:
        return [tree / PARENT / name for tree in self.trees]


def find(root: Path = ROOT) -> Hierarchies | None:
    """The writable hierarchies with memory, pids and cpu, or None (not root, not mounted)."""
    mounts = _mounts()
    v2 = [path for kind, path, _ in mounts if kind == "cgroup2"]
    for tree in v2:
        controllers = _read(tree / "cgroup.controllers").split()
        if all(c in controllers for c in CONTROLLERS) and _prepare_v2_parent(tree):
            return Hierarchies(2, (tree,))
    v1: dict[str, Path] = {}
    for kind, path, options in mounts:
        if kind == "cgroup":
            for controller in CONTROLLERS:
                if controller in options.split(","):
                    v1.setdefault(controller, path)
    if all(c in v1 for c in CONTROLLERS):
        trees = tuple(v1[c] for c in CONTROLLERS)
        accounting = next(
            (path for kind, path, options in mounts if kind == "cgroup" and "cpuacct" in options.split(",")), None
        )
        if accounting is not None and accounting not in trees:
            trees = (*trees, accounting)
        try:
            for tree in trees:
                (tree / PARENT).mkdir(mode=0o755, exist_ok=True)
        except OSError:
            return None
        return Hierarchies(1, trees, accounting)
    return None


@dataclass(frozen=True)
class CgroupLimits:
    memory_bytes: int
    max_processes: int
    cpus: float


class SandboxGroup:
    """The groups of one sandbox in every hierarchy; create, then the launcher joins `procs_files`."""

    def __init__(self, hierarchies: Hierarchies, name: str) -> None:
        self.hierarchies = hierarchies
        self.paths = hierarchies.groups(name)

    @property
    def procs_files(self) -> list[str]:
        return [str(path / "cgroup.procs") for path in self.paths]

    def create(self, limits: CgroupLimits) -> None:
        """Make the groups fresh (emptying a stale one first) and set the limits."""
        self.kill()
        self.remove()
        for path in self.paths:
            path.mkdir(mode=0o755, exist_ok=True)  # a group still busy with zombies is reused
        memory = str(limits.memory_bytes)
        quota = str(max(int(limits.cpus * CPU_PERIOD_US), 1000))
        if self.hierarchies.version == 2:
            group = self.paths[0]
            _write(group / "memory.max", memory)
            _write(group / "memory.swap.max", "0", optional=True)
            _write(group / "pids.max", str(limits.max_processes))
            _write(group / "cpu.max", f"{quota} {CPU_PERIOD_US}")
            return
        memory_group, pids_group, cpu_group = self.paths[:3]
        _write(memory_group / "memory.limit_in_bytes", memory)
        # With swap accounting, memory plus swap gets the same cap: no swapping out of the limit.
        _write(memory_group / "memory.memsw.limit_in_bytes", memory, optional=True)
        _write(pids_group / "pids.max", str(limits.max_processes))
        _write(cpu_group / "cpu.cfs_period_us", str(CPU_PERIOD_US))
        _write(cpu_group / "cpu.cfs_quota_us", quota)

    def pids(self) -> list[int]:
        """Every process in the group (the pids tree on v1)."""
        path = self.paths[0] if self.hierarchies.version == 2 else self.paths[1]
        return [int(line) for line in _read(path / "cgroup.procs").split()]

    def kill(self, spare: int | None = None) -> None:
        """SIGKILL every process in the group, however it got there (setsid, double fork), but
        `spare`: the supervisor's own child, left to reap what it started and exit by itself
        (killed together, its children would be orphans for the host's init to reap)."""
        if self.hierarchies.version == 2 and spare is None:
            kill_file = self.paths[0] / "cgroup.kill"
            if kill_file.exists():
                _write(kill_file, "1", optional=True)
                return
        for _ in range(_KILL_PASSES):
            pids = [pid for pid in self.pids() if pid != spare]
            if not pids:
                return
            for pid in pids:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGKILL)
            time.sleep(0.001)

    def remove(self) -> bool:
        """Remove the (emptied) groups; False when one is still busy after a short wait."""
        deadline = time.monotonic() + _REMOVE_SECONDS
        for path in self.paths:
            while True:
                try:
                    path.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:  # EBUSY: a killed process is not reaped yet
                    if time.monotonic() > deadline:
                        return False
                    self.kill()
                    time.sleep(0.005)
        return True

    def cpu_seconds(self) -> float | None:
        """CPU time used by every process of the group so far, when the kernel reports it."""
        if self.hierarchies.version == 2:
            for line in _read(self.paths[0] / "cpu.stat").splitlines():
                key, _, value = line.partition(" ")
                if key == "usage_usec" and value.strip().isdigit():
                    return int(value) / 1e6
            return None
        if self.hierarchies.accounting is None:
            return None
        group = self.hierarchies.accounting / PARENT / self.paths[0].name
        text = _read(group / "cpuacct.usage").strip()
        return int(text) / 1e9 if text.isdigit() else None

    def memory_peak(self) -> int | None:
        """The most memory the group used, in bytes, when the kernel reports it."""
        group = self.paths[0]
        name = "memory.peak" if self.hierarchies.version == 2 else "memory.max_usage_in_bytes"
        text = _read(group / name).strip()
        return int(text) if text.isdigit() else None

    def memory_current(self) -> int | None:
        """The memory the group uses now (resident pages and its tmpfs files), in bytes."""
        group = self.paths[0]
        text = _read(group / ("memory.current" if self.hierarchies.version == 2 else "memory.usage_in_bytes")).strip()
        return int(text) if text.isdigit() else None

    def oom_killed(self) -> bool:
        """Whether the kernel killed a process of the group for exceeding its memory limit."""
        group = self.paths[0]
        if self.hierarchies.version == 2:
            for line in _read(group / "memory.events").splitlines():
                key, _, value = line.partition(" ")
                if key == "oom_kill":
                    return value.strip() not in ("", "0")
            return False
        for line in _read(group / "memory.oom_control").splitlines():
            key, _, value = line.partition(" ")
            if key == "oom_kill":
                return value.strip() not in ("", "0")
        return False


def favor_dynamic_changes() -> bool:
    """Ask the kernel to favour cgroup changes over fork and exit, host-wide: the `favordynmods`
    option of a cgroup2 mount (Linux 6.0+). Without it, the first move of a process into a group
    waits for an RCU grace period (~15 ms on this project's machines, on every sandbox start); with
    it the move takes ~0.4 ms, and forks and exits pay a little more. The mount's other options are
    kept. True when the option is on (already or now); False where there is no cgroup2 mount, the
    kernel does not know it, or the platform may not remount."""
    for kind, path, options in _mounts():
        if kind != "cgroup2":
            continue
        current = options.split(",")
        if "favordynmods" in current:
            return True
        kept = [option for option in current if option not in ("rw", "ro", "relatime", "noatime")]
        wanted = ",".join(["remount", *kept, "favordynmods"])
        try:
            done = subprocess.run(  # noqa: S603 - fixed argv
                ["/bin/mount", "-o", wanted, str(path)], capture_output=True, timeout=10, check=False
            )
        except (OSError, subprocess.SubprocessError):
            return False
        return done.returncode == 0
    return False


def _prepare_v2_parent(tree: Path) -> bool:
    """Enable the controllers for `rlarena/*` in a v2 tree; False when the tree is not ours to use."""
    try:
        _write(tree / "cgroup.subtree_control", "+memory +pids +cpu")
        parent = tree / PARENT
        parent.mkdir(mode=0o755, exist_ok=True)
        _write(parent / "cgroup.subtree_control", "+memory +pids +cpu")
    except OSError:
        return False
    return True


def _mounts() -> list[tuple[str, Path, str]]:
    found = []
    for line in _read(Path("/proc/self/mounts")).splitlines():
        fields = line.split()
        if len(fields) >= 4 and fields[2] in ("cgroup", "cgroup2"):
            found.append((fields[2], Path(fields[1]), fields[3]))
    return found


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError:
        return ""


def _write(path: Path, value: str, *, optional: bool = False) -> None:
    try:
        with open(path, "w") as handle:
            handle.write(value)
    except OSError:
        if not optional:
            raise
