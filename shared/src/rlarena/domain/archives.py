"""Inspection of an uploaded agent (a .py, a .zip or a .tar.gz) entirely in memory.

Nothing is extracted to disk and nothing the user wrote is imported or run. Every size limit is
enforced on bytes actually decompressed, chunk by chunk, so a bomb is stopped as soon as it passes a
limit rather than after it has filled memory; sizes declared in headers are never trusted. Zip
members are decompressed here rather than by `zipfile`, whose bzip2 and LZMA readers inflate
everything a read hands them at once (1.5 KB of bzip2 became 2 GiB in one `read(65536)`).

Python files are compiled to check their syntax, but never here: `inspect_upload` takes a
`SourceCheck`, which the adapters supply as a sandboxed child (`adapters/source_check.py`) applying
the rules of `domain/python_sources.py`. A source file over `max_source_bytes` is refused while it is
being unpacked, before anything parses it.
"""

from __future__ import annotations

import bz2
import dataclasses
import gzip
import hashlib
import io
import lzma
import re
import stat
import struct
import tarfile
import zipfile
import zlib
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from typing import IO, TYPE_CHECKING, Literal, Protocol

from rlarena.domain.python_sources import PythonSource, SourceProblem, SourceReport
from rlarena.errors import InvalidInput, PayloadTooLarge

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

MIB = 1024 * 1024

Kind = Literal["py", "zip", "tar.gz"]
EntryType = Literal["file", "dir", "link", "special"]

SUPPORTED_EXTENSIONS = (".py", ".zip", ".tar.gz", ".tgz")
ENTRY_POINT_NAMES = ("agent.py", "main.py")
ENTRY_POINT_RULE = "put agent.py (or main.py) at the top level, or make it the only .py file at the top level"

_CHUNK = 64 * 1024
# Below this much unpacked data the ratio guard stays quiet: a few KiB of repetitive text can
# honestly compress more than 100x, and expanding it costs nothing.
_RATIO_GRACE_BYTES = 1 * MIB
# Folders, system files and headers are entries too. Four per allowed file (plus some slack) fits a
# Finder zip (a __MACOSX shadow per file, folder entries) yet stops an archive of a million headers.
_ENTRIES_PER_FILE = 4
_ENTRY_SLACK = 100
# What a tar stream may carry on top of member content: a header, pax records and padding per entry,
# plus the end-of-archive blocks.
_TAR_OVERHEAD_PER_ENTRY = 4096
_TAR_OVERHEAD_FIXED = 64 * 1024
_ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06")  # a member, or the end record of an empty zip
_GZIP_MAGIC = b"\x1f\x8b"
_ZIP_FLAG_ENCRYPTED = 0x1
_ZIP_LOCAL_HEADER = struct.Struct("<4s2B4HL2L2H")  # as zipfile.structFileHeader
_ZIP_LOCAL_MAGIC = b"PK\x03\x04"
_LZMA_PROPERTIES_SIZE = 5  # LZMA1: one byte of lc/lp/pb, four of dictionary size
_LZMA_MIN_DICTIONARY = 4096
_DRIVE_LETTER = re.compile(r"^[A-Za-z]:")
_INLINE_COMMENT = re.compile(r"(?:^|\s)#")
_UNSAFE_NAME_CHARS = re.compile(r"[^A-Za-z0-9_.-]")

# Files that operating systems and editors leave behind; they are never part of an agent.
_JUNK_FOLDERS = frozenset({"__MACOSX", "__pycache__"})
_JUNK_FILES = frozenset({".DS_Store", "Thumbs.db"})
_JUNK_SUFFIXES = (".pyc", ".pyo")

# What a damaged or hostile archive makes the standard library raise while it is being read.
_CORRUPT = (
    zipfile.BadZipFile,
    zipfile.LargeZipFile,
    tarfile.TarError,
    zlib.error,
    lzma.LZMAError,
    struct.error,
    EOFError,
    OSError,
    ValueError,
    NotImplementedError,
)


@dataclass(frozen=True)
class ArchiveLimits:
    max_bytes: int = 100 * MIB  # the settings' defaults (ARCHIVE_MAX_*): room for a trained model
    max_files: int = 2000
    max_unpacked_bytes: int = 100 * MIB
    max_ratio: float = 100.0  # unpacked / compressed bytes: the zip-bomb guard
    max_path_length: int = 255
    max_source_bytes: int = 1 * MIB  # one .py file (or requirements.txt), checked before anything parses it


@dataclass(frozen=True)
class AgentSource:
    files: dict[str, bytes]  # normalised relative POSIX path -> content, junk dropped, sorted
    entry_point: str
    requirements: list[str]
    kind: Kind
    size: int  # bytes of the upload
    unpacked_size: int  # bytes of the kept files
    sha256: str  # of the upload
    declared_environment: str | None = None  # the entry point's ENVIRONMENT string literal, if any


class SourceCheck(Protocol):
    """Compiles the Python files (the entry point first) and reads the entry point's declaration.

    What the domain needs and cannot do itself without parsing untrusted code in the caller's
    process; `rlarena.adapters.source_check` supplies it as a sandboxed child.
    """

    def __call__(self, sources: list[PythonSource], /) -> SourceReport: ...


def inspect_upload(filename: str, data: bytes, limits: ArchiveLimits, check_sources: SourceCheck) -> AgentSource:
    """Checks an upload against every rule and returns its files; raises InvalidInput/PayloadTooLarge.

    The archive rules are applied here; the Python files are then handed to `check_sources`.
    """
    source = read_upload(filename, data, limits)
    report = check_sources(_python_sources(source.files, source.entry_point))
    if report.problem is not None:
        raise _source_problem(report.problem)
    return dataclasses.replace(source, declared_environment=report.declared_environment)


def read_upload(filename: str, data: bytes, limits: ArchiveLimits) -> AgentSource:
    """The upload's files under every archive rule, without compiling anything (no declaration read).

    For a builder handed an upload that intake already checked: its code is compiled anyway when
    the sandboxed probe loads it.
    """
    kind = upload_kind(filename)
    _check_upload_size(data, limits)
    if kind == "py":
        name = _single_file_name(filename, limits)
        _check_source_size(name, len(data), limits)
        files = {name: data}
        _check_unpacked(len(data), limits)
        entry_point = name
    else:
        read = _read_zip if kind == "zip" else _read_tar_gz
        files = _strip_wrapping_folder(read(filename, data, limits))
        _check_file_folder_clash(files)
        entry_point = find_entry_point(files)
    return AgentSource(
        files=files,
        entry_point=entry_point,
        requirements=parse_requirements(files.get("requirements.txt")),
        kind=kind,
        size=len(data),
        unpacked_size=sum(len(content) for content in files.values()),
        sha256=hashlib.sha256(data).hexdigest(),
    )


def upload_kind(filename: str) -> Kind:
    lower = filename.lower()
    if lower.endswith((".tar.gz", ".tgz")):
        return "tar.gz"
    if lower.endswith(".zip"):
        return "zip"
    if lower.endswith(".py"):
        return "py"
    raise InvalidInput(
        f"{filename!r} is not a supported upload: send a single .py file, a .zip or a .tar.gz/.tgz archive",
        code="unsupported_type",
        details={"filename": filename, "supported": list(SUPPORTED_EXTENSIONS)},
    )


def find_entry_point(paths: Iterable[str]) -> str:
    """agent.py, else main.py, else the only top-level .py file, else the only .py file anywhere."""
    ordered = sorted(paths)
    for name in ENTRY_POINT_NAMES:
        if name in ordered:
            return name
    python = [path for path in ordered if path.endswith(".py")]
    top_level = [path for path in python if "/" not in path]
    if len(top_level) > 1:
        raise InvalidInput(
            f"cannot tell which file starts the agent among {', '.join(top_level)}: name it agent.py or main.py",
            code="ambiguous_entry_point",
            details={"candidates": top_level},
        )
    if len(top_level) == 1:
        return top_level[0]
    if len(python) == 1:
        return python[0]
    found = f" (found {len(python)} .py files in subfolders)" if python else " (found no .py file)"
    raise InvalidInput(
        f"no entry point{found}: {ENTRY_POINT_RULE}",
        code="no_entry_point",
        details={"pythonFiles": python[:20]},
    )


def parse_requirements(data: bytes | None) -> list[str]:
    """The non-empty lines of requirements.txt, without comments; [] when there is none."""
    if data is None:
        return []
    text = _decode_utf8("requirements.txt", data)
    lines = (_INLINE_COMMENT.split(line, maxsplit=1)[0].strip() for line in text.splitlines())
    return [line for line in lines if line]


def pack_tar_gz(files: Mapping[str, bytes]) -> bytes:
    """A tar.gz of `files` that depends on nothing but their paths and contents.

    Sorted members, zero times, owners and names, fixed modes and a zero gzip timestamp: the same
    code always packs to the same bytes, so build contexts hash and cache reliably.
    """
    buffer = io.BytesIO()
    with (
        gzip.GzipFile(filename="", mode="wb", fileobj=buffer, mtime=0) as compressed,
        tarfile.open(fileobj=compressed, mode="w", format=tarfile.PAX_FORMAT) as archive,
    ):
        for path in sorted(files):
            if _normalise(path) != path or _path_problem(path, ArchiveLimits().max_path_length):
                raise ValueError(f"{path!r} is not a normalised relative path")
            content = files[path]
            member = tarfile.TarInfo(path)
            member.size = len(content)
            member.mtime = 0
            member.mode = 0o644
            member.uid = member.gid = 0
            member.uname = member.gname = ""
            archive.addfile(member, io.BytesIO(content))
    return buffer.getvalue()


# -- limits --------------------------------------------------------------------------------------


def _check_upload_size(data: bytes, limits: ArchiveLimits) -> None:
    if len(data) > limits.max_bytes:
        raise PayloadTooLarge(
            f"the upload is {_human(len(data))}; the limit is {_human(limits.max_bytes)}: "
            "leave out data sets, model weights and virtual environments",
            code="archive_too_large",
            details={"size": len(data), "maxBytes": limits.max_bytes},
        )
    if not data:
        raise InvalidInput("the upload is empty", code="empty_upload")


def _check_unpacked(total: int, limits: ArchiveLimits) -> None:
    if total > limits.max_unpacked_bytes:
        raise _unpacked_too_large(limits)


def _unpacked_too_large(limits: ArchiveLimits) -> InvalidInput:
    return InvalidInput(
        f"the upload unpacks to more than {_human(limits.max_unpacked_bytes)}, the limit: "
        "leave out data sets, model weights and virtual environments",
        code="unpacked_too_large",
        details={"maxUnpackedBytes": limits.max_unpacked_bytes},
    )


def _check_source_size(path: str, size: int, limits: ArchiveLimits) -> None:
    if size > limits.max_source_bytes:
        raise InvalidInput(
            f"{path} is larger than {_human(limits.max_source_bytes)}, the limit for one source file: "
            "split the code into modules, and keep data (tables, weights) in data files that the agent reads",
            code="source_too_large",
            details={"file": path, "maxSourceBytes": limits.max_source_bytes},
        )


def _is_source(path: str) -> bool:
    """Files the platform reads as text: Python code (compiled at intake) and requirements.txt."""
    return path.endswith(".py") or path.rsplit("/", 1)[-1] == "requirements.txt"


def _max_entries(limits: ArchiveLimits) -> int:
    return limits.max_files * _ENTRIES_PER_FILE + _ENTRY_SLACK


@dataclass
class _Budget:
    """Running totals of one archive, checked as each entry and chunk arrives so a bomb stops early."""

    limits: ArchiveLimits
    compressed_size: int
    entries: int = 0
    unpacked: int = 0

    def count_entry(self) -> None:
        self.entries += 1
        if self.entries > _max_entries(self.limits):
            raise InvalidInput(
                f"the archive has more than {_max_entries(self.limits)} entries "
                "(files, folders and system files together)",
                code="too_many_files",
                details={"maxEntries": _max_entries(self.limits)},
            )

    def count_bytes(self, size: int) -> None:
        self.unpacked += size
        _check_unpacked(self.unpacked, self.limits)
        ratio_cap = self.limits.max_ratio * self.compressed_size
        if self.unpacked > _RATIO_GRACE_BYTES and self.unpacked > ratio_cap:
            raise InvalidInput(
                f"the archive expands to more than {self.limits.max_ratio:g} times its compressed size, "
                "which is how a zip bomb looks: upload the files with ordinary compression",
                code="compression_ratio",
                details={"maxRatio": self.limits.max_ratio, "compressedSize": self.compressed_size},
            )


class _Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


class _BoundedReader(io.RawIOBase):
    """The decompressed tar stream, refusing to give out more than `cap` bytes in total.

    tarfile reads headers (pax records, long names) whole before any member content, so the content
    budget alone would not stop a single header that decompresses to gigabytes.
    """

    def __init__(self, source: _Readable, cap: int, limits: ArchiveLimits) -> None:
        super().__init__()
        self._source = source
        self._cap = cap
        self._limits = limits
        self._total = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: WriteableBuffer, /) -> int:
        view = memoryview(buffer).cast("B")
        chunk = self._source.read(min(len(view), _CHUNK))
        self._total += len(chunk)
        if self._total > self._cap:
            raise _unpacked_too_large(self._limits)
        view[: len(chunk)] = chunk
        return len(chunk)


# -- reading archives ----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Entry:
    name: str  # as stored in the archive, not yet checked
    type: EntryType
    description: str  # what a link or special entry is, for the message
    # The content, decompressed in pieces of at most _CHUNK bytes as they are asked for.
    chunks: Callable[[], Generator[bytes, None, None]] | None = None


def _read_zip(filename: str, data: bytes, limits: ArchiveLimits) -> dict[str, bytes]:
    if not data.startswith(_ZIP_MAGICS):
        raise _bad_archive(filename, "it is not a zip archive")
    # zipfile reads the central directory only; every member's bytes are decompressed here.
    with _reading(filename), zipfile.ZipFile(io.BytesIO(data)) as archive:
        return _collect(_zip_entries(archive, data, limits), _Budget(limits, len(data)))


def _zip_entries(archive: zipfile.ZipFile, data: bytes, limits: ArchiveLimits) -> Iterator[_Entry]:
    for info in archive.infolist():
        # orig_filename is the name before zipfile cut it at a NUL byte, which the path check must see.
        name = info.orig_filename
        if info.flag_bits & _ZIP_FLAG_ENCRYPTED:
            raise InvalidInput(
                f"{name!r} is encrypted; upload the archive without a password",
                code="encrypted_archive",
                details={"path": name},
            )
        # Unix tools keep the file type in the high half of external_attr; it is what an extractor obeys.
        file_type = stat.S_IFMT(info.external_attr >> 16)
        if file_type == stat.S_IFLNK:
            yield _Entry(name, "link", "a symbolic link")
        elif info.is_dir() or file_type == stat.S_IFDIR:
            yield _Entry(name, "dir", "a folder")
        elif file_type in (0, stat.S_IFREG):
            yield _Entry(name, "file", "a file", partial(_zip_member_chunks, data, info, limits))
        else:
            yield _Entry(name, "special", _describe_mode(file_type))


def _zip_member_chunks(data: bytes, info: zipfile.ZipInfo, limits: ArchiveLimits) -> Generator[bytes, None, None]:
    """The member's content in pieces of at most _CHUNK bytes, each decompressed only when asked for.

    Every method is decompressed with an output limit per call, so no piece of compressed input,
    however small, can expand to more than _CHUNK at once. The header's size and CRC are checked as
    the content arrives and at its end, never used to size anything.
    """
    name = info.orig_filename
    compressed = _zip_member_data(data, info)
    produced = 0
    crc = 0
    # A dictionary larger than what the member may produce is never needed (nor allocated).
    most = min(info.file_size, limits.max_unpacked_bytes)
    for chunk in _decompressed(compressed, info.compress_type, name, most):
        produced += len(chunk)
        if produced > info.file_size:  # more than the header declares: stop now, not at the end
            raise zipfile.BadZipFile(f"Bad CRC-32 or size for file {name!r}: it unpacks to more than it declares")
        crc = zlib.crc32(chunk, crc)
        yield chunk
    if produced != info.file_size or crc != info.CRC:
        raise zipfile.BadZipFile(f"Bad CRC-32 or size for file {name!r}")


def _zip_member_data(data: bytes, info: zipfile.ZipInfo) -> memoryview:
    """The member's compressed bytes, located through its local header (checked to lie inside the upload)."""
    start = info.header_offset
    header = data[start : start + _ZIP_LOCAL_HEADER.size]
    if len(header) != _ZIP_LOCAL_HEADER.size:
        raise zipfile.BadZipFile(f"truncated local header for {info.orig_filename!r}")
    fields = _ZIP_LOCAL_HEADER.unpack(header)
    if fields[0] != _ZIP_LOCAL_MAGIC:
        raise zipfile.BadZipFile(f"bad local header for {info.orig_filename!r}")
    begin = start + _ZIP_LOCAL_HEADER.size + fields[-2] + fields[-1]  # + name length + extra length
    end = begin + info.compress_size
    if end > len(data):
        raise zipfile.BadZipFile(f"the data of {info.orig_filename!r} runs past the end of the archive")
    return memoryview(data)[begin:end]


def _decompressed(compressed: memoryview, method: int, name: str, most: int) -> Iterator[bytes]:
    if method == zipfile.ZIP_STORED:
        for start in range(0, len(compressed), _CHUNK):
            yield bytes(compressed[start : start + _CHUNK])
        return
    if method == zipfile.ZIP_DEFLATED:
        yield from _inflate(compressed)
        return
    if method == zipfile.ZIP_BZIP2:
        yield from _limited(bz2.BZ2Decompressor(), bytes(compressed))
        return
    if method == zipfile.ZIP_LZMA:
        yield from _limited(_zip_lzma_decompressor(compressed, most), bytes(compressed[4 + _LZMA_PROPERTIES_SIZE :]))
        return
    raise InvalidInput(
        f"{name!r} is compressed with method {method}, which is not supported: "
        "use deflate, the default of every zip tool (bzip2 and LZMA work too)",
        code="bad_archive",
        details={"path": name, "compressionMethod": method},
    )


def _inflate(compressed: memoryview) -> Iterator[bytes]:
    inflater = zlib.decompressobj(-zlib.MAX_WBITS)  # a raw deflate stream, as zip stores it
    pending: bytes | memoryview = compressed
    while not inflater.eof:
        chunk = inflater.decompress(pending, _CHUNK)
        pending = inflater.unconsumed_tail
        if not chunk:
            return  # all input used and nothing more to give: the size and CRC checks decide
        yield chunk


class _Decompressor(Protocol):
    @property
    def eof(self) -> bool: ...

    def decompress(self, data: bytes, max_length: int = -1) -> bytes: ...


def _limited(decompressor: _Decompressor, compressed: bytes) -> Iterator[bytes]:
    """bzip2 and LZMA take all their input at once and give it back _CHUNK bytes per call."""
    pending = compressed
    while not decompressor.eof:
        chunk = decompressor.decompress(pending, _CHUNK)
        pending = b""
        if not chunk:
            return
        yield chunk


def _zip_lzma_decompressor(compressed: memoryview, most: int) -> lzma.LZMADecompressor:
    """A raw LZMA1 decoder for a zip member: 2 bytes of version, 2 of properties size, the properties.

    The dictionary the header asks for is capped at `most`, the most the member may produce (its
    declared size, within the budget; it is refused as soon as it produces more): no back-reference
    can reach further, and a header asking for 4 GiB must not make the decoder allocate it.
    """
    header = bytes(compressed[:4])
    if len(header) < 4 or int.from_bytes(header[2:4], "little") != _LZMA_PROPERTIES_SIZE:
        raise lzma.LZMAError("unsupported LZMA properties in a zip member")
    properties = bytes(compressed[4 : 4 + _LZMA_PROPERTIES_SIZE])
    if len(properties) < _LZMA_PROPERTIES_SIZE or properties[0] >= 9 * 5 * 5:
        raise lzma.LZMAError("invalid LZMA properties in a zip member")
    literal_context, rest = properties[0] % 9, properties[0] // 9
    literal_position, position_bits = rest % 5, rest // 5
    dictionary = int.from_bytes(properties[1:5], "little")
    dictionary = max(_LZMA_MIN_DICTIONARY, min(dictionary, most))
    lzma1 = {
        "id": lzma.FILTER_LZMA1,
        "lc": literal_context,
        "lp": literal_position,
        "pb": position_bits,
        "dict_size": dictionary,
    }
    return lzma.LZMADecompressor(lzma.FORMAT_RAW, filters=[lzma1])


def _describe_mode(file_type: int) -> str:
    names = {
        stat.S_IFCHR: "a character device",
        stat.S_IFBLK: "a block device",
        stat.S_IFIFO: "a FIFO (named pipe)",
        stat.S_IFSOCK: "a socket",
    }
    return names.get(file_type, f"an entry of unknown type {file_type:#o}")


def _read_tar_gz(filename: str, data: bytes, limits: ArchiveLimits) -> dict[str, bytes]:
    if not data.startswith(_GZIP_MAGIC):
        raise _bad_archive(filename, "it is not gzip-compressed (a .tar.gz/.tgz is a tar archive compressed with gzip)")
    cap = limits.max_unpacked_bytes + _max_entries(limits) * _TAR_OVERHEAD_PER_ENTRY + _TAR_OVERHEAD_FIXED
    stream = _BoundedReader(gzip.GzipFile(fileobj=io.BytesIO(data), mode="rb"), cap, limits)
    # "r|" reads strictly forwards through the bounded stream: nothing is seeked or read twice.
    with (
        _reading(filename),
        tarfile.open(fileobj=stream, mode="r|", encoding="utf-8", errors="surrogateescape") as archive,
    ):
        return _collect(_tar_entries(archive), _Budget(limits, len(data)))


def _tar_entries(archive: tarfile.TarFile) -> Iterator[_Entry]:
    for member in archive:
        if member.isreg():
            yield _Entry(member.name, "file", "a file", partial(_tar_member_chunks, archive, member))
        elif member.isdir():
            yield _Entry(member.name, "dir", "a folder")
        elif member.issym():
            yield _Entry(member.name, "link", f"a symbolic link to {member.linkname!r}")
        elif member.islnk():
            yield _Entry(member.name, "link", f"a hard link to {member.linkname!r}")
        elif member.ischr():
            yield _Entry(member.name, "special", "a character device")
        elif member.isblk():
            yield _Entry(member.name, "special", "a block device")
        elif member.isfifo():
            yield _Entry(member.name, "special", "a FIFO (named pipe)")
        else:
            yield _Entry(member.name, "special", f"an entry of unsupported type {member.type!r}")


def _tar_member_chunks(archive: tarfile.TarFile, member: tarfile.TarInfo) -> Generator[bytes, None, None]:
    """The member's content read forwards from the bounded stream, _CHUNK bytes at a time."""
    content: IO[bytes] | None = archive.extractfile(member)
    if content is None:  # only for non-regular members, which never get here
        raise tarfile.ReadError(f"cannot read {member.name!r}")
    with content:
        while chunk := content.read(_CHUNK):
            yield chunk


@contextmanager
def _reading(filename: str) -> Iterator[None]:
    """Turns whatever a damaged archive makes the standard library raise into one clear InvalidInput."""
    try:
        yield
    except _CORRUPT as exc:
        raise _bad_archive(filename, str(exc) or type(exc).__name__) from exc


def _bad_archive(filename: str, reason: str) -> InvalidInput:
    return InvalidInput(
        f"{filename!r} cannot be read: {reason}",
        code="bad_archive",
        details={"filename": filename, "reason": reason},
    )


def _collect(entries: Iterator[_Entry], budget: _Budget) -> dict[str, bytes]:
    """Checks every entry and reads the regular files; junk is read (it counts) but not kept."""
    files: dict[str, bytes] = {}
    junk = 0
    for entry in entries:
        budget.count_entry()
        path = _checked_path(entry.name, budget.limits)
        _refuse_links_and_specials(entry, path)
        if entry.type != "file" or entry.chunks is None:
            continue  # a folder: its files arrive as their own entries
        if not path:
            raise _unsafe_path(entry.name, "it names no file")
        if _is_junk(path):  # read (it counts towards the budget) but not kept
            _read_bounded(entry.chunks(), budget, path, cap=None)
            junk += 1
            continue
        cap = budget.limits.max_source_bytes if _is_source(path) else None
        content = _read_bounded(entry.chunks(), budget, path, cap=cap)
        _add_file(files, path, content, budget.limits)
    if not files:
        only_junk = f" besides {junk} system file(s) such as __MACOSX or .DS_Store" if junk else ""
        raise InvalidInput(f"the archive contains no files{only_junk}", code="empty_archive")
    return dict(sorted(files.items()))


def _refuse_links_and_specials(entry: _Entry, path: str) -> None:
    # An extractor would follow a link out of the build folder or create a device: neither may pass.
    if entry.type == "link":
        raise InvalidInput(
            f"{entry.name!r} is {entry.description}; archives may hold only regular files and folders: "
            "put the file itself in the archive",
            code="link_in_archive",
            details={"path": path, "kind": entry.description},
        )
    if entry.type == "special":
        raise InvalidInput(
            f"{entry.name!r} is {entry.description}; archives may hold only regular files and folders",
            code="special_file",
            details={"path": path, "kind": entry.description},
        )


def _add_file(files: dict[str, bytes], path: str, content: bytes, limits: ArchiveLimits) -> None:
    if path in files:
        raise InvalidInput(
            f"'{path}' appears more than once in the archive", code="duplicate_path", details={"path": path}
        )
    files[path] = content
    if len(files) > limits.max_files:
        raise InvalidInput(
            f"the archive has more than {limits.max_files} files, the limit: "
            "leave out data, caches and virtual environments",
            code="too_many_files",
            details={"maxFiles": limits.max_files},
        )


def _read_bounded(chunks: Generator[bytes, None, None], budget: _Budget, path: str, *, cap: int | None) -> bytes:
    """The whole content, refused as soon as it passes the file's own cap or the archive's budget."""
    kept: list[bytes] = []
    size = 0
    try:
        for chunk in chunks:
            budget.count_bytes(len(chunk))
            size += len(chunk)
            if cap is not None and size > cap:
                _check_source_size(path, size, budget.limits)
            kept.append(chunk)
    finally:
        chunks.close()  # the decompressor stops here, not whenever it is collected
    return b"".join(kept)


# -- paths ---------------------------------------------------------------------------------------


def _checked_path(name: str, limits: ArchiveLimits) -> str:
    """The member's name as a relative POSIX path ("" for the root), refusing any that could escape."""
    problem = _path_problem(name, limits.max_path_length)
    if problem:
        raise _unsafe_path(name, problem)
    return _normalise(name)


def _normalise(name: str) -> str:
    # "./agent.py" (tar -C dir .) and "a//b" are common and harmless: drop the empty and "." parts.
    return "/".join(part for part in name.split("/") if part not in ("", "."))


def _path_problem(name: str, max_length: int) -> str | None:
    """Why `name` could escape or confuse an extractor, or None; the first rule that matches wins."""
    rules: tuple[tuple[bool, str], ...] = (
        ("\x00" in name, "it contains a NUL byte"),
        (any(ord(char) < 32 or ord(char) == 127 for char in name), "it contains control characters"),
        ("\\" in name, "it contains a backslash (use forward slashes)"),
        (len(name) > max_length, f"it is longer than {max_length} characters"),
        (name.startswith("/"), "it is absolute"),
        (_DRIVE_LETTER.match(name) is not None, "it starts with a drive letter"),
        (".." in name.split("/"), "it contains '..'"),
        (not _encodes_as_utf8(name), "it is not valid UTF-8"),
    )
    return next((reason for broken, reason in rules if broken), None)


def _encodes_as_utf8(name: str) -> bool:
    # tarfile hands undecodable bytes over as lone surrogates, which no UTF-8 file system accepts.
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _unsafe_path(name: str, problem: str) -> InvalidInput:
    shown = repr(name)
    return InvalidInput(
        f"{shown} is not a safe path inside an archive: {problem}; use relative paths with forward slashes",
        code="unsafe_path",
        details={"path": shown[1:-1], "reason": problem},
    )


def _is_junk(path: str) -> bool:
    parts = path.split("/")
    base = parts[-1]
    return (
        any(part in _JUNK_FOLDERS for part in parts[:-1])
        or base in _JUNK_FILES
        or base.startswith("._")  # AppleDouble shadows of macOS metadata
        or base.endswith(_JUNK_SUFFIXES)
    )


def _strip_wrapping_folder(files: dict[str, bytes]) -> dict[str, bytes]:
    """Drops one folder that wraps everything ("my-agent/agent.py" -> "agent.py")."""
    tops = {path.split("/", 1)[0] for path in files}
    if len(tops) != 1 or not all("/" in path for path in files):
        return files
    cut = len(tops.pop()) + 1
    return {path[cut:]: content for path, content in files.items()}


def _check_file_folder_clash(files: Mapping[str, bytes]) -> None:
    for path in files:
        parts = path.split("/")
        for depth in range(1, len(parts)):
            folder = "/".join(parts[:depth])
            if folder in files:
                raise InvalidInput(
                    f"'{folder}' is both a file and a folder in the archive",
                    code="duplicate_path",
                    details={"path": folder},
                )


def _single_file_name(filename: str, limits: ArchiveLimits) -> str:
    """The upload's own base name, reduced to characters that are safe on any command line."""
    base = re.split(r"[/\\]", filename)[-1]
    stem = _UNSAFE_NAME_CHARS.sub("_", base[: -len(".py")]).lstrip(".-")
    stem = stem[: max(1, limits.max_path_length - len(".py"))]
    return f"{stem or 'agent'}.py"


# -- Python sources ------------------------------------------------------------------------------


def _python_sources(files: Mapping[str, bytes], entry_point: str) -> list[PythonSource]:
    """Every .py file as text, the entry point first (its error is the one the user most needs to see).

    Decoding and the NUL check are linear and cheap, so they happen here and say exactly where;
    compiling is the check's.
    """
    others = sorted(path for path in files if path.endswith(".py") and path != entry_point)
    sources = []
    for path in [entry_point, *others]:
        text = _decode_utf8(path, files[path])
        nul = text.find("\x00")
        if nul >= 0:  # compile() would refuse it too, but without saying where
            line = text.count("\n", 0, nul) + 1
            raise _syntax_error(path, line, None, None, "source code cannot contain NUL bytes")
        sources.append(PythonSource(path, text))
    return sources


def _decode_utf8(path: str, data: bytes) -> str:
    try:
        # utf-8-sig: a byte-order mark (Windows editors add one) is UTF-8 too.
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise InvalidInput(
            f"{path} is not UTF-8 text (byte {data[exc.start]:#04x} on line {line}): save it as UTF-8",
            code="not_utf8",
            details={"file": path, "line": line, "offset": exc.start},
        ) from exc


def _source_problem(problem: SourceProblem) -> InvalidInput:
    return _syntax_error(problem.file, problem.line, problem.offset, problem.text, problem.message)


def _syntax_error(path: str, line: int, offset: int | None, text: str | None, message: str) -> InvalidInput:
    return InvalidInput(
        f"syntax error at {path}:{line}: {message}",
        code="syntax_error",
        details={"file": path, "line": line, "offset": offset, "text": text},
    )


def _human(size: int) -> str:
    for unit, scale in (("MiB", MIB), ("KiB", 1024)):
        if size >= scale:
            return f"{size / scale:.1f}".removesuffix(".0") + f" {unit}"
    return f"{size} bytes"
