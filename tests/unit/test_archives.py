"""Inspection of uploaded agents, on archives built in memory."""

from __future__ import annotations

import hashlib
import io
import stat
import tarfile
import zipfile
from pathlib import Path

import pytest

from rlarena.domain import archives
from rlarena.domain.archives import AgentSource, ArchiveLimits, find_entry_point, pack_tar_gz, parse_requirements
from rlarena.domain.python_sources import check_sources
from rlarena.errors import InvalidInput, PayloadTooLarge, RLArenaError, http_status

LIMITS = ArchiveLimits()
MIB = 1024 * 1024
AGENT = b"def act(observation):\n    return 0\n"


def inspect_upload(filename: str, data: bytes, limits: ArchiveLimits) -> AgentSource:
    """Intake's inspection with the source rules applied in process: small, trusted test inputs only
    (the platform applies them in a sandboxed child: tests/unit/test_source_check.py)."""
    return archives.inspect_upload(filename, data, limits, check_sources)


# -- builders ------------------------------------------------------------------------------------


def make_zip(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in files.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def zip_with_mode(name: str, mode: int, content: bytes) -> bytes:
    """A zip whose one entry carries Unix file-type bits, as `zip -y` stores a symlink."""
    info = zipfile.ZipInfo(name)
    info.create_system = 3  # Unix
    info.external_attr = mode << 16
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("agent.py", AGENT)
        archive.writestr(info, content)
    return buffer.getvalue()


def regular(name: str, content: bytes) -> tuple[tarfile.TarInfo, bytes]:
    member = tarfile.TarInfo(name)
    member.size = len(content)
    return member, content


def special(name: str, kind: bytes, linkname: str = "") -> tuple[tarfile.TarInfo, bytes]:
    member = tarfile.TarInfo(name)
    member.type = kind
    member.linkname = linkname
    return member, b""


def make_tar_gz(members: list[tuple[tarfile.TarInfo, bytes]]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for member, content in members:
            archive.addfile(member, io.BytesIO(content) if member.isreg() else None)
    return buffer.getvalue()


def tar_gz_of(files: dict[str, bytes]) -> bytes:
    return make_tar_gz([regular(name, content) for name, content in files.items()])


class Zeros:
    """A file of `size` zero bytes that never exists in memory at once."""

    def __init__(self, size: int) -> None:
        self.left = size

    def read(self, size: int = -1) -> bytes:
        size = self.left if size < 0 else min(size, self.left)
        self.left -= size
        return bytes(size)


def rejected(filename: str, data: bytes, limits: ArchiveLimits = LIMITS) -> RLArenaError:
    with pytest.raises(RLArenaError) as caught:
        inspect_upload(filename, data, limits)
    return caught.value


def invalid(filename: str, data: bytes, code: str, limits: ArchiveLimits = LIMITS) -> InvalidInput:
    error = rejected(filename, data, limits)
    assert isinstance(error, InvalidInput), error
    assert error.code == code, error.message
    assert http_status(error) == 400
    return error


@pytest.fixture(scope="module")
def zip_bomb() -> bytes:
    """60 MiB of zeros in about 60 KiB, written in 1 MiB pieces so the test stays light.

    A data file rather than a source file: a source file stops at its own, smaller cap first."""
    buffer = io.BytesIO()
    chunk = bytes(MIB)
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("agent.py", AGENT)
        with archive.open("weights.bin", "w") as member:
            for _ in range(60):
                member.write(chunk)
    return buffer.getvalue()


# -- good uploads --------------------------------------------------------------------------------


def test_a_zip_loses_its_wrapping_folder_and_its_junk() -> None:
    data = make_zip(
        {
            "my-agent/agent.py": AGENT,
            "my-agent/lib/util.py": b"X = 1\n",
            "my-agent/requirements.txt": b"numpy==2.0\n",
            "my-agent/.DS_Store": b"\0\1",
            "my-agent/lib/__pycache__/util.cpython-311.pyc": b"\0",
            "my-agent/lib/stale.pyc": b"\0",
            "__MACOSX/my-agent/._agent.py": b"\0",
            "my-agent/._notes.txt": b"\0",
        }
    )
    source = inspect_upload("Agent.ZIP", data, LIMITS)
    assert source.files == {"agent.py": AGENT, "lib/util.py": b"X = 1\n", "requirements.txt": b"numpy==2.0\n"}
    assert source.entry_point == "agent.py"
    assert source.requirements == ["numpy==2.0"]
    assert source.kind == "zip"
    assert source.size == len(data)
    assert source.unpacked_size == len(AGENT) + len(b"X = 1\n") + len(b"numpy==2.0\n")
    assert source.sha256 == hashlib.sha256(data).hexdigest()


def test_a_tar_gz_with_dot_slash_names_and_folder_entries_is_accepted() -> None:
    folder = tarfile.TarInfo("./lib")
    folder.type = tarfile.DIRTYPE
    root = tarfile.TarInfo(".")
    root.type = tarfile.DIRTYPE
    data = make_tar_gz([(root, b""), (folder, b""), regular("./agent.py", AGENT), regular("./lib/x.py", b"")])
    source = inspect_upload("agent.tar.gz", data, LIMITS)
    assert source.kind == "tar.gz"
    assert source.files == {"agent.py": AGENT, "lib/x.py": b""}
    assert source.entry_point == "agent.py"


def test_the_tgz_extension_is_a_tar_gz_too() -> None:
    assert inspect_upload("AGENT.TGZ", tar_gz_of({"agent.py": AGENT}), LIMITS).kind == "tar.gz"


def test_a_single_py_keeps_its_own_name_and_is_the_entry_point() -> None:
    source = inspect_upload("my_bot.py", AGENT, LIMITS)
    assert source.files == {"my_bot.py": AGENT}
    assert source.entry_point == "my_bot.py"
    assert source.kind == "py"
    assert source.unpacked_size == source.size == len(AGENT)
    assert source.requirements == []


def test_a_single_py_name_is_sanitised_to_a_plain_base_name() -> None:
    assert inspect_upload("C:\\Users\\me\\my bot!.py", AGENT, LIMITS).entry_point == "my_bot_.py"
    assert inspect_upload("../../-rf.py", AGENT, LIMITS).entry_point == "rf.py"
    assert inspect_upload(".py", AGENT, LIMITS).entry_point == "agent.py"


def test_main_py_is_the_entry_point_when_there_is_no_agent_py() -> None:
    source = inspect_upload("a.zip", make_zip({"main.py": AGENT, "helpers.py": b""}), LIMITS)
    assert source.entry_point == "main.py"


def test_agent_py_wins_over_main_py() -> None:
    source = inspect_upload("a.zip", make_zip({"main.py": AGENT, "agent.py": AGENT}), LIMITS)
    assert source.entry_point == "agent.py"


def test_the_only_top_level_py_is_the_entry_point() -> None:
    data = make_zip({"bot.py": AGENT, "lib/a.py": b"", "lib/b.py": b""})
    assert inspect_upload("a.zip", data, LIMITS).entry_point == "bot.py"


def test_the_only_py_anywhere_is_the_entry_point() -> None:
    data = make_zip({"src/bot.py": AGENT, "README.md": b"hi", "weights/q.json": b"{}"})
    assert inspect_upload("a.zip", data, LIMITS).entry_point == "src/bot.py"


def test_checking_syntax_never_runs_the_code(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    code = f"open({str(marker)!r}, 'w').write('x')\nraise SystemExit(3)\n".encode()
    assert inspect_upload("agent.py", code, LIMITS).entry_point == "agent.py"
    assert not marker.exists()


def test_a_utf8_byte_order_mark_is_accepted() -> None:
    assert inspect_upload("agent.py", b"\xef\xbb\xbf" + AGENT, LIMITS).files["agent.py"].startswith(b"\xef")


# -- entry point ---------------------------------------------------------------------------------


def test_several_top_level_py_files_are_ambiguous() -> None:
    error = invalid("a.zip", make_zip({"bot.py": AGENT, "other.py": AGENT}), "ambiguous_entry_point")
    assert "bot.py, other.py" in error.message
    assert "agent.py or main.py" in error.message
    assert error.details == {"candidates": ["bot.py", "other.py"]}


def test_an_archive_without_python_has_no_entry_point() -> None:
    error = invalid("a.zip", make_zip({"README.md": b"hi"}), "no_entry_point")
    assert "agent.py" in error.message
    assert "no .py file" in error.message


def test_several_py_files_only_in_subfolders_give_no_entry_point() -> None:
    error = invalid("a.zip", make_zip({"x/a.py": b"", "y/b.py": b"", "z.txt": b""}), "no_entry_point")
    assert "2 .py files in subfolders" in error.message


def test_find_entry_point_applies_the_rule_to_any_paths() -> None:
    assert find_entry_point(["lib/agent.py", "main.py"]) == "main.py"
    assert find_entry_point(["lib/agent.py"]) == "lib/agent.py"


# -- type and size -------------------------------------------------------------------------------


@pytest.mark.parametrize("filename", ["agent.rar", "agent.tar", "agent.gz", "agent.pyc", "agent"])
def test_an_unsupported_extension_names_the_supported_ones(filename: str) -> None:
    error = invalid(filename, b"x", "unsupported_type")
    assert ".py" in error.message
    assert ".zip" in error.message
    assert ".tar.gz" in error.message


def test_an_upload_over_the_limit_is_payload_too_large() -> None:
    error = rejected("agent.zip", bytes(2048), ArchiveLimits(max_bytes=1024))
    assert isinstance(error, PayloadTooLarge)
    assert error.code == "archive_too_large"
    assert http_status(error) == 413
    assert "1 KiB" in error.message
    assert error.details == {"size": 2048, "maxBytes": 1024}


def test_an_empty_upload_is_refused() -> None:
    assert "empty" in invalid("agent.py", b"", "empty_upload").message


def test_a_single_py_over_the_unpacked_limit_is_refused() -> None:
    invalid("agent.py", b"#" * 2048, "unpacked_too_large", ArchiveLimits(max_unpacked_bytes=1024))


def test_a_zip_that_is_not_a_zip_is_a_bad_archive() -> None:
    error = invalid("agent.zip", tar_gz_of({"agent.py": AGENT}), "bad_archive")
    assert "not a zip archive" in error.message


def test_a_truncated_zip_is_a_bad_archive() -> None:
    data = make_zip({"agent.py": AGENT * 50})
    assert "'agent.zip' cannot be read" in invalid("agent.zip", data[:60], "bad_archive").message


def test_a_tar_gz_that_is_not_gzipped_is_a_bad_archive() -> None:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        member, content = regular("agent.py", AGENT)
        archive.addfile(member, io.BytesIO(content))
    assert "not gzip-compressed" in invalid("agent.tar.gz", buffer.getvalue(), "bad_archive").message


def test_gzip_that_is_not_a_tar_is_a_bad_archive() -> None:
    import gzip

    error = invalid("agent.tgz", gzip.compress(b"print('hi')\n" * 100), "bad_archive")
    assert "'agent.tgz' cannot be read" in error.message


def test_a_zip_whose_header_understates_a_size_is_refused_not_trusted() -> None:
    content = b"A" * 5000
    data = bytearray(make_zip({"agent.py": content}))
    # Rewrite the 4-byte uncompressed size (5000) in both headers to claim 10 bytes.
    claimed = (5000).to_bytes(4, "little")
    assert data.count(claimed) == 2
    data = bytearray(bytes(data).replace(claimed, (10).to_bytes(4, "little")))
    assert "Bad CRC" in invalid("agent.zip", bytes(data), "bad_archive").message


# -- bombs and counts ----------------------------------------------------------------------------


def test_a_zip_bomb_stops_at_the_unpacked_limit(zip_bomb: bytes) -> None:
    error = invalid("bomb.zip", zip_bomb, "unpacked_too_large", ArchiveLimits(max_unpacked_bytes=MIB))
    assert "more than 1 MiB" in error.message


def test_a_zip_bomb_trips_the_ratio_guard_under_default_limits(zip_bomb: bytes) -> None:
    error = invalid("bomb.zip", zip_bomb, "compression_ratio")
    assert "100 times" in error.message


def test_a_tar_gz_bomb_stops_at_the_unpacked_limit() -> None:
    member = tarfile.TarInfo("agent.py")
    member.size = 40 * MIB
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        archive.addfile(member, Zeros(member.size))
    invalid("bomb.tgz", buffer.getvalue(), "unpacked_too_large", ArchiveLimits(max_unpacked_bytes=MIB))


def test_a_tar_header_that_expands_past_the_limit_is_stopped() -> None:
    member = tarfile.TarInfo("agent.py")
    member.pax_headers = {"comment": "x" * (4 * MIB)}
    data = make_tar_gz([(member, b"")])
    limits = ArchiveLimits(max_files=3, max_unpacked_bytes=64 * 1024)
    invalid("agent.tgz", data, "unpacked_too_large", limits)


def test_more_files_than_the_limit_are_refused() -> None:
    data = make_zip({f"f{i}.txt": b"" for i in range(4)} | {"agent.py": AGENT})
    error = invalid("a.zip", data, "too_many_files", ArchiveLimits(max_files=4))
    assert "more than 4 files" in error.message


def test_junk_does_not_count_towards_the_file_limit() -> None:
    data = make_zip({"agent.py": AGENT, "x.py": b"", "__MACOSX/._agent.py": b"", "__MACOSX/._x.py": b""})
    assert len(inspect_upload("a.zip", data, ArchiveLimits(max_files=2)).files) == 2


def test_an_archive_of_endless_folder_entries_is_refused() -> None:
    folders = []
    for i in range(200):
        folder = tarfile.TarInfo(f"d{i}")
        folder.type = tarfile.DIRTYPE
        folders.append((folder, b""))
    error = invalid("a.tgz", make_tar_gz(folders), "too_many_files", ArchiveLimits(max_files=3))
    assert "entries" in error.message


# -- paths ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("../evil.py", "'..'"),
        ("lib/../../evil.py", "'..'"),
        ("/etc/x", "absolute"),
        ("C:/Windows/evil.py", "drive letter"),
        ("lib\\evil.py", "backslash"),
        ("lib/evil\n.py", "control characters"),
        ("a" * 256 + ".py", "longer than 255"),
    ],
)
def test_a_zip_slip_path_is_unsafe(name: str, reason: str) -> None:
    error = invalid("a.zip", make_zip({"agent.py": AGENT, name: b""}), "unsafe_path")
    assert reason in error.message
    assert "not a safe path" in error.message


def test_a_tar_slip_path_is_unsafe() -> None:
    data = tar_gz_of({"agent.py": AGENT, "../../home/user/.bashrc": b"evil"})
    assert "'..'" in invalid("a.tgz", data, "unsafe_path").message


def test_a_nul_byte_in_a_zip_name_is_unsafe() -> None:
    # zipfile cuts names at NUL when writing, so patch the stored name afterwards (same length, same CRC).
    data = make_zip({"agent.py": AGENT, "evilXpy.py": b""}).replace(b"evilXpy", b"evil\0py")
    assert "NUL" in invalid("a.zip", data, "unsafe_path").message


def test_a_tar_name_that_is_not_utf8_is_unsafe() -> None:
    member, content = regular("caf\udce9.py", b"")
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz", format=tarfile.GNU_FORMAT, errors="surrogateescape") as archive:
        archive.addfile(member, io.BytesIO(content))
    assert "UTF-8" in invalid("a.tgz", buffer.getvalue(), "unsafe_path").message


def test_the_same_path_twice_after_normalisation_is_refused() -> None:
    data = tar_gz_of({"agent.py": AGENT, "./agent.py": AGENT})
    error = invalid("a.tgz", data, "duplicate_path")
    assert "'agent.py' appears more than once" in error.message


def test_a_zip_with_a_repeated_entry_is_refused() -> None:
    buffer = io.BytesIO()
    with (
        pytest.warns(UserWarning, match="Duplicate name"),
        zipfile.ZipFile(buffer, "w") as archive,
    ):
        archive.writestr("agent.py", AGENT)
        archive.writestr("agent.py", b"other = 1\n")
    invalid("a.zip", buffer.getvalue(), "duplicate_path")


def test_a_path_that_is_both_a_file_and_a_folder_is_refused() -> None:
    error = invalid("a.zip", make_zip({"agent.py": AGENT, "lib": b"", "lib/x.py": b""}), "duplicate_path")
    assert "'lib' is both a file and a folder" in error.message


# -- links and special files ---------------------------------------------------------------------


def test_a_symlink_in_a_tar_is_refused() -> None:
    data = make_tar_gz([regular("agent.py", AGENT), special("lib.py", tarfile.SYMTYPE, "/etc/passwd")])
    error = invalid("a.tgz", data, "link_in_archive")
    assert "symbolic link to '/etc/passwd'" in error.message


def test_a_hard_link_in_a_tar_is_refused() -> None:
    data = make_tar_gz([regular("agent.py", AGENT), special("copy.py", tarfile.LNKTYPE, "agent.py")])
    assert "hard link to 'agent.py'" in invalid("a.tgz", data, "link_in_archive").message


def test_a_symlink_in_a_zip_is_refused() -> None:
    data = zip_with_mode("lib.py", stat.S_IFLNK | 0o777, b"/etc/passwd")
    error = invalid("a.zip", data, "link_in_archive")
    assert "'lib.py' is a symbolic link" in error.message


@pytest.mark.parametrize(
    ("kind", "what"),
    [(tarfile.FIFOTYPE, "FIFO"), (tarfile.CHRTYPE, "character device"), (tarfile.BLKTYPE, "block device")],
)
def test_a_device_or_fifo_in_a_tar_is_refused(kind: bytes, what: str) -> None:
    data = make_tar_gz([regular("agent.py", AGENT), special("dev", kind)])
    error = invalid("a.tgz", data, "special_file")
    assert what in error.message
    assert "only regular files and folders" in error.message


def test_a_fifo_in_a_zip_is_refused() -> None:
    assert "FIFO" in invalid("a.zip", zip_with_mode("pipe", stat.S_IFIFO | 0o644, b""), "special_file").message


def test_an_encrypted_zip_entry_is_refused() -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("agent.py", AGENT)
        # zipfile cannot encrypt; setting the flag before close puts it in the central directory.
        archive.getinfo("agent.py").flag_bits |= 0x1
    error = invalid("a.zip", buffer.getvalue(), "encrypted_archive")
    assert "without a password" in error.message


# -- empty ---------------------------------------------------------------------------------------


def test_an_empty_zip_is_an_empty_archive() -> None:
    assert "no files" in invalid("a.zip", make_zip({}), "empty_archive").message


def test_a_tar_of_only_folders_is_an_empty_archive() -> None:
    folder = tarfile.TarInfo("my-agent")
    folder.type = tarfile.DIRTYPE
    invalid("a.tgz", make_tar_gz([(folder, b"")]), "empty_archive")


def test_an_archive_of_only_junk_is_an_empty_archive() -> None:
    data = make_zip({"__MACOSX/._agent.py": b"\0", ".DS_Store": b"\0", "__pycache__/agent.cpython-311.pyc": b"\0"})
    error = invalid("a.zip", data, "empty_archive")
    assert "besides 3 system file(s)" in error.message


# -- Python sources ------------------------------------------------------------------------------


def test_a_py_that_is_not_utf8_is_refused_in_an_archive() -> None:
    data = make_zip({"agent.py": AGENT, "lib/names.py": b"# ok\nNAME = 'caf\xe9'\n"})
    error = invalid("a.zip", data, "not_utf8")
    assert "lib/names.py is not UTF-8" in error.message
    assert "line 2" in error.message
    assert error.details == {"file": "lib/names.py", "line": 2, "offset": 16}


def test_a_single_py_that_is_not_utf8_is_refused() -> None:
    assert "0xff" in invalid("agent.py", b"\xff\xfe x = 1\n", "not_utf8").message


def test_a_syntax_error_names_the_file_and_line() -> None:
    broken = b"import os\n\ndef broken(:\n    pass\n"
    data = make_zip({"my-agent/agent.py": AGENT, "my-agent/lib/util.py": broken})
    error = invalid("a.zip", data, "syntax_error")
    assert error.message.startswith("syntax error at lib/util.py:3: ")
    assert error.details["file"] == "lib/util.py"
    assert error.details["line"] == 3
    assert error.details["text"] == "def broken(:"
    assert isinstance(error.details["offset"], int)


def test_a_syntax_error_in_a_single_py_is_refused() -> None:
    error = invalid("bot.py", b"x = 1\nif True\n    pass\n", "syntax_error")
    assert "bot.py:2" in error.message


def test_compile_time_errors_count_as_syntax_errors() -> None:
    assert "'return' outside function" in invalid("agent.py", b"return 1\n", "syntax_error").message


def test_a_nul_byte_in_source_is_a_syntax_error() -> None:
    error = invalid("agent.py", b"x = 1\ny = '\0'\n", "syntax_error")
    assert "agent.py:2" in error.message


def test_code_too_deeply_nested_to_compile_is_a_syntax_error_not_a_crash() -> None:
    error = invalid("agent.py", b"x = " + b"-" * 200_000 + b"1\n", "syntax_error")
    assert "nested too deeply" in error.message


def test_requirements_keep_only_real_lines() -> None:
    text = b"# pinned\n\nnumpy==2.0  # fast arrays\n  gymnasium>=1.0\n#torch\npkg @ https://x.org/p.zip#egg=pkg\n"
    assert parse_requirements(text) == ["numpy==2.0", "gymnasium>=1.0", "pkg @ https://x.org/p.zip#egg=pkg"]
    assert parse_requirements(None) == []


def test_only_a_top_level_requirements_file_counts() -> None:
    data = make_zip({"agent.py": AGENT, "lib/requirements.txt": b"torch\n"})
    assert inspect_upload("a.zip", data, LIMITS).requirements == []


def test_requirements_that_are_not_utf8_are_refused() -> None:
    data = make_zip({"agent.py": AGENT, "requirements.txt": b"caf\xe9\n"})
    assert "requirements.txt" in invalid("a.zip", data, "not_utf8").message


# -- packing -------------------------------------------------------------------------------------


def test_pack_tar_gz_is_byte_identical_whatever_the_order() -> None:
    files = {"agent.py": AGENT, "lib/util.py": b"X = 1\n", "requirements.txt": b"numpy\n"}
    first = pack_tar_gz(files)
    assert pack_tar_gz(dict(reversed(list(files.items())))) == first
    assert pack_tar_gz(files) == first


def test_pack_tar_gz_round_trips_with_fixed_metadata() -> None:
    files = {"agent.py": AGENT, "lib/" + "deep/" * 30 + "x.py": b"", "data/empty.txt": b""}
    packed = pack_tar_gz(files)
    with tarfile.open(fileobj=io.BytesIO(packed), mode="r:gz") as archive:
        members = archive.getmembers()
        assert [m.name for m in members] == sorted(files)
        assert {(m.mtime, m.uid, m.gid, m.mode, m.uname, m.gname) for m in members} == {(0, 0, 0, 0o644, "", "")}
        assert {m.name: archive.extractfile(m).read() for m in members} == files  # type: ignore[union-attr]
    assert packed[4:8] == b"\0\0\0\0"  # gzip mtime
    assert inspect_upload("again.tar.gz", packed, LIMITS).files == files


def test_pack_tar_gz_refuses_paths_that_are_not_normalised() -> None:
    with pytest.raises(ValueError, match="normalised"):
        pack_tar_gz({"../agent.py": AGENT})
    with pytest.raises(ValueError, match="normalised"):
        pack_tar_gz({"./agent.py": AGENT})
