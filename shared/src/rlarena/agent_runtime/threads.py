"""One thread for numerical libraries inside a sandbox: `limit()` runs before the agent is loaded.

A sandbox has one CPU's share and a cap on processes and threads (the cgroup's pids limit), yet
OpenBLAS, OpenMP and onnxruntime start a thread per core they see: dozens on a large host, each
one slower than none under a one-CPU quota, and enough to reach the cap. The variables below are
read by those libraries when they load (python -I ignores only PYTHON* variables), and
onnxruntime, which reads none of them for its thread pools, gets sessions of one intra-op and one
inter-op thread unless the agent asks for more itself. Standard library only, and cheap: nothing is imported here.
"""

from __future__ import annotations

import os
import sys
from importlib.machinery import ModuleSpec, PathFinder
from types import ModuleType
from typing import Any

THREAD_VARIABLES = {
    "OMP_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "NUMEXPR_NUM_THREADS": "1",
    "VECLIB_MAXIMUM_THREADS": "1",
    # onnxruntime >= 1.29 starts a telemetry uploader thread when it loads (it tries to reach
    # Microsoft's collector, which a sandbox cannot anyway); this variable, read at that moment,
    # keeps it from starting, so a warm sandbox can load onnxruntime and still fork cleanly.
    "ORT_DISABLE_TELEMETRY": "1",
}
ONNXRUNTIME = "onnxruntime"


def limit() -> None:
    for name, value in THREAD_VARIABLES.items():
        os.environ.setdefault(name, value)
    if ONNXRUNTIME not in sys.modules:
        sys.meta_path.insert(0, _OnnxRuntimeFinder())


class _OnnxRuntimeFinder:
    """Finds onnxruntime like the path finder would, and patches it once it has loaded."""

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> ModuleSpec | None:
        if name != ONNXRUNTIME:
            return None
        sys.meta_path.remove(self)
        spec = PathFinder.find_spec(name, path)
        if spec is None or spec.loader is None:
            return spec
        loader: Any = spec.loader
        execute = loader.exec_module

        def exec_module(module: ModuleType) -> None:
            execute(module)
            single_threaded_sessions(module)

        loader.exec_module = exec_module
        return spec


def single_threaded_sessions(onnxruntime: ModuleType) -> None:
    """InferenceSession's thread counts default to 1 instead of the number of cores."""
    session_class: Any = getattr(onnxruntime, "InferenceSession", None)
    options_class: Any = getattr(onnxruntime, "SessionOptions", None)
    if session_class is None or options_class is None:
        return
    original = session_class.__init__

    def __init__(self: Any, path_or_bytes: Any, sess_options: Any = None, *args: Any, **kwargs: Any) -> None:  # noqa: N807
        options = sess_options if sess_options is not None else options_class()
        if options.intra_op_num_threads == 0:
            options.intra_op_num_threads = 1
        if options.inter_op_num_threads == 0:
            options.inter_op_num_threads = 1
        original(self, path_or_bytes, options, *args, **kwargs)

    session_class.__init__ = __init__
