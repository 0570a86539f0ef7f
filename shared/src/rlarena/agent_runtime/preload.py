"""What a warm sandbox loads before any match: the libraries an agent imports that the platform trusts.

A zygote (`rlarena.agent_runtime.zygote`) never runs the agent's code, but it can spare every copy
the import of the big libraries the agent uses (numpy ~90 ms, onnxruntime ~100 ms), as long as the
code that runs is the platform's own:

- the names come from the agent's files read with `ast` (parsed, never run): `import x.y`,
  `from x import y` at any depth of the file, relative imports excluded;
- a name is loaded only when it comes from the interpreter itself (its standard library, the
  agent runtime's site-packages) or from the runtime folder, and the agent's own folder does not
  provide a module of that name first (the copy would import the agent's own; so would a cold
  start);
- while they load, sys.path holds those trusted folders only: a library's own optional import
  cannot reach the agent's installed requirements. `restore_path()` (in each copy, before the
  agent is imported) puts the requirements back where the bootstrap put them.

The agent's own files are compiled here too (`compile_agent`: compiling runs nothing of them) and
read into `linecache`, so that each copy's import and interface detection skip what a cold start
does with a read-only folder (no `__pycache__`): its import is then the module's execution alone.

Standard library only, like the rest of the runtime; the work happens in `trusted_libraries()` and
`compile_agent()`.
"""

from __future__ import annotations

import ast
import contextlib
import importlib
import os
import sys
from collections.abc import Iterator
from importlib.machinery import ModuleSpec, PathFinder
from pathlib import Path
from types import CodeType
from typing import Any

MAX_FILES = 500
MAX_FILE_BYTES = 2 * 1024 * 1024
# Standard modules whose import does something (opens a browser, prints) or that are not libraries.
NEVER = frozenset({"antigravity", "this", "__main__", "__future__", "idlelib", "turtledemo", "rlarena"})

# What else a trusted library's common calls import on first use (np.load: zipfile and the .npy
# format; numpy's global generator), loaded with it.
COMPANIONS = {"numpy": ("numpy.random", "numpy.lib.format", "zipfile")}
# A platform-made ONNX model (MatMul, Add, Relu on [1, 2]): one session of it sets up onnxruntime's
# environment, allocator and those kernels once in the zygote (a copy's first session then costs
# ~4 ms instead of ~8). Made with onnx.helper: tests/unit/test_preload.py makes it again and compares.
WARM_UP_MODEL = (
    b'\x08\t\x12\x07rlarena:\x91\x01\n\x11\n\x01x\n\x01w\x12\x01m"\x06MatMul\n\x0e\n\x01m\n\x01'
    b'b\x12\x01s"\x03Add\n\x0c\n\x01s\x12\x01y"\x04Relu\x12\x04warm*\x1b\x08\x02\x08\x02\x10\x01B\x01w'
    b"J\x10\x00\x00\x80?\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x80?*\x11\x08\x02\x10\x01B\x01bJ\x08\x00\x00\x00\x00\x00\x00\x00\x00Z\x13\n"
    b"\x01x\x12\x0e\n\x0c\x08\x01\x12\x08\n\x02\x08\x01\n\x02\x08\x02b\x13\n\x01y\x12\x0e\n\x0c\x08\x01\x12\x08\n\x02\x08\x01\n\x02\x08\x02B"
    b"\x04\n\x00\x10\x11"
)

_ORIGINAL_PATH: list[str] = []  # sys.path as the bootstrap left it, kept for the copies
_CONFLICTS: list[str] = []  # see conflicts()
_COMPILED: dict[str, tuple[int, int, CodeType]] = {}  # the agent's files: path -> (mtime_ns, size, code)


def trusted_libraries(folder: Path, entry_point: str) -> list[str]:
    """Import the trusted libraries the agent in `folder` imports; the third-party ones it loaded."""
    names = imported_names(folder)
    before = set(sys.modules)
    _ORIGINAL_PATH[:] = sys.path
    trusted = trusted_path()
    agent_first = [str((folder / entry_point).parent), str(folder)]
    sys.path[:] = trusted
    loaded: list[str] = []
    for name in sorted(names):
        top = name.partition(".")[0]
        if top in NEVER or name in sys.modules:
            continue
        if not _trusted(top, trusted, agent_first + _ORIGINAL_PATH):
            continue
        try:
            importlib.import_module(name)
        except BaseException:  # noqa: S112 - a library that fails here is imported (and reported) by the copy
            continue
        if top not in sys.stdlib_module_names and top not in loaded:
            loaded.append(top)
    _warm_up(loaded)
    as_the_copy_sees = agent_first + _ORIGINAL_PATH
    new = {name.partition(".")[0] for name in set(sys.modules) - before}
    _CONFLICTS[:] = sorted(top for top in new if _shadowed(top, trusted, as_the_copy_sees))
    return loaded


def conflicts() -> list[str]:
    """Modules the libraries loaded here imported that the agent's folder or its requirements
    provide too: a copy would find the platform's where a cold start finds the agent's (e.g. an
    agent that pins its own numpy and imports onnxruntime). Such an agent must play cold."""
    return list(_CONFLICTS)


def _warm_up(loaded: list[str]) -> None:
    for top in loaded:
        for name in COMPANIONS.get(top, ()):
            with contextlib.suppress(Exception):
                importlib.import_module(name)
    onnxruntime: Any = sys.modules.get("onnxruntime")
    if onnxruntime is not None and "numpy" in sys.modules:
        numpy: Any = sys.modules["numpy"]
        with contextlib.suppress(Exception):
            session = onnxruntime.InferenceSession(WARM_UP_MODEL, providers=["CPUExecutionProvider"])
            session.run(None, {"x": numpy.zeros((1, 2), dtype=numpy.float32)})


def compile_agent(folder: Path) -> None:
    """Compile the agent's Python files and read them into linecache, for every copy to reuse."""
    import linecache

    from rlarena.agent_runtime import detection

    for path in _python_files(folder):
        filename = os.path.realpath(path)
        try:
            facts = os.stat(filename)
            with open(filename, "rb") as source:
                data = source.read()
            code = compile(data, filename, "exec", dont_inherit=True)
        except (OSError, SyntaxError, ValueError, RecursionError, MemoryError):
            continue  # the copy's own import reports it
        _COMPILED[filename] = (facts.st_mtime_ns, facts.st_size, code)
        linecache.getlines(filename)
        detection.read_file(filename, data)


def use_compiled() -> None:
    """In a copy: the import system takes the agent's files compiled by `compile_agent` (when they
    are still the files that were compiled) instead of compiling them again."""
    if not _COMPILED:
        return
    from importlib.machinery import SourceFileLoader

    compile_again = SourceFileLoader.get_code

    def get_code(self: Any, fullname: str) -> CodeType | None:
        filename = os.path.realpath(self.get_filename(fullname))
        known = _COMPILED.get(filename)
        if known is not None:
            with contextlib.suppress(OSError):
                facts = os.stat(filename)
                if (facts.st_mtime_ns, facts.st_size) == known[:2]:
                    return known[2]
        code: CodeType | None = compile_again(self, fullname)
        return code

    SourceFileLoader.get_code = get_code  # type: ignore[method-assign]


def restore_path() -> None:
    """sys.path as the bootstrap left it (with the agent's installed requirements, if any)."""
    if _ORIGINAL_PATH:
        sys.path[:] = _ORIGINAL_PATH


def trusted_path() -> list[str]:
    """The sys.path entries whose code the platform installed: the interpreter's library folders and
    the runtime folder this package was loaded from."""
    import sysconfig

    own = {os.path.realpath(path) for key, path in sysconfig.get_paths().items() if key.endswith("lib")}
    own |= {os.path.realpath(os.path.join(path, "lib-dynload")) for path in list(own)}
    zipped = os.path.join(sys.base_prefix, "lib", f"python{sys.version_info[0]}{sys.version_info[1]}.zip")
    own.add(os.path.realpath(zipped))
    runtime = os.path.realpath(os.path.dirname(os.path.dirname(os.path.dirname(__file__))))
    own.add(runtime)
    return [entry for entry in sys.path if entry and os.path.realpath(entry) in own]


def imported_names(folder: Path) -> set[str]:
    """Absolute module names imported anywhere in the agent's Python files."""
    names: set[str] = set()
    for path in _python_files(folder):
        try:
            tree = ast.parse(path.read_bytes(), filename=str(path))
        except (OSError, SyntaxError, ValueError, RecursionError, MemoryError):
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module)
    return {name for name in names if all(part.isidentifier() for part in name.split("."))}


def _python_files(folder: Path) -> Iterator[Path]:
    count = 0
    for root, directories, files in os.walk(folder):
        directories.sort()
        for name in sorted(files):
            path = Path(root) / name
            if not name.endswith(".py"):
                continue
            with contextlib.suppress(OSError):
                if path.is_symlink() or path.stat().st_size > MAX_FILE_BYTES:
                    continue
                count += 1
                if count > MAX_FILES:
                    return
                yield path


def _trusted(top: str, trusted: list[str], as_the_copy_sees: list[str]) -> bool:
    """Whether `top` is found in the trusted folders, and found there first by the copy too."""
    if top in sys.builtin_module_names:
        return True
    ours = _find(top, trusted)
    if ours is None or (ours.origin is None and not ours.submodule_search_locations):
        return False
    theirs = _find(top, as_the_copy_sees)
    return theirs is not None and _where(theirs) == _where(ours)


def _shadowed(top: str, trusted: list[str], as_the_copy_sees: list[str]) -> bool:
    """Whether the copy would find `top` elsewhere than in the trusted folders (the agent's own)."""
    if top in sys.builtin_module_names:
        return False
    theirs = _find(top, as_the_copy_sees)
    if theirs is None:
        return False
    ours = _find(top, trusted)
    return ours is None or _where(theirs) != _where(ours)


def _find(name: str, path: list[str]) -> ModuleSpec | None:
    try:
        return PathFinder.find_spec(name, path)
    except (ImportError, OSError, ValueError):
        return None


def _where(spec: ModuleSpec) -> tuple[str | None, tuple[str, ...]]:
    return spec.origin, tuple(spec.submodule_search_locations or ())
