"""Tar archives as untrusted input: forged headers, escaping names, links, and a mutation fuzz."""

from __future__ import annotations

import gzip
import io
import json
import os
import random
import shutil
import tarfile
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from infomax.data import DataError, load_dataset
from infomax.data.tar import list_tar, member_name, read_tar
from infomax.validation import InputError

BLOCK = 512


def png(value: int, side: int = 4) -> bytes:
    """A tiny grey PNG whose pixels are ``value + position``."""
    array = ((np.arange(side * side).reshape(side, side) + value) % 256).astype(np.uint8)
    out = io.BytesIO()
    Image.fromarray(array).save(out, format="PNG")
    return out.getvalue()


def special(name: str, kind: bytes, linkname: str = "") -> tarfile.TarInfo:
    """A member without data: a link, a device or a fifo."""
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, linkname
    return info


def tar_bytes(
    members: list[tuple[str, bytes] | tarfile.TarInfo], fmt: int = tarfile.USTAR_FORMAT
) -> bytes:
    """An uncompressed archive of ``(name, data)`` regular files and special members.

    Names are written as given (tarfile does not sanitise them on writing).
    """
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=fmt) as archive:
        for member in members:
            if isinstance(member, tarfile.TarInfo):
                archive.addfile(member)
                continue
            info = tarfile.TarInfo(member[0])
            info.size, info.mtime = len(member[1]), 1_700_000_000
            archive.addfile(info, io.BytesIO(member[1]))
    return out.getvalue()


def pets() -> list[tuple[str, bytes]]:
    return [
        ("pets/cat/a.png", png(1)),
        ("pets/cat/b.png", png(2)),
        ("pets/dog/a.png", png(3)),
        ("pets/dog/b.png", png(4)),
    ]


def with_checksum(header: bytearray) -> bytearray:
    """Recompute a 512-byte header's checksum in place (as tar writes it)."""
    header[148:156] = b" " * 8
    header[148:156] = b"%06o\0 " % sum(header)
    return header


def edit_header(raw: bytes, offset: int, start: int, value: bytes) -> bytes:
    """``raw`` with the header at ``offset`` given ``value`` at byte ``start``, checksum fixed."""
    header = bytearray(raw[offset : offset + BLOCK])
    header[start : start + len(value)] = value
    return raw[:offset] + bytes(with_checksum(header)) + raw[offset + BLOCK :]


def base256(value: int) -> bytes:
    """A 12-byte GNU base-256 number field (two's complement)."""
    return (value % (1 << 96)).to_bytes(12, "big") if value < 0 else b"\x80" + value.to_bytes(11)


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("INFOMAX_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


# --- forged headers -------------------------------------------------------------------------


@pytest.mark.parametrize("size", [-1, -512, -(1 << 40)])
def test_a_negative_base256_size_is_refused_at_once(tmp_path: Path, cache: Path, size: int) -> None:
    # The header scan used to rewind on a negative size and loop forever, memory growing.
    raw = edit_header(tar_bytes(pets()), BLOCK * 2, 124, base256(size))
    archive = tmp_path / "it.tar"
    archive.write_bytes(raw)
    started = time.perf_counter()
    with pytest.raises(DataError) as info:
        load_dataset(archive)
    assert time.perf_counter() - started < 1.0
    assert str(info.value) == f"{archive} is corrupt: the header at byte 1024 gives size {size}"


def test_a_negative_size_after_a_link_is_refused_before_tarfile_reads(tmp_path: Path) -> None:
    # Python's tarfile rewinds (and loops) on this too: it may only see checked headers.
    raw = tar_bytes([special("pets/cat/l.png", tarfile.SYMTYPE, "a.png"), *pets()])
    raw = edit_header(raw, BLOCK * 3, 124, base256(-512))
    (tmp_path / "x.tar").write_bytes(raw)
    with pytest.raises(DataError, match="the header at byte 1536 gives size -512$"):
        list_tar(tmp_path / "x.tar")


def test_an_oversized_long_name_record_is_refused(tmp_path: Path) -> None:
    raw = tar_bytes([("p/" + "a" * 120 + "/x.png", png(1))], fmt=tarfile.GNU_FORMAT)
    assert raw[156:157] == b"L"
    (tmp_path / "x.tar").write_bytes(edit_header(raw, 0, 124, base256(1 << 30)))
    with pytest.raises(DataError, match=r"announces a 1073741824-byte name record$"):
        list_tar(tmp_path / "x.tar")


def test_a_size_past_the_end_is_truncation(tmp_path: Path) -> None:
    raw = edit_header(tar_bytes(pets()), 0, 124, b"%011o\0" % (1 << 20))
    (tmp_path / "x.tar").write_bytes(raw)
    with pytest.raises(DataError, match=r"x.tar is truncated: member pets/cat/a.png ends early$"):
        list(read_tar(tmp_path / "x.tar", lambda name: True))
    with pytest.raises(DataError, match=r"x.tar is truncated: the member at byte 0 ends early$"):
        list_tar(tmp_path / "x.tar")


@pytest.mark.parametrize(
    ("field", "value"),
    [(124, b"12345678x\0\0\0"), (148, b"zz\0\0\0\0\0\0"), (136, b"9999\0")],
)
def test_garbage_number_fields_are_refused(tmp_path: Path, field: int, value: bytes) -> None:
    raw = bytearray(tar_bytes(pets()))
    raw[field : field + len(value)] = value
    if field != 148:
        raw[:BLOCK] = with_checksum(bytearray(raw[:BLOCK]))
    (tmp_path / "x.tar").write_bytes(bytes(raw))
    expected = f"^{tmp_path}/x.tar is not a tar archive or is corrupt \\(bad header at byte 0: "
    with pytest.raises(DataError, match=expected + "bad number field b'"):
        list_tar(tmp_path / "x.tar")


def test_a_damaged_sparse_member_is_refused(tmp_path: Path) -> None:
    # GNU sparse members go to tarfile, which raises IndexError on a missing extension block.
    header = bytearray(tar_bytes(pets())[:BLOCK])
    header[156:157], header[482] = b"S", 1
    (tmp_path / "s.tar").write_bytes(bytes(with_checksum(header)))
    with pytest.raises(DataError, match=f"^cannot open {tmp_path}/s.tar as a tar archive: "):
        list_tar(tmp_path / "s.tar")


# --- member names ---------------------------------------------------------------------------

OUTSIDE = ", which points outside the archive's root"


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("../../x.png", OUTSIDE),
        ("/abs/x.png", " with an absolute path"),
        ("cat/../../../x.png", OUTSIDE),
        ("pets/cat/../../../x.png", OUTSIDE),
        ("..", OUTSIDE),
        ("C:/x.png", " with an absolute path"),
        ("..\\..\\x.png", OUTSIDE),
    ],
)
@pytest.mark.parametrize("fmt", [tarfile.USTAR_FORMAT, tarfile.PAX_FORMAT, tarfile.GNU_FORMAT])
def test_absolute_and_escaping_member_names_refuse_the_archive(
    tmp_path: Path, cache: Path, name: str, why: str, fmt: int
) -> None:
    # These used to become an extra class ("tmp") silently.
    archive = tmp_path / "evil.tar"
    archive.write_bytes(tar_bytes([*pets(), (name, png(9))], fmt=fmt))
    with pytest.raises(DataError) as info:
        load_dataset(archive)
    assert str(info.value).startswith(f"{archive} holds member {name}{why}; refused")
    assert "\n" not in str(info.value)
    assert not (tmp_path / "x.png").exists() and not (tmp_path.parent / "x.png").exists()
    assert not cache.exists() or not any((cache / "datasets").iterdir())


def test_names_that_stay_inside_are_normalised(tmp_path: Path, cache: Path) -> None:
    members = [("./p/cat/a.png", png(1)), ("p/dog/../dog/b.png", png(2)), ("p//cat/c.png", png(3))]
    archive = tmp_path / "ok.tar"
    archive.write_bytes(tar_bytes(members))
    assert [m.name for m in list_tar(archive).members] == [
        "p/cat/a.png",
        "p/dog/b.png",
        "p/cat/c.png",
    ]
    data = load_dataset(archive)
    assert data.classes == ["cat", "dog"] and data.labels.tolist() == [0, 0, 1]
    assert member_name("a/./b/../c.png", archive) == "a/c.png" and member_name("./", archive) == ""


def test_a_name_with_control_characters_is_shown_on_one_line(tmp_path: Path) -> None:
    archive = tmp_path / "x.tar"
    archive.write_bytes(tar_bytes([("../a\nb\xff.png", png(1))], fmt=tarfile.PAX_FORMAT))
    with pytest.raises(DataError) as info:
        list_tar(archive)
    assert str(info.value).startswith(f"{archive} holds member ../a\\nb\xff.png, which points")


def test_links_resolve_inside_the_archive_only(tmp_path: Path, cache: Path) -> None:
    evil = special("pets/cat/evil.png", tarfile.SYMTYPE, "../../../../etc/passwd")
    archive = tmp_path / "link.tar"
    archive.write_bytes(tar_bytes([*pets(), evil]))
    assert list_tar(archive).use_tarfile
    with pytest.raises(DataError, match=f"^cannot read member pets/cat/evil.png of {archive}: "):
        load_dataset(archive)


def test_an_escaping_name_is_refused_by_the_tarfile_reader_too(tmp_path: Path) -> None:
    link = special("p/cat/l.png", tarfile.LNKTYPE, "p/cat/a.png")
    (tmp_path / "x.tar").write_bytes(tar_bytes([link, ("p/../../x.png", b"abc")]))
    with pytest.raises(DataError, match="holds member p/../../x.png, which points outside"):
        list_tar(tmp_path / "x.tar")


def test_devices_and_fifos_are_skipped(tmp_path: Path, cache: Path) -> None:
    kinds = (tarfile.CHRTYPE, tarfile.BLKTYPE, tarfile.FIFOTYPE)
    archive = tmp_path / "dev.tar"
    archive.write_bytes(tar_bytes([*pets(), *(special(f"pets/cat/d{k}.png", k) for k in kinds)]))
    data = load_dataset(archive)
    assert len(data) == 4 and data.classes == ["cat", "dog"]


# --- the cache key --------------------------------------------------------------------------


def test_tar_cache_key_keeps_the_archive_byte_size(tmp_path: Path, cache: Path) -> None:
    archive = tmp_path / "pets.tar"
    archive.write_bytes(tar_bytes(pets()))
    plain = load_dataset(archive)
    resized = load_dataset(archive, size=6)
    assert plain.cache_path is not None and resized.cache_path is not None
    meta = json.loads((plain.cache_path / "meta.json").read_text())
    assert meta["identity"]["size_bytes"] == archive.stat().st_size == 10240
    assert meta["identity"]["size"] is None
    meta = json.loads((resized.cache_path / "meta.json").read_text())
    assert meta["identity"]["size_bytes"] == 10240 and meta["identity"]["size"] == [6, 6]
    # Same members, names, sizes and mtimes, padded to another byte size: a new entry.
    stat = archive.stat()
    archive.write_bytes(archive.read_bytes() + b"\0" * 10240)
    os.utime(archive, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    again = load_dataset(archive)
    assert not again.from_cache and again.cache_path != plain.cache_path


# --- fuzz -----------------------------------------------------------------------------------

#: Header fields a mutation may rewrite: (offset, length).
FIELDS = {
    "name": (0, 100),
    "mode": (100, 8),
    "size": (124, 12),
    "mtime": (136, 12),
    "chksum": (148, 8),
    "type": (156, 1),
    "linkname": (157, 100),
    "magic": (257, 8),
    "prefix": (345, 155),
}
NAMES = [
    *(b"../../x.png", b"/abs/x.png", b"cat/../../../x.png", b"..", b"pets/cat/../../x.png"),
    *(b"pets/dog/c.png", b"pets/cat/a.png", b"x.png", b"", b"\xff\xfe.png", b"a\nb/c.png"),
]


def _size_value(rng: random.Random) -> bytes:
    choice = rng.randrange(6)
    if choice == 0:
        return base256(-rng.randrange(1, 1 << 62))
    if choice == 1:
        return base256(rng.randrange(1 << 60))
    if choice == 2:
        return b"%011o\0" % rng.randrange(0, 1 << 12)
    if choice == 3:
        return b"%011o\0" % rng.randrange(1 << 33)
    if choice == 4:
        return bytes(rng.randrange(256) for _ in range(12))
    return b"-0000000001\0"


def mutate(base: bytes, offsets: list[int], rng: random.Random) -> tuple[bytes, str]:
    """One random mutation of ``base``; returns it and a description."""
    kind = rng.choice(["flip", "flip", "truncate", "field", "field", "field", "block"])
    data = bytearray(base)
    if kind == "flip":
        count = rng.randrange(1, 9)
        spots = [rng.randrange(len(data)) for _ in range(count)]
        for spot in spots:
            data[spot] = rng.randrange(256)
        return bytes(data), f"flip {count} bytes at {spots}"
    if kind == "truncate":
        cut = rng.randrange(len(data))
        return bytes(data[:cut]), f"truncate at {cut}"
    if kind == "block":
        source, target = rng.choice(offsets), rng.choice(offsets)
        block = data[source : source + BLOCK]
        if rng.random() < 0.5:
            del data[target : target + BLOCK]
            return bytes(data), f"drop block {target}"
        data[target:target] = block
        return bytes(data), f"copy block {source} to {target}"
    offset = rng.choice(offsets)
    field = rng.choice(list(FIELDS))
    start, length = FIELDS[field]
    if field == "size":
        value = _size_value(rng)
    elif field == "name":
        value = rng.choice(NAMES) + b"\0"
    elif field == "type":
        value = bytes([rng.choice(b"0123456789LKxgSMVA\0")])
    else:
        value = bytes(rng.randrange(256) for _ in range(rng.randrange(1, length + 1)))
    value = value[:length]
    header = bytearray(data[offset : offset + BLOCK])
    header[start : start + len(value)] = value
    fixed = rng.random() < 0.9 and field != "chksum"
    data[offset : offset + BLOCK] = with_checksum(header) if fixed else header
    return bytes(data), f"header {offset} {field}={value!r}{' (checksum fixed)' * fixed}"


def _tree(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*")}


def test_fuzzed_archives_are_read_or_refused_quickly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Mutated archives: each loads or fails with InputError in < 1 s, writing only to the cache.

    INFOMAX_FUZZ_CASES sets the number of mutations (default 2,000);
    INFOMAX_FUZZ_SEED the seed.
    """
    cases = int(os.environ.get("INFOMAX_FUZZ_CASES", "2000"))
    seed = int(os.environ.get("INFOMAX_FUZZ_SEED", "0"))
    rng = random.Random(seed)
    cache, inputs, home, cwd = (tmp_path / d for d in ("cache", "in", "home", "cwd"))
    for folder in (inputs, home, cwd):
        folder.mkdir()
    monkeypatch.setenv("INFOMAX_CACHE", str(cache))
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(cwd)
    members = [*pets(), ("pets/dog/" + "d" * 60 + "/" + "e" * 50 + ".png", png(5))]
    bases = []
    for fmt in (tarfile.USTAR_FORMAT, tarfile.GNU_FORMAT, tarfile.PAX_FORMAT):
        raw = tar_bytes(members, fmt=fmt)
        with tarfile.open(fileobj=io.BytesIO(raw)) as tf:
            offsets = sorted({m.offset for m in tf} | {m.offset_data - BLOCK for m in tf})
        bases.append((raw, offsets))
    outcomes = {"read": 0, "refused": 0}
    slowest = (0.0, "")
    for case in range(cases):
        raw, offsets = bases[case % len(bases)]
        mutant, what = mutate(raw, offsets, rng)
        compressed = rng.random() < 0.2
        path = inputs / f"m{case}.tar{'.gz' * compressed}"
        path.write_bytes(gzip.compress(mutant, mtime=0) if compressed else mutant)
        what = f"case {case} (seed {seed}{', gzip' * compressed}): {what}"
        started, cpu = time.perf_counter(), time.process_time()
        try:
            data = load_dataset(path, workers=1, progress=False)
        except InputError as exc:
            assert "\n" not in str(exc) and str(path) in str(exc), (what, str(exc))
            outcomes["refused"] += 1
        except Exception as exc:  # pragma: no cover - the failure the test looks for
            raise AssertionError(f"{what}: {type(exc).__name__}: {exc}") from exc
        else:
            outcomes["read"] += 1
            assert all(
                c and ".." not in c.split("/") and not c.startswith("/") for c in data.classes
            )
            assert data.cache_path is not None and data.cache_path.parent == cache / "datasets"
            shutil.rmtree(data.cache_path)
        # CPU seconds: the wall clock of a shared test machine also counts other processes.
        seconds, wall = time.process_time() - cpu, time.perf_counter() - started
        assert seconds < 1.0, f"{what} took {seconds:.2f} s of CPU time"
        slowest = max(slowest, (seconds, f"{what} ({wall * 1000:.1f} ms wall)"))
        path.unlink()
    print(
        f"\nfuzz: {cases} mutated archives, {outcomes['read']} read, {outcomes['refused']} "
        f"refused; slowest {slowest[0] * 1000:.1f} ms CPU: {slowest[1]}"
    )
    assert outcomes["read"] + outcomes["refused"] == cases
    assert outcomes["read"] > 0 and outcomes["refused"] > cases // 4
    assert _tree(home) == set() and _tree(cwd) == set() and _tree(inputs) == set()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cache", "cwd", "home", "in"]
    assert {p.split("/")[0] for p in _tree(cache)} <= {"datasets"}
