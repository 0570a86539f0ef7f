"""Generate the Python gRPC code from protos/*.proto into shared/src/rlarena/grpc_gen/.

`make protos` runs this; tests/unit/test_protos.py regenerates into a temporary folder and fails
if the committed code differs (never edit the generated files by hand).
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
PACKAGE = "rlarena/grpc_gen"
HEADER = "# Generated from protos/ by protos/generate.py (grpcio-tools). Do not edit.\n"


def generate(out_root: Path) -> list[Path]:
    """Write the generated modules under out_root/rlarena/grpc_gen and return their paths."""
    from grpc_tools import protoc

    target = out_root / PACKAGE
    target.mkdir(parents=True, exist_ok=True)
    protos = sorted(HERE.glob("*.proto"))
    include = str(Path(protoc.__file__).parent / "_proto")
    # The virtual include path makes generated imports read `from rlarena.grpc_gen import ...`.
    arguments = [
        "grpc_tools.protoc",
        f"-I{PACKAGE}={HERE}",
        f"-I{include}",
        f"--python_out={out_root}",
        f"--pyi_out={out_root}",
        f"--grpc_python_out={out_root}",
        *[f"{PACKAGE}/{proto.name}" for proto in protos],
    ]
    if protoc.main(arguments) != 0:
        raise SystemExit("protoc failed")
    written = sorted(p for p in target.iterdir() if p.suffix in (".py", ".pyi") and p.name != "__init__.py")
    for path in written:
        path.write_text(HEADER + path.read_text())
    (target / "__init__.py").write_text('"""Generated gRPC code (see protos/generate.py)."""\n')
    return written


if __name__ == "__main__":
    root = Path(sys.argv[1]) if len(sys.argv) > 1 else HERE.parent / "shared" / "src"
    for path in generate(root):
        print(path)
