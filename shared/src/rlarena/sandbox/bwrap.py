"""The bubblewrap command line of the strict sandbox: namespaces and the filesystem view.

bubblewrap runs unprivileged (the launcher has already dropped to the sandbox's pool uid), so it
builds everything in a user namespace of its own: a new root on a tmpfs holding

- the system's /usr read-only (with /bin, /lib, ... as the host has them: links into /usr on a
  merged-/usr system) and a few read-only files of /etc the C library and Python read;
- the folders the caller gives, at their own paths, read-only unless a mount says otherwise;
- an interpreter that lives outside /usr (a virtual environment, pyenv), read-only;
- a private tmpfs at /tmp and another at /dev/shm, each capped at `tmp_bytes`;
- a minimal /dev (null, zero, full, random, urandom, tty) and the /proc of its own pid namespace.

Nothing else of the host is there: no DATA_DIR, no other agent's folders, no /var, no /home, no
/root, no host /proc. Namespaces: user (nested user namespaces disabled), pid, mount, ipc, uts,
cgroup and network (unless the caller allows the network, as a package install step would). The
command runs as its pid namespace's init (pid 1), in a new session (no terminal to inject into),
with no capabilities and no_new_privs; `--die-with-parent` kills it, and with it every process of
its namespace, when the sandbox's supervisor goes.
"""

from __future__ import annotations

import os
from pathlib import Path

# bubblewrap's own exit status when it cannot set the sandbox up (its message is on stderr).
SETUP_FAILED = 1
SYSTEM_FOLDERS = ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
ETC_FILES = ("/etc/ld.so.cache", "/etc/localtime")
HOSTNAME = "sandbox"


def command(
    bwrap: str,
    *,
    mounts: list[tuple[Path, bool]],
    cwd: Path,
    tmp_bytes: int,
    network: bool,
    seccomp_fd: int | None,
) -> list[str]:
    """bwrap and its options, ending with `--`: the program and its arguments follow."""
    args = [bwrap, "--unshare-all", "--unshare-user", "--unshare-cgroup", "--disable-userns"]
    if network:
        args.append("--share-net")
    # --as-pid-1: the command is its namespace's init, with no bubblewrap init between. bubblewrap
    # then waits for the command itself, so nothing of the sandbox outlives it as an orphan for the
    # host's init to reap, and when it dies the kernel kills the rest of its namespace.
    args += ["--as-pid-1", "--die-with-parent", "--new-session", "--hostname", HOSTNAME, "--cap-drop", "ALL"]
    args += ["--ro-bind", "/usr", "/usr"]
    for folder in SYSTEM_FOLDERS:
        if os.path.islink(folder):
            args += ["--symlink", os.readlink(folder), folder]
        elif os.path.isdir(folder):
            args += ["--ro-bind", folder, folder]
    for file in ETC_FILES:
        if os.path.exists(file):
            args += ["--ro-bind", file, file]
    if network and os.path.exists("/etc/resolv.conf"):
        args += ["--ro-bind", "/etc/resolv.conf", "/etc/resolv.conf"]
        if os.path.isdir("/etc/ssl"):
            args += ["--ro-bind", "/etc/ssl", "/etc/ssl"]
    args += ["--proc", "/proc", "--dev", "/dev"]
    args += ["--size", str(tmp_bytes), "--tmpfs", "/tmp"]  # noqa: S108 - the sandbox's own tmpfs
    args += ["--size", str(tmp_bytes), "--tmpfs", "/dev/shm"]  # noqa: S108 - its own, too
    # Deeper paths after shallower ones: a folder under /tmp lands on the new tmpfs.
    for path, writable in sorted(dict.fromkeys(mounts), key=lambda item: len(item[0].parts)):
        args += ["--bind" if writable else "--ro-bind", str(path), str(path)]
    args += ["--chdir", str(cwd)]
    if seccomp_fd is not None:
        args += ["--seccomp", str(seccomp_fd)]
    args.append("--")
    return args


def interpreter_mounts(program: str) -> list[tuple[Path, bool]]:
    """Read-only mounts an interpreter outside /usr needs: its installation and, for a virtual
    environment, the environment itself (both found from the program's path)."""
    found: list[tuple[Path, bool]] = []
    given = Path(os.path.abspath(program))
    resolved = given.resolve()
    for path in (given, resolved):
        if path.is_relative_to("/usr") or path.parent.name != "bin":
            continue
        prefix = path.parent.parent
        if prefix != Path("/"):
            found.append((prefix, False))
    return found
