"""The system-call filter every sandboxed agent runs under, compiled by libseccomp.

A deny list on top of bubblewrap's namespaces: what an agent never needs and what would let it
reach past its namespaces or attack the kernel. Denied calls fail with EPERM (a program can report
it; nothing is killed mid-move), `clone3` with ENOSYS so the C library falls back to `clone`, whose
namespace flags the filter can see and refuses. System calls of another architecture (32-bit
x86 through int 0x80, say) kill the process: libseccomp's default for a foreign architecture.

The filter is compiled once per process (`bpf()`) and handed to bubblewrap as a file descriptor
(`bwrap --seccomp FD`), which installs it right before it execs the agent.
"""

from __future__ import annotations

import errno
import functools
import os
import tempfile
from typing import Any

# Tracing and reading other processes, namespaces and mounts, kernel keyrings, eBPF, performance
# counters, kernel modules and images, the clock, swap, quotas, accounting, raw I/O ports.
DENIED = (
    "ptrace",
    "process_vm_readv",
    "process_vm_writev",
    "kcmp",
    "pidfd_getfd",
    "mount",
    "umount2",
    "pivot_root",
    "chroot",
    "move_mount",
    "open_tree",
    "fsopen",
    "fsconfig",
    "fsmount",
    "fspick",
    "mount_setattr",
    "unshare",
    "setns",
    "keyctl",
    "add_key",
    "request_key",
    "bpf",
    "perf_event_open",
    "kexec_load",
    "kexec_file_load",
    "reboot",
    "init_module",
    "finit_module",
    "delete_module",
    "swapon",
    "swapoff",
    "acct",
    "quotactl",
    "settimeofday",
    "clock_settime",
    "clock_adjtime",
    "adjtimex",
    "syslog",
    "userfaultfd",
    "open_by_handle_at",
    "name_to_handle_at",
    "lookup_dcookie",
    "iopl",
    "ioperm",
    "fanotify_init",
    "vhangup",
)
CLONE_NAMESPACE_FLAGS = (
    0x00020000,  # CLONE_NEWNS
    0x02000000,  # CLONE_NEWCGROUP
    0x04000000,  # CLONE_NEWUTS
    0x08000000,  # CLONE_NEWIPC
    0x10000000,  # CLONE_NEWUSER
    0x20000000,  # CLONE_NEWPID
    0x40000000,  # CLONE_NEWNET
)


def available() -> bool:
    try:
        bpf()
    except (ImportError, OSError, RuntimeError, AttributeError):
        return False
    return True


@functools.cache
def bpf() -> bytes:
    """The compiled filter (raw BPF, as bubblewrap reads it)."""
    import pyseccomp as seccomp  # the ctypes bindings load libseccomp: only when asked

    rules: Any = seccomp.SyscallFilter(defaction=seccomp.ALLOW)
    for name in DENIED:
        try:
            rules.add_rule(seccomp.ERRNO(errno.EPERM), name)
        except (OSError, ValueError, RuntimeError):  # a call this kernel/libseccomp does not know
            continue
    rules.add_rule(seccomp.ERRNO(errno.ENOSYS), "clone3")
    for flag in CLONE_NAMESPACE_FLAGS:
        rules.add_rule(seccomp.ERRNO(errno.EPERM), "clone", seccomp.Arg(0, seccomp.MASKED_EQ, flag, flag))
    with tempfile.TemporaryFile() as handle:
        rules.export_bpf(handle)
        handle.seek(0)
        program = handle.read()
    if not program:
        raise RuntimeError("libseccomp exported an empty filter")
    return program


def memfd() -> int:
    """A fresh descriptor holding the filter at offset 0, for `bwrap --seccomp`."""
    fd = os.memfd_create("rlarena-seccomp")  # close-on-exec; Popen pass_fds hands it on
    try:
        os.write(fd, bpf())
        os.lseek(fd, 0, os.SEEK_SET)
    except OSError:
        os.close(fd)
        raise
    return fd
