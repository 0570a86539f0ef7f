"""Upload limits sized for model files, and the deployment keeping room for them.

The defaults (100 MiB, 100 MiB unpacked, 2,000 files) are one fact told in the settings, the
domain's ArchiveLimits, .env.example and docs/DEPLOY.md; the Services that hold an upload in
memory while checking it (submissions, submissions-storage) have a memory limit above both limits
together plus their own footprint, in every overlay a team applies.
"""

from __future__ import annotations

import io
import re
import tracemalloc
from pathlib import Path
from typing import Any

import pytest

from rlarena.config import Settings
from rlarena.domain.archives import ArchiveLimits
from rlarena.http.api import read_at_most
from tests.conftest import ROOT
from tests.support.manifests import KNATIVE, OVERLAYS, _render

MIB = 1024 * 1024
# What the functions hold besides the upload: the interpreter, the library, Flask, a DB pool.
FUNCTION_FOOTPRINT = 256 * MIB
HOLDERS = ("submissions", "submissions-storage")
UNITS = {"Ki": 1024, "Mi": MIB, "Gi": 1024 * MIB, "K": 1000, "M": 1000**2, "G": 1000**3, "": 1}


def _bytes(quantity: str) -> int:
    match = re.fullmatch(r"(\d+)([KMG]i?|)", quantity)
    assert match, quantity
    return int(match[1]) * UNITS[match[2]]


def _defaults() -> dict[str, int]:
    fields = Settings.model_fields
    return {name: fields[f"archive_max_{name}"].default for name in ("bytes", "files", "unpacked_bytes")}


def test_an_upload_may_hold_a_100_mib_model_and_2000_files_by_default() -> None:
    assert _defaults() == {"bytes": 100 * MIB, "files": 2000, "unpacked_bytes": 100 * MIB}
    limits = ArchiveLimits()
    assert (limits.max_bytes, limits.max_files, limits.max_unpacked_bytes) == (100 * MIB, 2000, 100 * MIB)
    assert Settings().archive_limits() == ArchiveLimits(max_source_bytes=Settings().source_file_max_bytes)


def test_env_example_and_the_deploy_guide_tell_the_same_defaults() -> None:
    example = (ROOT / ".env.example").read_text()
    assert f"ARCHIVE_MAX_BYTES={100 * MIB}\n" in example
    assert "ARCHIVE_MAX_FILES=2000\n" in example
    assert f"ARCHIVE_MAX_UNPACKED_BYTES={100 * MIB}\n" in example
    guide = " ".join((ROOT / "docs" / "DEPLOY.md").read_text().split())
    assert "100 MiB (`ARCHIVE_MAX_BYTES`), unpack to 100 MiB (`ARCHIVE_MAX_UNPACKED_BYTES`)" in guide
    assert "2,000 files (`ARCHIVE_MAX_FILES`)" in guide
    assert "512Mi memory limit" in guide


@pytest.mark.parametrize("kustomization", [KNATIVE, *(KNATIVE / "overlays" / name for name in OVERLAYS)], ids=str)
def test_the_services_that_check_uploads_have_memory_for_the_largest(kustomization: Path) -> None:
    services = {doc["metadata"]["name"]: doc for doc in _render(kustomization) if doc["kind"] == "Service"}
    defaults = _defaults()
    needed = defaults["bytes"] + defaults["unpacked_bytes"] + FUNCTION_FOOTPRINT
    for name in HOLDERS:
        service: dict[str, Any] = services[name]
        (container,) = service["spec"]["template"]["spec"]["containers"]
        limit = _bytes(container["resources"]["limits"]["memory"])
        assert limit >= needed, f"{name}: {limit // MIB} MiB cannot hold a {defaults['bytes'] // MIB} MiB upload"


def test_reading_an_upload_costs_its_size_not_the_limit() -> None:
    limit = Settings.model_fields["archive_max_bytes"].default
    for size, most_held in ((1024, 2 * MIB), (30 * MIB, 40 * MIB)):
        data = bytes(range(256)) * (size // 256)
        tracemalloc.start()
        try:
            read = read_at_most(io.BytesIO(data), limit + 1)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert read == data
        assert peak < most_held, f"{peak / MIB:.1f} MiB held reading {size} bytes"
    assert read_at_most(io.BytesIO(b"0123456789"), 4) == b"0123"
