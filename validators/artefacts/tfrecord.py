"""A strict reader of the TFRecord framing, with its CRC checks, in pure Python and numpy.

A TFRecord file is a sequence of records, each::

    uint64  length                 (little-endian)
    uint32  masked_crc32c(length)  (of the 8 length bytes)
    byte    data[length]
    uint32  masked_crc32c(data)

``crc32c`` is CRC-32C (Castagnoli, reflected polynomial ``0x82F63B78``) and
``masked_crc32c(x) = ((crc >> 15 | crc << 17) + 0xA282EAD8) mod 2**32``.

Every record is checked; the first one that is truncated or whose CRC does not match raises
:class:`~validators.errors.ArtefactError` naming the file and the byte offset where that record
starts. Nothing after a bad record is ever yielded, and the reader never stops quietly: a file
either reads to its last byte or raises.

Speed: the CRCs of a window of records are computed together with numpy (records of similar
length are right-aligned in a zero-padded matrix and the table-driven CRC runs down its columns,
which works because leading zero bytes do not change a CRC whose register starts at zero); a
long buffer is cut into lanes whose CRCs are computed side by side and then combined. Short or
lonely buffers use a slicing-by-16 table loop. See :func:`crc32c`.
"""

from __future__ import annotations

import io
import os
import struct
from collections.abc import Iterator
from typing import BinaryIO

import numpy as np

from validators.errors import ArtefactError

__all__ = ["FOOTER_SIZE", "HEADER_SIZE", "crc32c", "iter_records", "iter_records_from", "masked_crc32c"]

HEADER_SIZE = 12  # uint64 length + uint32 masked CRC of the length
FOOTER_SIZE = 4  # uint32 masked CRC of the data
_POLY = 0x82F63B78
_MASK_DELTA = 0xA282EAD8
_U32 = 0xFFFFFFFF
_WINDOW = 8 << 20  # bytes read and checked at a time
_LANES_MIN = 4096  # buffers at least this long use the numpy lane method
_BATCH_MIN_ROWS = 16  # fewer records of one length class: plain table loop


def _make_tables() -> list[list[int]]:
    t0 = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ _POLY if c & 1 else c >> 1
        t0.append(c)
    tables = [t0]
    for _ in range(15):
        prev = tables[-1]
        tables.append([(prev[i] >> 8) ^ t0[prev[i] & 0xFF] for i in range(256)])
    return tables


_T = _make_tables()
_T0 = _T[0]
_T0_NP = np.array(_T0, dtype=np.uint32)
_S16 = struct.Struct("<IIII")
_HEADER = struct.Struct("<QI")
_FOOTER = struct.Struct("<I")


def _crc_raw_python(data, crc: int) -> int:
    """Run the CRC register ``crc`` over ``data`` (no pre/post inversion): slicing-by-16."""
    t0, t1, t2, t3, t4, t5, t6, t7, t8, t9, t10, t11, t12, t13, t14, t15 = _T
    n = len(data)
    n16 = n - n % 16
    if n16:
        for a, b, c, d in _S16.iter_unpack(memoryview(data)[:n16]):
            a ^= crc
            crc = (
                t15[a & 0xFF] ^ t14[(a >> 8) & 0xFF] ^ t13[(a >> 16) & 0xFF] ^ t12[a >> 24]
                ^ t11[b & 0xFF] ^ t10[(b >> 8) & 0xFF] ^ t9[(b >> 16) & 0xFF] ^ t8[b >> 24]
                ^ t7[c & 0xFF] ^ t6[(c >> 8) & 0xFF] ^ t5[(c >> 16) & 0xFF] ^ t4[c >> 24]
                ^ t3[d & 0xFF] ^ t2[(d >> 8) & 0xFF] ^ t1[(d >> 16) & 0xFF] ^ t0[d >> 24]
            )
    for b in bytes(memoryview(data)[n16:]):
        crc = t0[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc


def _shift_tables(nbytes: int) -> list[list[int]]:
    """Four byte tables of the linear map "run the register over ``nbytes`` zero bytes"."""
    img = np.left_shift(np.uint32(1), np.arange(32, dtype=np.uint32))
    for _ in range(nbytes):
        img = _T0_NP[img & 0xFF] ^ (img >> 8)
    bits = ((np.arange(256)[:, None] >> np.arange(8)[None, :]) & 1).astype(bool)
    tables = []
    for p in range(4):
        chosen = np.where(bits, img[8 * p : 8 * p + 8][None, :], np.uint32(0))
        tables.append(np.bitwise_xor.reduce(chosen, axis=1).astype(np.uint32).tolist())
    return tables


def _crc_raw_lanes(data, crc: int) -> int:
    """Same as :func:`_crc_raw_python`, computed as ``L`` lanes in parallel with numpy."""
    buf = np.frombuffer(data, dtype=np.uint8)
    n = buf.size
    lanes = max(2, int(n**0.5))
    width = n // lanes
    cols = np.ascontiguousarray(buf[: lanes * width].reshape(lanes, width).T)
    reg = np.zeros(lanes, dtype=np.uint32)
    reg[0] = crc
    t0 = _T0_NP
    for j in range(width):
        reg = t0[(reg ^ cols[j]) & 0xFF] ^ (reg >> 8)
    s0, s1, s2, s3 = _shift_tables(width)
    lane_crcs = reg.tolist()
    total = lane_crcs[0]
    for r in lane_crcs[1:]:
        total = s0[total & 0xFF] ^ s1[(total >> 8) & 0xFF] ^ s2[(total >> 16) & 0xFF] ^ s3[total >> 24] ^ r
    return _crc_raw_python(memoryview(data)[lanes * width :], total)


def crc32c(data, crc: int = 0) -> int:
    """CRC-32C (Castagnoli) of ``data``; ``crc`` continues a previous value.

    >>> hex(crc32c(b"123456789"))
    '0xe3069283'
    """
    data = memoryview(data).cast("B") if not isinstance(data, bytes) else data
    reg = (crc ^ _U32) & _U32
    if len(data) >= _LANES_MIN:
        reg = _crc_raw_lanes(data, reg)
    else:
        reg = _crc_raw_python(data, reg)
    return reg ^ _U32


def _mask(crc: int) -> int:
    return ((((crc >> 15) | (crc << 17)) & _U32) + _MASK_DELTA) & _U32


def masked_crc32c(data) -> int:
    """The masked CRC-32C that TFRecord stores."""
    return _mask(crc32c(data))


def _crc32c_many(buf: np.ndarray, starts: list[int], lengths: list[int]) -> list[int]:
    """CRC-32C of the slices ``buf[s:s+n]``, computed together where that pays."""
    out = [0] * len(starts)
    classes: dict[int, list[int]] = {}
    for i, n in enumerate(lengths):
        width = 16
        while width < n:
            width *= 2
        classes.setdefault(width, []).append(i)
    raw = buf.data
    for width, idx in classes.items():
        if len(idx) < _BATCH_MIN_ROWS or width > 1 << 16:
            for i in idx:
                out[i] = crc32c(raw[starts[i] : starts[i] + lengths[i]])
            continue
        s = np.array([starts[i] for i in idx], dtype=np.int64)
        n = np.array([lengths[i] for i in idx], dtype=np.int64)
        col = np.arange(width, dtype=np.int64)
        pad = width - n
        # Column j of row r holds byte j - pad_r of that record, or 0 left of it.
        pos = col[:, None] - pad[None, :]
        inside = pos >= 0
        cols = buf[np.where(inside, pos + s[None, :], 0)]
        cols[~inside] = 0
        reg = np.zeros(len(idx), dtype=np.uint32)
        t0 = _T0_NP
        for j in range(width):
            reg = t0[(reg ^ cols[j]) & 0xFF] ^ (reg >> 8)
        # crc32c(d) = raw0(d) ^ crc32c(b"\0" * len(d)) because the CRC is linear in (init, data).
        zeros = _zero_crcs(width)
        for i, r in zip(idx, reg.tolist()):
            out[i] = r ^ zeros[lengths[i]]
    return out


_ZERO_CRCS: list[int] = [0]


def _zero_crcs(upto: int) -> list[int]:
    """``crc32c(b"\\0" * n)`` for n in 0..upto, cached."""
    z = _ZERO_CRCS
    if len(z) <= upto:
        reg = z[-1] ^ _U32
        t0 = _T0
        for _ in range(len(z), upto + 1):
            reg = t0[reg & 0xFF] ^ (reg >> 8)
            z.append(reg ^ _U32)
    return z


def _header_crc(header8: bytes) -> int:
    """Masked CRC-32C of the 8 length bytes, unrolled."""
    t = _T
    a, b = struct.unpack("<II", header8)
    a ^= _U32
    crc = (
        t[7][a & 0xFF] ^ t[6][(a >> 8) & 0xFF] ^ t[5][(a >> 16) & 0xFF] ^ t[4][a >> 24]
        ^ t[3][b & 0xFF] ^ t[2][(b >> 8) & 0xFF] ^ t[1][(b >> 16) & 0xFF] ^ t[0][b >> 24]
    )
    return _mask(crc ^ _U32)


def _remaining(stream) -> int | None:
    """Bytes from the stream's position to its end, or None when that cannot be known."""
    try:
        return os.fstat(stream.fileno()).st_size - stream.tell()
    except (AttributeError, OSError, ValueError, io.UnsupportedOperation):
        pass
    try:
        here = stream.tell()
        end = stream.seek(0, os.SEEK_END)
        stream.seek(here)
        return end - here
    except (AttributeError, OSError, ValueError):
        return None


def iter_records(path) -> Iterator[tuple[int, bytes]]:
    """Yield ``(offset, payload)`` for every record of the TFRecord file at ``path``.

    ``offset`` is the byte offset where the record's header starts. Raises
    :class:`~validators.errors.ArtefactError` for a missing or unreadable file, and at the first
    record that is truncated or fails a CRC check (after yielding every record before it). An
    empty file holds no records and yields nothing: callers that need at least one say so.
    """
    try:
        with open(path, "rb") as f:
            yield from iter_records_from(f, path)  # read errors become ArtefactError in there
    except FileNotFoundError:
        raise ArtefactError(path, "no such file") from None
    except IsADirectoryError:
        raise ArtefactError(path, "is a directory, not a TFRecord file") from None
    except OSError as exc:
        raise ArtefactError(path, f"cannot open: {exc.strerror or exc}") from None


def iter_records_from(stream: BinaryIO, path, size: int | None = None) -> Iterator[tuple[int, bytes]]:
    """Like :func:`iter_records` on an open binary ``stream`` positioned at the first record.

    ``path`` names the file in errors. ``size`` is the number of bytes to read; by default the
    stream's size from ``fstat`` (or all of it, for a stream without a file descriptor). Bytes
    appended after the size was taken are not read.
    """
    if size is None:
        size = _remaining(stream)
    consumed = 0  # bytes of the file before ``buf``
    buf = b""

    def read(n: int) -> bytes:
        if size is not None:
            n = min(n, size - consumed - len(buf))
        if n <= 0:
            return b""
        try:
            return stream.read(n)
        except OSError as exc:
            raise ArtefactError(path, f"read failed: {exc.strerror or exc}", offset=consumed + len(buf)) from None

    buf = read(_WINDOW)
    while True:
        # Walk the headers of the records that lie wholly in ``buf``; check data CRCs in a batch.
        pos = 0
        starts: list[int] = []
        lengths: list[int] = []
        stored: list[int] = []
        pending: ArtefactError | None = None
        need_more = False
        while True:
            left = len(buf) - pos
            if left == 0:
                break
            offset = consumed + pos
            if left < HEADER_SIZE:
                need_more = True
                break
            length, length_crc = _HEADER.unpack_from(buf, pos)
            expected = _header_crc(buf[pos : pos + 8])
            if length_crc != expected:
                pending = ArtefactError(
                    path,
                    f"corrupt record: CRC of the length field does not match "
                    f"(stored 0x{length_crc:08x}, computed 0x{expected:08x})",
                    offset=offset,
                )
                break
            end = pos + HEADER_SIZE + length + FOOTER_SIZE
            if end > len(buf):
                need_more = True
                break
            starts.append(pos + HEADER_SIZE)
            lengths.append(length)
            stored.append(_FOOTER.unpack_from(buf, end - FOOTER_SIZE)[0])
            pos = end
        if starts:
            arr = np.frombuffer(buf, dtype=np.uint8)
            crcs = _crc32c_many(arr, starts, lengths)
            for start, length, want, crc in zip(starts, lengths, stored, crcs):
                got = _mask(crc)
                rec_offset = consumed + start - HEADER_SIZE
                if got != want:
                    raise ArtefactError(
                        path,
                        f"corrupt record: CRC of the {length}-byte payload does not match "
                        f"(stored 0x{want:08x}, computed 0x{got:08x})",
                        offset=rec_offset,
                    )
                yield rec_offset, bytes(buf[start : start + length])
        if pending is not None:
            raise pending
        consumed += pos
        buf = buf[pos:]
        if not need_more:  # every byte of the window was a whole record: is there more?
            more = read(_WINDOW)
            if not more:
                return  # the whole file was read and every record checked
            buf = more
            continue
        # Keep the partial record and read more: at least a window, or the whole record.
        want = _WINDOW
        if len(buf) >= HEADER_SIZE:  # the header's CRC was checked above: its length is real
            length = _HEADER.unpack_from(buf, 0)[0]
            whole = HEADER_SIZE + length + FOOTER_SIZE
            if size is not None and whole > size - consumed:
                raise _truncated(path, consumed, len(buf), size - consumed, length)
            want = max(want, whole - len(buf))
        more = read(want)
        if not more:
            length = _HEADER.unpack_from(buf, 0)[0] if len(buf) >= HEADER_SIZE else None
            raise _truncated(path, consumed, len(buf), len(buf), length)
        buf = buf + more


def _truncated(path, offset: int, have: int, left: int, length: int | None) -> ArtefactError:
    if length is None:
        return ArtefactError(
            path,
            f"truncated record: the file ends {have} bytes into a {HEADER_SIZE}-byte record header",
            offset=offset,
        )
    return ArtefactError(
        path,
        f"truncated record: its header says {length} bytes of payload and a {FOOTER_SIZE}-byte CRC, "
        f"but the file ends {max(left - HEADER_SIZE, 0)} bytes after the header",
        offset=offset,
    )
