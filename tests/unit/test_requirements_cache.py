"""The package cache's rules without the network: one spelling per requirement set (so the same
requirements reuse one install), and which markers a match believes (never a folder an upload or
an agent could name or change); and what a failure says, from what the index told."""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

import pytest

from rlarena.adapters.builders.requirements_install import normalised, why_missing
from rlarena.sandbox.installed_packages import CACHE_TAG, COMPLETE, MARKER, packages_of, write_marker


def test_one_spelling_for_the_same_requirements() -> None:
    spellings = [
        ["tabulate==0.9.0", "numpy>=2"],
        ["NumPy >= 2", "Tabulate == 0.9.0", "tabulate==0.9.0", "  "],
        ["numpy>=2 # the runtime has it", "tabulate ==0.9.0"],
    ]
    assert {tuple(normalised(lines)) for lines in spellings} == {("numpy>=2", "tabulate==0.9.0")}
    # Environment markers keep their words (and their case: "Linux" is not "linux").
    assert normalised(['pywin32 ; platform_system == "Windows"']) == ['pywin32; platform_system == "Windows"']
    assert normalised(["zope.interface[test]"]) == ["zope-interface[test]"]


def cache_with_install(root: Path) -> Path:
    root.mkdir(mode=0o755)
    (root / CACHE_TAG).write_text("tag\n")
    install = root / hashlib.sha256(b"requirements").hexdigest()
    install.mkdir(mode=0o755)
    (install / COMPLETE).write_text("{}")
    return install


def test_a_marker_naming_a_finished_install_is_believed(tmp_path: Path) -> None:
    install = cache_with_install(tmp_path / "cache")
    agent = tmp_path / "agent"
    agent.mkdir()
    assert packages_of(agent) is None  # no marker: nothing to mount
    write_marker(agent, install)
    assert (agent / MARKER).read_text() == f"{install}\n"
    assert packages_of(agent) == install


@pytest.mark.parametrize(
    "spoil",
    [
        "relative",
        "not a digest",
        "dotted path",
        "no cache tag",
        "unfinished",
        "writable by others",
        "a link",
    ],
)
def test_a_marker_is_not_believed_when_it_names_anything_else(tmp_path: Path, spoil: str) -> None:
    install = cache_with_install(tmp_path / "cache")
    named = str(install)
    if spoil == "relative":
        named = os.path.relpath(install, tmp_path)
    elif spoil == "not a digest":
        other = tmp_path / "cache" / "site-packages"
        other.mkdir()
        (other / COMPLETE).write_text("{}")
        named = str(other)
    elif spoil == "dotted path":
        named = f"{install.parent}/../cache/{install.name}"
    elif spoil == "no cache tag":
        (install.parent / CACHE_TAG).unlink()
    elif spoil == "unfinished":
        (install / COMPLETE).unlink()
    elif spoil == "writable by others":
        install.chmod(0o777)
    elif spoil == "a link":
        link = tmp_path / "cache" / ("0" * 64)
        link.symlink_to(install)
        named = str(link)
    agent = tmp_path / "agent"
    agent.mkdir()
    (agent / MARKER).write_text(named + "\n")
    assert packages_of(agent) is None


INDEX = "https://pypi.org/simple"
RUNTIME = "cpython 3.11.2, linux-x86_64"


@pytest.mark.parametrize(
    ("requirement", "answer", "expected"),
    [
        ("nosuch==1.0", {"status": 404}, "there is no package named 'nosuch' on the package index"),
        ("docopt", {"status": 200, "files": ["docopt-0.6.2.tar.gz"]}, "'docopt' has only source distributions"),
        (
            "old==1.0",
            {"status": 200, "files": ["old-1.0.tar.gz", "old-2.0-py3-none-any.whl"]},
            "'old' 1.0 has only source distributions",
        ),
        ("old==1.5", {"status": 200, "files": ["old-1.0.tar.gz"]}, "'old' has no version 1.5 on the package index"),
        (
            "PyYAML==5.3",
            {"status": 200, "files": ["PyYAML-5.3.tar.gz", "PyYAML-5.3-cp38-cp38-win_amd64.whl"]},
            "no wheel of 'PyYAML' 5.3 fits the agent runtime (cpython 3.11.2, linux-x86_64): its wheels on the "
            "package index (https://pypi.org/simple) are for cp38-cp38-win_amd64",
        ),
        ("a<2", {"status": 200, "files": ["a-3.0-py3-none-any.whl"]}, "no wheel of 'a<2' fits the agent runtime"),
        ("a<2", {}, "no wheel of 'a<2' fits the agent runtime"),  # the index did not answer
    ],
)
def test_why_pip_found_nothing_names_the_package(requirement: str, answer: dict[str, object], expected: str) -> None:
    name = re.split(r"[=<]", requirement, maxsplit=1)[0]
    message = why_missing(requirement, name, answer, INDEX, RUNTIME)
    assert expected in message, message
    assert message.startswith("requirements.txt: ")
    if "wheel" in expected or "source" in expected:
        assert "the platform installs wheels only, so no setup.py runs" in message
