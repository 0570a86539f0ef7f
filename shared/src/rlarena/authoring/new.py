"""`rlarena new GAME DIR`: a starter agent for GAME in a new folder DIR (main.py and a README.md
saying how to play, validate and submit it). The templates are package data beside this module,
one folder per game (`templates/<game>/main.py`) and one README for all (`templates/README.md`).
Exit codes: 0 written, 2 a usage error (unknown game, DIR exists and is not empty)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rlarena.authoring.games import add_game_argument, named_game

WRITTEN, USAGE = 0, 2


def configure(parser: argparse.ArgumentParser) -> None:
    add_game_argument(parser)
    parser.add_argument("dir", help="the folder to create (it must not exist, or be empty)")


def run(arguments: argparse.Namespace) -> int:
    from importlib import resources
    from string import Template

    from rlarena.house.catalogue import for_game

    spec = named_game("new", arguments.game)
    if spec is None:
        return USAGE
    folder = Path(arguments.dir).expanduser()
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        print(f"rlarena new: {folder} already exists and is not an empty folder; choose a new one", file=sys.stderr)
        return USAGE
    templates = resources.files("rlarena.authoring").joinpath("templates")
    readme = Template(templates.joinpath("README.md").read_text(encoding="utf-8"))
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "main.py").write_text(templates.joinpath(spec.id, "main.py").read_text(encoding="utf-8"))
    house = "\n".join(f"- `{agent.reference}`: {agent.description}" for agent in for_game(spec.id))
    (folder / "README.md").write_text(
        readme.substitute(game=spec.id, name=spec.name, folder=arguments.dir, house_agents=house)
    )
    print(f"wrote a starter {spec.name} agent in {folder}: main.py and README.md")
    print(f"next: rlarena play {spec.id} {arguments.dir} house:random")
    print(f"      rlarena validate {spec.id} {arguments.dir}")
    return WRITTEN
