"""`python -m rlarena.agent_docs [--check] [PATH]`: write docs/agents.md, or exit 1 when it is stale."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rlarena.agent_docs.interface import DOCUMENT


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m rlarena.agent_docs", description=__doc__)
    parser.add_argument("path", nargs="?", type=Path, default=Path(DOCUMENT), help=f"default: {DOCUMENT}")
    parser.add_argument("--check", action="store_true", help="only compare; exit 1 when the file differs")
    arguments = parser.parse_args(argv)

    from rlarena.agent_docs.markdown import render

    text = render()
    path: Path = arguments.path
    if arguments.check:
        current = path.read_text(encoding="utf-8") if path.exists() else ""
        if current != text:
            print(f"{path} is stale: run python -m rlarena.agent_docs", file=sys.stderr)
            return 1
        return 0
    path.write_text(text, encoding="utf-8")
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
