"""Decompression bombs, built for real in a test, and an independent count of what they expand to.

Nothing here holds a bomb's expanded content: streams are compressed from 1 MiB pieces of zeros and
counted back in pieces, so a test can prove the bomb is real (it does expand past the budget) with
little memory of its own. Zip files are written by hand so each member can use any compression
method with fast settings; LZMA members use zip's format (version, properties size, properties).
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import struct
import tarfile
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass

MIB = 1024 * 1024
_PIECE = bytes(MIB)
# LZMA1 with lc=3, lp=0, pb=2 and a 1 MiB dictionary: properties byte (pb * 5 + lp) * 9 + lc = 93.
_LZMA_FILTER = {"id": lzma.FILTER_LZMA1, "preset": 0, "dict_size": MIB, "lc": 3, "lp": 0, "pb": 2}
_LZMA_PROPERTIES = bytes([93]) + MIB.to_bytes(4, "little")


@dataclass(frozen=True)
class Member:
    name: str
    raw: bytes  # the compressed bytes as stored
    method: int
    size: int  # uncompressed size, as the headers declare it
    crc: int


def zeros_member(name: str, method: int, size: int) -> Member:
    """`size` zero bytes compressed with `method` (zipfile.ZIP_*), never all in memory at once."""
    if method == zipfile.ZIP_DEFLATED:
        deflater = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
        raw = _feed(deflater.compress, deflater.flush, size)
    elif method == zipfile.ZIP_BZIP2:
        compressor = bz2.BZ2Compressor(9)
        raw = _feed(compressor.compress, compressor.flush, size)
    elif method == zipfile.ZIP_LZMA:
        packer = lzma.LZMACompressor(lzma.FORMAT_RAW, filters=[_LZMA_FILTER])
        raw = bytes([9, 4]) + len(_LZMA_PROPERTIES).to_bytes(2, "little") + _LZMA_PROPERTIES
        raw += _feed(packer.compress, packer.flush, size)
    else:
        raise ValueError(f"no bombs for method {method}")
    return Member(name, raw, method, size, _zeros_crc(size))


def stored_member(name: str, content: bytes) -> Member:
    return Member(name, content, zipfile.ZIP_STORED, len(content), zlib.crc32(content))


def deflated_member(name: str, content: bytes) -> Member:
    deflater = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    raw = deflater.compress(content) + deflater.flush()
    return Member(name, raw, zipfile.ZIP_DEFLATED, len(content), zlib.crc32(content))


def zip_of(members: list[Member]) -> bytes:
    """A zip archive (no zip64: every size under 4 GiB) of members whose bytes are already compressed."""
    local = io.BytesIO()
    central = io.BytesIO()
    for member in members:
        name = member.name.encode()
        offset = local.tell()
        local.write(
            struct.pack(
                "<4s2B4HL2L2H", b"PK\x03\x04", 20, 0, 0, member.method, 0, 0x21, member.crc,
                len(member.raw), member.size, len(name), 0,
            )
        )  # fmt: skip
        local.write(name)
        local.write(member.raw)
        central.write(
            struct.pack(
                "<4s4B4HL2L5H2L", b"PK\x01\x02", 20, 3, 20, 0, 0, member.method, 0, 0x21, member.crc,
                len(member.raw), member.size, len(name), 0, 0, 0, 0, 0o100644 << 16, offset,
            )
        )  # fmt: skip
        central.write(name)
    directory = central.getvalue()
    end = struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, len(members), len(members), len(directory), local.tell(), 0)
    return local.getvalue() + directory + end


def tar_gz_of_zeros(name: str, size: int, extra: dict[str, bytes] | None = None) -> bytes:
    """A .tar.gz whose member `name` is `size` zero bytes (and small `extra` files before it)."""
    buffer = io.BytesIO()
    with (
        gzip.GzipFile(filename="", mode="wb", fileobj=buffer, mtime=0, compresslevel=9) as compressed,
        tarfile.open(fileobj=compressed, mode="w") as archive,
    ):
        for extra_name, content in (extra or {}).items():
            info = tarfile.TarInfo(extra_name)
            info.size = len(content)
            archive.addfile(info, io.BytesIO(content))
        info = tarfile.TarInfo(name)
        info.size = size
        archive.addfile(info, _Zeros(size))
    return buffer.getvalue()


def expanded_zip_member(data: bytes, name: str, *, stop_after: int) -> int:
    """How many bytes member `name` of a zip really expands to (counting stops past `stop_after`).

    Independent of the code under test: zipfile finds the member, the standard library's
    decompressors inflate it one 1 MiB piece at a time.
    """
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        info = archive.getinfo(name)
    header = struct.unpack("<4s2B4HL2L2H", data[info.header_offset : info.header_offset + 30])
    start = info.header_offset + 30 + header[-2] + header[-1]
    raw = data[start : start + info.compress_size]
    if info.compress_type == zipfile.ZIP_LZMA:
        properties = raw[4:9]
        lc, rest = properties[0] % 9, properties[0] // 9
        lzma1 = {"id": lzma.FILTER_LZMA1, "lc": lc, "lp": rest % 5, "pb": rest // 5}
        lzma1["dict_size"] = int.from_bytes(properties[1:5], "little")
        return _count(lzma.LZMADecompressor(lzma.FORMAT_RAW, filters=[lzma1]), raw[9:], stop_after)
    if info.compress_type == zipfile.ZIP_BZIP2:
        return _count(bz2.BZ2Decompressor(), raw, stop_after)
    inflater = zlib.decompressobj(-zlib.MAX_WBITS)
    total, pending = 0, raw
    while not inflater.eof and total <= stop_after:
        piece = inflater.decompress(pending, MIB)
        pending = inflater.unconsumed_tail
        if not piece:
            break
        total += len(piece)
    return total


def expanded_tar_gz(data: bytes, *, stop_after: int) -> int:
    """How many bytes the gzip stream of a .tar.gz really expands to (counting stops past `stop_after`)."""
    total = 0
    with gzip.GzipFile(fileobj=io.BytesIO(data)) as stream:
        while total <= stop_after and (piece := stream.read(MIB)):
            total += len(piece)
    return total


def _count(decompressor: bz2.BZ2Decompressor | lzma.LZMADecompressor, raw: bytes, stop_after: int) -> int:
    total, pending = 0, raw
    while not decompressor.eof and total <= stop_after:
        piece = decompressor.decompress(pending, MIB)
        pending = b""
        if not piece:
            break
        total += len(piece)
    return total


def _feed(compress: Callable[[bytes], bytes], flush: Callable[[], bytes], size: int) -> bytes:
    parts = [compress(_PIECE) for _ in range(size // MIB)]
    parts.append(compress(bytes(size % MIB)))
    parts.append(flush())
    return b"".join(parts)


def _zeros_crc(size: int) -> int:
    crc = 0
    for _ in range(size // MIB):
        crc = zlib.crc32(_PIECE, crc)
    return zlib.crc32(bytes(size % MIB), crc)


class _Zeros:
    def __init__(self, size: int) -> None:
        self.left = size

    def read(self, size: int = -1) -> bytes:
        size = self.left if size < 0 else min(size, self.left)
        self.left -= size
        return bytes(size)
