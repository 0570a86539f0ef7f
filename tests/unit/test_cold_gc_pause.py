"""Cold start: the garbage collector is held off while a fresh process imports its machinery, then
what the import made is frozen and the collector runs again (rlarena.http.gc_pause).

Each scenario runs in a fresh interpreter: the test process has long loaded SQLAlchemy, so there
the pause rightly does nothing."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

from tests.conftest import ROOT

PRELUDE = "import gc, json, threading\nfrom rlarena.http.gc_pause import paused_collector\n"


def run(script: str) -> Any:
    result = subprocess.run(
        [sys.executable, "-c", PRELUDE + script],
        env={"PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
        cwd=ROOT,
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_a_cold_import_runs_without_the_collector_and_its_objects_are_frozen_after() -> None:
    report = run(
        "seen = []\n"
        "with paused_collector():\n"
        "    seen.append(gc.isenabled())\n"
        "    import openskill.models  # a real import, of a dependency nothing here imported yet\n"
        "    with paused_collector():\n"
        "        seen.append(gc.isenabled())\n"
        "    seen.append(gc.isenabled())\n"
        "print(json.dumps({'inside': seen, 'after': gc.isenabled(), 'frozen': gc.get_freeze_count()}))\n"
    )
    assert report["inside"] == [False, False, False]
    assert report["after"] is True
    assert report["frozen"] > 1000  # the import's modules and classes: never traversed again


def test_once_the_database_machinery_is_loaded_the_pause_does_nothing() -> None:
    report = run(
        "import sqlalchemy\n"
        "before = gc.get_freeze_count()\n"
        "with paused_collector():\n"
        "    inside = gc.isenabled()\n"
        "print(json.dumps({'inside': inside, 'frozen': gc.get_freeze_count() - before}))\n"
    )
    assert report == {"inside": True, "frozen": 0}


def test_a_module_imported_already_is_not_a_cold_import() -> None:
    # The dead-letters target imports its handler on every event and never loads SQLAlchemy.
    report = run(
        "with paused_collector(first_import_of='rlarena.http.gc_pause'):\n"
        "    inside = gc.isenabled()\n"
        "with paused_collector(first_import_of='rlarena.errors'):\n"
        "    first = gc.isenabled()\n"
        "    import rlarena.errors\n"
        "print(json.dumps({'inside': inside, 'first': first, 'frozen': gc.get_freeze_count() > 0}))\n"
    )
    assert report == {"inside": True, "first": False, "frozen": True}


def test_a_failing_import_still_lets_the_collector_run_again() -> None:
    report = run(
        "try:\n"
        "    with paused_collector():\n"
        "        import rlarena.no_such_module\n"
        "except ImportError:\n"
        "    pass\n"
        "print(json.dumps({'after': gc.isenabled()}))\n"
    )
    assert report == {"after": True}


def test_a_collector_someone_else_disabled_stays_disabled_and_nothing_is_frozen() -> None:
    report = run(
        "gc.disable()\n"
        "with paused_collector():\n"
        "    pass\n"
        "print(json.dumps({'after': gc.isenabled(), 'frozen': gc.get_freeze_count()}))\n"
    )
    assert report == {"after": False, "frozen": 0}


def test_the_collector_runs_again_only_when_the_last_of_overlapping_threads_is_done() -> None:
    # The /health thread reads the settings while the background import may already be under way.
    report = run(
        "entered, release = threading.Event(), threading.Event()\n"
        "def other():\n"
        "    with paused_collector():\n"
        "        entered.set()\n"
        "        release.wait(30)\n"
        "thread = threading.Thread(target=other)\n"
        "with paused_collector():\n"
        "    thread.start()\n"
        "    entered.wait(30)\n"
        "after_first = gc.isenabled()\n"
        "release.set()\n"
        "thread.join(30)\n"
        "print(json.dumps({'after_first': after_first, 'after_both': gc.isenabled()}))\n"
    )
    assert report == {"after_first": False, "after_both": True}
