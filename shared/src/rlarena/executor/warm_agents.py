"""Warm sandboxes for the local match runner: each agent's libraries loaded once, a forked copy per match.

`WarmAgents.session` gives the runner a `ForkedSession` for one player of one match: from an idle
zygote of that agent (same code, entry point, runtime, packages and limits), or from a new one it
starts. A zygote serves one match at a time, so the two players of a match, even two copies of one
agent, always get two zygotes: two uids, two cgroups, two sets of namespaces, as cold.

`None` means "start it cold": warm sandboxes are off on this host (no strict sandbox), loading the
agent's libraries left something a copy could carry to the next match (remembered, with the
reason), or the zygote failed. The zygote never runs the agent's code: each copy imports the agent
(rlarena.agent_runtime.zygote, rlarena.agent_runtime.preload). A zygote that dies or stops
answering is closed and the match goes on cold: a warm sandbox never costs a match.

Idle zygotes are kept while together they use at most `memory_budget_bytes` (their cgroups'
usage); beyond it the least recently used are closed.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from rlarena.sandbox import staging, support
from rlarena.sandbox.forked import ForkedSession, WarmSandbox, WarmSandboxBroken
from rlarena.sandbox.installed_packages import packages_of
from rlarena.sandbox.process import Mount, SandboxLimits, require_readable_tree

if TYPE_CHECKING:
    from rlarena.sandbox.runtime_install import AgentRuntime

ZYGOTE_MODULE = "rlarena.agent_runtime.zygote"
_AGENT_FOLDER = "agent"


@dataclass(frozen=True)
class WarmKey:
    folder: Path
    entry_point: str
    changed_ns: int  # the entry file's mtime: a rebuilt agent is another agent
    runtime: Path
    python: str
    packages: Path | None
    limits: SandboxLimits


class WarmAgents:
    def __init__(self, memory_budget_bytes: int) -> None:
        self.memory_budget_bytes = memory_budget_bytes
        self._idle: OrderedDict[WarmKey, list[WarmSandbox]] = OrderedDict()
        self._cold: dict[WarmKey, str] = {}
        self._lock = threading.Lock()
        self._closed = False
        self.started = 0  # zygotes started, for tests and benchmarks
        self.uids: set[int] = set()  # the pool uids they ran as
        self.reclaimed = 0  # idle zygotes closed to keep within the budget

    def session(
        self,
        folder: Path,
        entry_point: str,
        player: int,
        runtime: AgentRuntime,
        limits: SandboxLimits,
        *,
        stderr_cap_bytes: int,
        startup_timeout_s: float,
    ) -> ForkedSession | None:
        key = self._key(folder, entry_point, runtime, limits)
        if key is None or not support.detect().strict:
            return None
        with self._lock:
            if self._closed or key in self._cold:
                return None
            sandbox = self._take_idle(key)
        if sandbox is None:
            sandbox = self._start(key, startup_timeout_s)
            if sandbox is None:
                return None
        try:
            session = sandbox.fork(player, stderr_cap_bytes)
        except WarmSandboxBroken:
            sandbox.close()
            return None
        session.on_end = lambda ended, usable: self._give_back(key, ended, usable)
        return session

    def cold_reason(self, folder: Path, entry_point: str) -> str:
        """Why that agent plays cold ("" when it does not, or is not known yet)."""
        with self._lock:
            return next(
                (why for key, why in self._cold.items() if key.folder == folder and key.entry_point == entry_point), ""
            )

    def idle_count(self) -> int:
        with self._lock:
            return sum(len(sandboxes) for sandboxes in self._idle.values())

    def close(self) -> None:
        with self._lock:
            self._closed = True
            idle = [sandbox for sandboxes in self._idle.values() for sandbox in sandboxes]
            self._idle.clear()
        for sandbox in idle:
            sandbox.close()

    def _key(self, folder: Path, entry_point: str, runtime: AgentRuntime, limits: SandboxLimits) -> WarmKey | None:
        try:
            changed = (folder / entry_point).stat().st_mtime_ns
        except OSError:
            return None  # the cold start reports the missing entry point
        return WarmKey(folder, entry_point, changed, runtime.path, runtime.python, packages_of(folder), limits)

    def _take_idle(self, key: WarmKey) -> WarmSandbox | None:
        sandboxes = self._idle.get(key)
        if not sandboxes:
            return None
        sandbox = sandboxes.pop()
        if not sandboxes:
            del self._idle[key]
        return sandbox

    def _start(self, key: WarmKey, startup_timeout_s: float) -> WarmSandbox | None:
        from rlarena.sandbox.runtime_install import AgentRuntime

        runtime = AgentRuntime(key.python, key.runtime)
        require_readable_tree(runtime.path, "agent runtime")
        code = staging.stage_copy(key.folder, "warm-", _AGENT_FOLDER)
        argv = runtime.module_argv(ZYGOTE_MODULE, str(code), key.entry_point, packages=key.packages)
        mounts = [Mount(code), Mount(runtime.path), *([Mount(key.packages)] if key.packages else [])]
        try:
            sandbox = WarmSandbox(
                argv, cwd=code, limits=key.limits, mounts=mounts, on_close=lambda: staging.discard(code)
            )
        except BaseException:
            staging.discard(code)
            raise
        self.started += 1
        self.uids.add(sandbox.uid)
        reason = sandbox.wait_ready(startup_timeout_s)
        if reason:
            sandbox.close()
            with self._lock:
                self._cold[key] = reason
            return None
        return sandbox

    def _give_back(self, key: WarmKey, sandbox: WarmSandbox, usable: bool) -> None:
        if not usable or sandbox.closed:
            sandbox.close()
            return
        sandbox.last_used = time.monotonic()
        with self._lock:
            if self._closed:
                keep = False
            else:
                keep = True
                self._idle.setdefault(key, []).append(sandbox)
                self._idle.move_to_end(key)
        if not keep:
            sandbox.close()
            return
        self._reclaim()

    def _reclaim(self) -> None:
        """Close the least recently used idle zygotes while together they exceed the budget."""
        with self._lock:
            idle = sorted(
                ((sandbox.last_used, key, sandbox) for key, sandboxes in self._idle.items() for sandbox in sandboxes),
                key=lambda item: item[0],
            )
        used = {id(sandbox): sandbox.memory_bytes() for _, _, sandbox in idle}
        total = sum(used.values())
        doomed: list[WarmSandbox] = []
        with self._lock:
            for _, key, sandbox in idle:
                if total <= self.memory_budget_bytes:
                    break
                sandboxes = self._idle.get(key, [])
                if sandbox in sandboxes:
                    sandboxes.remove(sandbox)
                    if not sandboxes:
                        del self._idle[key]
                    total -= used[id(sandbox)]
                    doomed.append(sandbox)
        for sandbox in doomed:
            with contextlib.suppress(Exception):
                sandbox.close()
            self.reclaimed += 1
