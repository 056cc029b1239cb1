"""The TFRecord reader against a slow, obviously correct writer and CRC; corruption and fuzzing."""

from __future__ import annotations

import io
import struct
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from validators.artefacts import tfrecord
from validators.errors import ArtefactError

# --------------------------------------------------------------------------- references


def crc32c_bitwise(data: bytes) -> int:
    """CRC-32C one bit at a time, straight from the definition (reflected 0x1EDC6F41)."""
    crc = 0xFFFFFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0x82F63B78 if crc & 1 else crc >> 1
    return crc ^ 0xFFFFFFFF


def masked(crc: int) -> int:
    return ((((crc >> 15) | (crc << 17)) & 0xFFFFFFFF) + 0xA282EAD8) & 0xFFFFFFFF


def write_records(payloads, crc=crc32c_bitwise) -> bytes:
    """The TFRecord framing, written out field by field."""
    out = bytearray()
    for p in payloads:
        length = struct.pack("<Q", len(p))
        out += length
        out += struct.pack("<I", masked(crc(length)))
        out += p
        out += struct.pack("<I", masked(crc(p)))
    return bytes(out)


def offsets_of(payloads) -> list[int]:
    offs, pos = [], 0
    for p in payloads:
        offs.append(pos)
        pos += 16 + len(p)
    return offs


def read_all(data: bytes, name="mem.tfrecord"):
    return list(tfrecord.iter_records_from(io.BytesIO(data), name))


FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# --------------------------------------------------------------------------- CRC


@pytest.mark.parametrize(
    "data, expected",
    [
        (b"123456789", 0xE3069283),  # the check value of CRC-32C
        (bytes(32), 0x8A9136AA),  # RFC 3720 B.4 test vectors
        (b"\xff" * 32, 0x62A8AB43),
        (bytes(range(32)), 0x46DD794E),
        (bytes(range(31, -1, -1)), 0x113FDB5C),
        (b"", 0),
    ],
)
def test_crc32c_known_vectors(data, expected):
    assert tfrecord.crc32c(data) == expected
    assert crc32c_bitwise(data) == expected


@FAST
@given(st.binary(max_size=200))
def test_crc32c_matches_bitwise_reference(data):
    assert tfrecord.crc32c(data) == crc32c_bitwise(data)


@FAST
@given(st.binary(min_size=0, max_size=600), st.integers(0, 0xFFFFFFFF))
def test_lane_method_matches_table_loop(data, register):
    # The numpy lane method is used for long buffers; check it on short ones too, any register.
    assert tfrecord._crc_raw_lanes(data, register) == tfrecord._crc_raw_python(data, register)


@pytest.mark.parametrize("n", [4095, 4096, 4097, 10_007, 65_536 + 3])
def test_crc32c_long_buffers(n):
    data = bytes((i * 131 + 7) % 251 for i in range(n))
    assert tfrecord.crc32c(data) == crc32c_bitwise(data)


@FAST
@given(st.binary(max_size=100), st.binary(max_size=100))
def test_crc32c_continues(a, b):
    assert tfrecord.crc32c(b, tfrecord.crc32c(a)) == tfrecord.crc32c(a + b)


def test_batched_crcs_match_reference():
    # Enough records of one length class to take the numpy batch path, and some that do not.
    payloads = [bytes([i % 256]) * (i % 40) + b"x" * (i % 3) for i in range(120)] + [b"y" * 5000]
    starts, lengths, buf = [], [], b""
    for p in payloads:
        starts.append(len(buf))
        lengths.append(len(p))
        buf += p + b"--"
    import numpy as np

    got = tfrecord._crc32c_many(np.frombuffer(buf, dtype=np.uint8), starts, lengths)
    assert got == [crc32c_bitwise(p) for p in payloads]


# --------------------------------------------------------------------------- round trip


@FAST
@given(st.lists(st.binary(max_size=300), max_size=60))
def test_round_trip(payloads):
    data = write_records(payloads)
    assert read_all(data) == list(zip(offsets_of(payloads), payloads))


@FAST
@given(st.lists(st.binary(max_size=100), max_size=20), st.integers(1, 120))
def test_round_trip_with_any_window(payloads, window):
    # Records straddling, filling or overrunning the read window must all come back.
    saved = tfrecord._WINDOW
    tfrecord._WINDOW = window
    try:
        assert read_all(write_records(payloads)) == list(zip(offsets_of(payloads), payloads))
    finally:
        tfrecord._WINDOW = saved


def test_round_trip_through_a_file(tmp_path):
    payloads = [b"", b"a", bytes(range(256)) * 40] + [b"event %d" % i for i in range(200)]
    path = tmp_path / "f.tfrecord"
    path.write_bytes(write_records(payloads))
    assert list(tfrecord.iter_records(path)) == list(zip(offsets_of(payloads), payloads))


def test_records_larger_than_the_window(tmp_path, monkeypatch):
    monkeypatch.setattr(tfrecord, "_WINDOW", 64)
    payloads = [b"a" * 10, b"b" * 300, b"c" * 63, b"d" * 64, b"e" * 65, b""] * 3
    path = tmp_path / "f.tfrecord"
    path.write_bytes(write_records(payloads))
    assert [p for _, p in tfrecord.iter_records(path)] == payloads


def test_empty_file_has_no_records(tmp_path):
    path = tmp_path / "empty"
    path.write_bytes(b"")
    assert list(tfrecord.iter_records(path)) == []


# --------------------------------------------------------------------------- bad input

SAMPLE = [b"first", b"", b"the third record, a little longer", bytes(range(40))]
SAMPLE_FILE = write_records(SAMPLE)
SAMPLE_OFFSETS = offsets_of(SAMPLE)


def record_at(position: int) -> int:
    """Index of the record holding byte ``position`` of SAMPLE_FILE."""
    return max(i for i, o in enumerate(SAMPLE_OFFSETS) if o <= position)


@pytest.mark.parametrize("position", range(len(SAMPLE_FILE)))
def test_every_single_byte_corruption_is_an_error(position):
    for flip in (0x01, 0x80, 0xFF):
        data = bytearray(SAMPLE_FILE)
        data[position] ^= flip
        got = []
        with pytest.raises(ArtefactError) as info:
            got.extend(tfrecord.iter_records_from(io.BytesIO(bytes(data)), "f"))  # keeps what came before
        bad = record_at(position)
        assert info.value.offset == SAMPLE_OFFSETS[bad]
        assert f"byte offset {SAMPLE_OFFSETS[bad]}" in str(info.value)
        assert "CRC" in str(info.value)
        assert got == list(zip(SAMPLE_OFFSETS, SAMPLE))[:bad]  # the good records before it, exactly


@pytest.mark.parametrize("size", range(len(SAMPLE_FILE)))
def test_every_truncation_inside_a_record_is_an_error(size):
    data = SAMPLE_FILE[:size]
    if size in SAMPLE_OFFSETS:
        # A cut between records leaves a valid, shorter file: the framing cannot tell. The
        # TensorBoard reader catches that one by comparing the epochs of the tags.
        assert [p for _, p in read_all(data)] == SAMPLE[: SAMPLE_OFFSETS.index(size)]
        return
    with pytest.raises(ArtefactError) as info:
        read_all(data, "cut.tfrecord")
    bad = record_at(size)
    assert info.value.offset == SAMPLE_OFFSETS[bad]
    assert str(info.value).startswith(f"cut.tfrecord: byte offset {SAMPLE_OFFSETS[bad]}: truncated record")


def test_truncated_file_on_disk_names_file_and_offset(tmp_path):
    path = tmp_path / "events.out.tfevents.1.host"
    path.write_bytes(SAMPLE_FILE[:-3])
    with pytest.raises(ArtefactError) as info:
        list(tfrecord.iter_records(path))
    assert str(info.value).startswith(f"{path}: byte offset {SAMPLE_OFFSETS[-1]}: truncated record")


def test_huge_length_with_a_valid_crc_is_truncation_not_memory_error():
    length = struct.pack("<Q", 1 << 62)
    data = length + struct.pack("<I", masked(crc32c_bitwise(length))) + b"abc"
    with pytest.raises(ArtefactError, match=r"header says 4611686018427387904 bytes"):
        read_all(data)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_arbitrary_bytes_raise_only_artefact_errors(data):
    try:
        read_all(data)
    except ArtefactError:
        pass


@FAST
@given(st.lists(st.binary(max_size=50), min_size=1, max_size=8), st.data())
def test_arbitrary_corruptions_of_valid_files(payloads, data):
    raw = bytearray(write_records(payloads))
    edits = data.draw(st.lists(st.tuples(st.integers(0, len(raw) - 1), st.integers(1, 255)), min_size=1, max_size=4))
    for pos, flip in edits:
        raw[pos] ^= flip
    try:
        got = read_all(bytes(raw))
    except ArtefactError:
        return
    # Several flips can cancel out; anything read must then be the original.
    assert [p for _, p in got] == payloads


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(ArtefactError, match="no such file"):
        list(tfrecord.iter_records(tmp_path / "nope"))
    with pytest.raises(ArtefactError, match="is a directory"):
        list(tfrecord.iter_records(tmp_path))


def test_read_speed(tmp_path):
    # ~3000 event-sized records, ~570 KB: must read in well under a second.
    payloads = [bytes([i % 256]) * (100 + i % 150) for i in range(3000)]
    path = tmp_path / "big.tfrecord"
    path.write_bytes(write_records(payloads, crc=tfrecord.crc32c))  # checked against the reference above
    start = time.perf_counter()
    n = sum(1 for _ in tfrecord.iter_records(path))
    elapsed = time.perf_counter() - start
    assert n == 3000
    assert elapsed < 1.0, f"{elapsed:.3f} s for {path.stat().st_size} bytes"
