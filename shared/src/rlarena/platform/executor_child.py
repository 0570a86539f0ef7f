"""The local platform's executor: `rlarena executor` as a supervised child process.

Agent code never runs in the platform's process: the executor is its own process (as it is its
own Service on a cluster), reached over real gRPC at EXECUTOR_URL, and it reports results to the
local broker's ingress exactly as it would to K_SINK on a cluster, with the broker token the
ingress requires (BROKER_TOKEN, in its environment only). If it dies, the supervisor starts it
again; the matches it was running are failed by the reaper at their deadline.

Ctrl-C in the terminal signals the whole foreground process group; the executor is started in a
session (and process group) of its own so it never gets that SIGINT directly. The platform stops
it itself (`stop`): SIGTERM, then the executor's grace period (EXECUTOR_SHUTDOWN_GRACE_SECONDS)
plus a margin for storing and announcing results, and only then SIGKILL.

It dies with the platform, too: a SIGKILLed platform must not leave an orphan holding the
executor's port (the next `make dev` could not start) and running matches nobody will record. The
child is started with `--parent-pid <this pid>` and, as its first act, asks the kernel for SIGKILL
when its parent goes (PR_SET_PDEATHSIG, `die_with_parent`), then exits at once if the parent is
already gone. Nothing runs between fork and exec (no preexec_fn: the platform is multi-threaded).
"""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable

from rlarena.errors import ConfigurationError

log = logging.getLogger("rlarena.local.executor")

RESTART_DELAY_S = 1.0
READY_TIMEOUT_S = 60.0
# After the executor's own grace period: time to store, announce or spool results, and to exit.
STOP_MARGIN_S = 15.0
# prctl(2) option: the signal this process gets when the thread that created it exits.
PR_SET_PDEATHSIG = 1
# Where the kernel cannot do it (not Linux): how often a watcher thread checks for the parent.
PARENT_POLL_S = 0.5


def listen_address(executor_url: str) -> str:
    host, _, port = executor_url.rpartition(":")
    if not port.isdigit() or not host:
        raise ConfigurationError(f"EXECUTOR_URL must be host:port for the local executor, not {executor_url!r}")
    return f"127.0.0.1:{port}" if host in ("localhost", "127.0.0.1") else f"{host}:{port}"


def die_with_parent(parent_pid: int) -> None:
    """Make this process die with `parent_pid`, its parent: SIGKILL from the kernel when it exits.

    Called first thing by the child itself (after exec, so no code runs between fork and exec).
    If the parent died before this ran, the child was already handed to init: it exits at once.
    The kernel's "parent" is the thread that spawned the child, so the platform spawns it from
    threads that live as long as it does (the main thread, the supervisor).
    """
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        prctl = libc.prctl
    except (OSError, AttributeError):  # not Linux: watch for the parent instead
        threading.Thread(target=_exit_when_orphaned, args=(parent_pid,), name="parent-watch", daemon=True).start()
    else:
        if prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
            error = ctypes.get_errno()
            raise OSError(error, f"prctl(PR_SET_PDEATHSIG) failed: {os.strerror(error)}")
    if os.getppid() != parent_pid:
        print(f"rlarena executor: the platform (pid {parent_pid}) is gone; exiting", file=sys.stderr, flush=True)
        os._exit(1)


def _grace_from_environment() -> float:
    from rlarena.config import Settings, load_settings

    try:
        return load_settings().executor_shutdown_grace_seconds
    except ConfigurationError:  # the child reports the bad setting itself
        return float(Settings.model_fields["executor_shutdown_grace_seconds"].default)


def _exit_when_orphaned(parent_pid: int) -> None:
    while os.getppid() == parent_pid:
        time.sleep(PARENT_POLL_S)
    os._exit(1)


class ExecutorChild:
    def __init__(
        self,
        executor_url: str,
        broker_url: str,
        on_restart: Callable[[], None] | None = None,
        *,
        broker_token: str | None = None,
        shutdown_grace_s: float | None = None,
    ) -> None:
        self._on_restart = on_restart
        self._address = listen_address(executor_url)
        self._url = executor_url
        self._broker_url = broker_url
        self._broker_token = broker_token
        # The child's grace (given to it, so both sides agree); by default what the environment says.
        self._grace = shutdown_grace_s if shutdown_grace_s is not None else _grace_from_environment()
        self._process: subprocess.Popen[bytes] | None = None
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._supervisor: threading.Thread | None = None

    @property
    def pid(self) -> int | None:
        with self._lock:
            return self._process.pid if self._process is not None else None

    def start(self) -> None:
        self._spawn()
        self.wait_ready()
        self._supervisor = threading.Thread(target=self._supervise, name="executor-supervisor", daemon=True)
        self._supervisor.start()

    def wait_ready(self, timeout: float = READY_TIMEOUT_S) -> None:
        """Block until the executor answers HealthCheck (it installs the agent runtime first)."""
        import grpc

        from rlarena.grpc_gen import executor_pb2, executor_pb2_grpc

        deadline = time.monotonic() + timeout
        with grpc.insecure_channel(self._url) as channel:
            stub = executor_pb2_grpc.ExecutorStub(channel)  # type: ignore[no-untyped-call]
            while True:
                try:
                    stub.HealthCheck(executor_pb2.HealthCheckRequest(), timeout=2)
                    log.info("executor ready at %s (pid %s)", self._url, self.pid)
                    return
                except grpc.RpcError:
                    with self._lock:
                        exited = self._process is not None and self._process.poll() is not None
                    if exited or time.monotonic() > deadline:
                        raise ConfigurationError(
                            f"the local executor did not start on {self._address}: is the port free? "
                            "(set EXECUTOR_URL to another port, or LOCAL_EXECUTOR=false to run it yourself)"
                        ) from None
                    time.sleep(0.2)

    @property
    def stop_timeout(self) -> float:
        """How long `stop` waits after SIGTERM before it kills the executor."""
        return self._grace + STOP_MARGIN_S

    def stop(self) -> None:
        self._stopping.set()
        with self._lock:
            process = self._process
        if process is None or process.poll() is not None:
            return
        process.terminate()  # graceful: running matches finish and store their results within the grace
        try:
            process.wait(self.stop_timeout)
        except subprocess.TimeoutExpired:
            log.warning("the executor did not stop within %.0f s of SIGTERM; killing it", self.stop_timeout)
            process.kill()
            process.wait()

    def _spawn(self) -> None:
        environment = dict(
            os.environ,
            K_SINK=self._broker_url,
            EXECUTOR_URL=self._url,
            EXECUTOR_SHUTDOWN_GRACE_SECONDS=f"{self._grace:g}",
        )
        if self._broker_token:
            environment["BROKER_TOKEN"] = self._broker_token
        command = [
            sys.executable, "-m", "rlarena.cli", "executor", "--address", self._address,
            "--parent-pid", str(os.getpid()),
        ]  # fmt: skip
        with self._lock:
            # A session of its own: a terminal's Ctrl-C (SIGINT to the foreground process group)
            # reaches the platform only, which then stops the executor gracefully. setsid() is done
            # by the C code between fork and exec, no Python runs there.
            self._process = subprocess.Popen(  # noqa: S603 - our own interpreter and a fixed argv
                command, env=environment, stdin=subprocess.DEVNULL, start_new_session=True
            )

    def _supervise(self) -> None:
        while not self._stopping.is_set():
            with self._lock:
                process = self._process
            if process is None:
                return
            code = process.wait()
            if self._stopping.is_set():
                return
            log.warning("the executor exited (code %s); starting it again", code)
            if self._on_restart is not None:
                try:
                    self._on_restart()
                except Exception:  # the restart matters more than the bookkeeping
                    log.exception("could not fail the matches the executor was running")
            time.sleep(RESTART_DELAY_S)
            if self._stopping.is_set():
                return
            try:
                self._spawn()
                self.wait_ready()
            except ConfigurationError as error:
                log.error("%s", error.message)
