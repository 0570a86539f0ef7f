"""Unpacking an upload is bounded: real bombs (bzip2, LZMA and deflate zip members, tar.gz) are
refused while little of them has been decompressed, and a source file over its cap before anything
parses it.

Each bomb is built here and first counted with the standard library, one piece at a time, to prove
it really expands far past the budget; then the intake's reader must refuse it with the right error
while tracemalloc sees a peak far below what the bomb expands to. (zipfile itself inflated a whole
bzip2 member in a single read(65536): 2 GiB from 1.5 KB.)
"""

from __future__ import annotations

import tracemalloc
import zipfile
from collections.abc import Callable
from typing import TypeVar

import pytest

from rlarena.domain.archives import AgentSource, ArchiveLimits, inspect_upload, read_upload
from rlarena.domain.python_sources import PythonSource, SourceReport
from rlarena.errors import InvalidInput, RLArenaError, http_status
from tests.support.bombs import (
    MIB,
    Member,
    deflated_member,
    expanded_tar_gz,
    expanded_zip_member,
    stored_member,
    tar_gz_of_zeros,
    zeros_member,
    zip_of,
)

BOMB = 128 * MIB
AGENT = b"def agent(observation, configuration):\n    return 0\n"
METHODS = {"bzip2": zipfile.ZIP_BZIP2, "lzma": zipfile.ZIP_LZMA, "deflate": zipfile.ZIP_DEFLATED}
T = TypeVar("T")


@pytest.fixture(scope="module", params=list(METHODS))
def bomb_member(request: pytest.FixtureRequest) -> Member:
    """128 MiB of zeros as one member (bzip2: about 200 bytes; LZMA: 19 KB; deflate: 130 KB)."""
    return zeros_member("weights.bin", METHODS[request.param], BOMB)


def peak_while(work: Callable[[], T]) -> tuple[T | RLArenaError, int]:
    """What `work` returned (or the platform error it raised) and the peak of Python memory meanwhile."""
    tracemalloc.start()
    try:
        outcome: T | RLArenaError = work()
    except RLArenaError as error:
        outcome = error
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return outcome, peak


def refused(outcome: object, code: str) -> InvalidInput:
    assert isinstance(outcome, InvalidInput), outcome
    assert outcome.code == code, outcome.message
    assert http_status(outcome) == 400
    return outcome


def never_called(sources: list[PythonSource]) -> SourceReport:
    raise AssertionError(f"the sources were handed to the check: {[source.path for source in sources]}")


# -- zip members: bzip2, LZMA, deflate -----------------------------------------------------------


def test_a_zip_bomb_member_is_refused_by_the_ratio_guard_after_a_few_mib(bomb_member: Member) -> None:
    data = zip_of([stored_member("agent.py", AGENT), bomb_member])
    assert len(data) < 200 * 1024
    assert expanded_zip_member(data, "weights.bin", stop_after=BOMB) == BOMB  # the attack is real

    outcome, peak = peak_while(lambda: read_upload("bot.zip", data, ArchiveLimits()))

    refused(outcome, "compression_ratio")
    assert peak < 24 * MIB, f"{peak / MIB:.1f} MiB held while refusing a {BOMB // MIB} MiB bomb"


def test_a_padded_zip_bomb_is_refused_at_the_unpacked_budget(bomb_member: Member) -> None:
    # 2 MiB of incoherent padding lifts the ratio guard's ceiling (100 x the upload) past the budget,
    # as an attacker would: the budget itself must stop the bomb.
    padding = stored_member("padding.bin", bytes(range(256)) * (8 * 1024))
    data = zip_of([stored_member("agent.py", AGENT), padding, bomb_member])
    limits = ArchiveLimits(max_unpacked_bytes=8 * MIB)
    assert 100 * len(data) > BOMB > limits.max_unpacked_bytes  # only the budget can stop it
    assert expanded_zip_member(data, "weights.bin", stop_after=BOMB) == BOMB

    outcome, peak = peak_while(lambda: read_upload("bot.zip", data, limits))

    assert "more than 8 MiB" in refused(outcome, "unpacked_too_large").message
    assert peak < 24 * MIB, f"{peak / MIB:.1f} MiB held while refusing a {BOMB // MIB} MiB bomb"


@pytest.mark.parametrize("method", list(METHODS))
def test_a_source_file_bomb_stops_at_the_source_cap_before_any_parse(method: str) -> None:
    data = zip_of([zeros_member("agent.py", METHODS[method], 32 * MIB)])
    limits = ArchiveLimits(max_ratio=1e9)  # only the per-file cap is left to stop it
    assert expanded_zip_member(data, "agent.py", stop_after=32 * MIB) == 32 * MIB

    outcome, peak = peak_while(lambda: inspect_upload("bot.zip", data, limits, never_called))

    error = refused(outcome, "source_too_large")
    assert error.message.startswith("agent.py is larger than 1 MiB, the limit for one source file")
    assert error.details == {"file": "agent.py", "maxSourceBytes": MIB}
    assert peak < 12 * MIB


def test_requirements_txt_has_the_source_cap_too() -> None:
    data = zip_of([stored_member("agent.py", AGENT), zeros_member("requirements.txt", zipfile.ZIP_BZIP2, 4 * MIB)])
    refused(peak_while(lambda: read_upload("bot.zip", data, ArchiveLimits(max_ratio=1e9)))[0], "source_too_large")


def test_data_files_are_not_source_files() -> None:
    data = zip_of([stored_member("agent.py", AGENT), zeros_member("weights.bin", zipfile.ZIP_BZIP2, 4 * MIB)])
    source = read_upload("bot.zip", data, ArchiveLimits(max_ratio=1e9))
    assert len(source.files["weights.bin"]) == 4 * MIB


def test_an_lzma_header_asking_for_a_4_gib_dictionary_does_not_get_it() -> None:
    member = zeros_member("agent.py", zipfile.ZIP_LZMA, 4096)
    raw = member.raw[:5] + (0xFFFFFFFF).to_bytes(4, "little") + member.raw[9:]  # properties: dictionary size
    data = zip_of([Member(member.name, raw, member.method, member.size, member.crc)])

    outcome, peak = peak_while(lambda: read_upload("bot.zip", data, ArchiveLimits()))

    assert isinstance(outcome, AgentSource), outcome
    assert outcome.files["agent.py"] == bytes(4096)
    assert peak < 16 * MIB, f"{peak / MIB:.1f} MiB for a 4 KiB file"


@pytest.mark.parametrize("method", list(METHODS))
def test_every_method_still_unpacks_ordinary_archives_exactly(method: str) -> None:
    content = b"".join(f"line {i}: {i * i}\n".encode() for i in range(200_000))  # about 3 MiB
    weights = zeros_member("model/weights.bin", METHODS[method], 3 * MIB + 17)
    data = zip_of([deflated_member("agent.py", AGENT), deflated_member("table.txt", content), weights])
    source = read_upload("bot.zip", data, ArchiveLimits(max_ratio=1e9))
    assert source.files == {"agent.py": AGENT, "model/weights.bin": bytes(3 * MIB + 17), "table.txt": content}


def test_a_member_that_unpacks_past_its_declared_size_is_stopped_there() -> None:
    member = zeros_member("weights.bin", zipfile.ZIP_BZIP2, 8 * MIB)
    data = zip_of([stored_member("agent.py", AGENT), Member(member.name, member.raw, member.method, 1000, 0)])
    outcome, peak = peak_while(lambda: read_upload("bot.zip", data, ArchiveLimits(max_ratio=1e9)))
    assert "unpacks to more than it declares" in refused(outcome, "bad_archive").message
    assert peak < 2 * MIB


def test_a_truncated_compressed_member_is_a_bad_archive() -> None:
    member = zeros_member("agent.py", zipfile.ZIP_BZIP2, 300_000)
    cut = Member(member.name, member.raw[: len(member.raw) // 2], member.method, member.size, member.crc)
    refused(read_upload_outcome(zip_of([cut])), "bad_archive")


def test_an_unsupported_compression_method_is_a_bad_archive_naming_it() -> None:
    member = stored_member("agent.py", AGENT)
    data = zip_of([Member(member.name, member.raw, 99, member.size, member.crc)])  # 99: AES, say
    assert "method 99" in refused(read_upload_outcome(data), "bad_archive").message


def read_upload_outcome(data: bytes) -> AgentSource | RLArenaError:
    return peak_while(lambda: read_upload("bot.zip", data, ArchiveLimits()))[0]


# -- tar.gz --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tar_gz_bomb() -> bytes:
    return tar_gz_of_zeros("weights.bin", BOMB, {"agent.py": AGENT})


def test_a_tar_gz_bomb_is_refused_after_a_few_mib(tar_gz_bomb: bytes) -> None:
    assert len(tar_gz_bomb) < 200 * 1024
    assert expanded_tar_gz(tar_gz_bomb, stop_after=BOMB) > BOMB

    outcome, peak = peak_while(lambda: read_upload("bot.tar.gz", tar_gz_bomb, ArchiveLimits()))

    refused(outcome, "compression_ratio")
    assert peak < 24 * MIB


def test_a_tar_gz_bomb_is_refused_at_the_unpacked_budget_when_the_ratio_allows_it(tar_gz_bomb: bytes) -> None:
    limits = ArchiveLimits(max_unpacked_bytes=8 * MIB, max_ratio=1e9)
    outcome, peak = peak_while(lambda: read_upload("bot.tgz", tar_gz_bomb, limits))
    refused(outcome, "unpacked_too_large")
    assert peak < 24 * MIB


def test_a_tar_gz_source_file_stops_at_the_source_cap() -> None:
    data = tar_gz_of_zeros("agent.py", 16 * MIB)
    outcome, peak = peak_while(lambda: inspect_upload("bot.tgz", data, ArchiveLimits(max_ratio=1e9), never_called))
    assert refused(outcome, "source_too_large").details["file"] == "agent.py"
    assert peak < 12 * MIB


# -- a single .py --------------------------------------------------------------------------------


def test_a_single_py_over_the_source_cap_is_refused_before_any_parse() -> None:
    data = b"a=1\n" * (2 * MIB // 4)
    outcome, _ = peak_while(lambda: inspect_upload("agent.py", data, ArchiveLimits(), never_called))
    error = refused(outcome, "source_too_large")
    assert "split the code into modules" in error.message


def test_the_source_cap_is_a_setting_of_its_own() -> None:
    limits = ArchiveLimits(max_source_bytes=4096)
    refused(peak_while(lambda: read_upload("agent.py", b"#" * 4097, limits))[0], "source_too_large")
    assert read_upload("agent.py", b"#" * 4096, limits).entry_point == "agent.py"


def test_the_check_gets_the_entry_point_first_and_decoded() -> None:
    seen: list[list[str]] = []

    def check(sources: list[PythonSource]) -> SourceReport:
        seen.append([source.path for source in sources])
        return SourceReport(declared_environment="chess")

    members = [deflated_member(name, AGENT) for name in ("b.py", "agent.py", "a.py")]
    data = zip_of([*members, stored_member("notes.txt", b"not code")])
    source = inspect_upload("bot.zip", data, ArchiveLimits(), check)
    assert seen == [["agent.py", "a.py", "b.py"]]
    assert source.declared_environment == "chess"
