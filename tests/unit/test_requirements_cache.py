"""The package cache's rules without the network: one spelling per requirement set (so the same
requirements reuse one install), and which markers a match believes (never a folder an upload or
an agent could name or change)."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from rlarena.adapters.builders.requirements_install import normalised
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
