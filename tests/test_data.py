"""Image sources, the decoded-array cache, CIFAR batches, digits and the bad-data errors."""

from __future__ import annotations

import io
import os
import pickle
import tarfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import infomax.data.decode as decode
from infomax.data import DataError, load_dataset
from infomax.data.cache import channel_stats
from infomax.data.cifar import (
    download_cifar,
    file_md5,
    parse_cifar_batch,
    parse_cifar_meta,
    read_cifar_archive,
    read_cifar_folder,
)
from infomax.data.tar import list_tar, read_tar


def pixels(value: int, size: tuple[int, int] = (5, 4), grey: bool = False) -> np.ndarray:
    """A (H, W, 3) (or (H, W)) uint8 image whose pixels encode ``value`` exactly."""
    h, w = size
    base = np.arange(h * w, dtype=np.int64).reshape(h, w)
    if grey:
        return ((value * 7 + base) % 256).astype(np.uint8)
    return np.stack([(value * 7 + base) % 256, np.full((h, w), value), 255 - base], -1).astype(
        np.uint8
    )


def write(path: Path, array: np.ndarray, fmt: str = "PNG") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path, format=fmt)


@pytest.fixture
def cache(tmp_path: Path) -> Path:
    return tmp_path / "cache"


@pytest.fixture
def labelled(tmp_path: Path) -> Path:
    """root/cat/{a,b}.png (values 1, 2), root/dog/a.png (3), plus files to ignore."""
    root = tmp_path / "pets"
    write(root / "cat" / "a.png", pixels(1))
    write(root / "cat" / "b.png", pixels(2))
    write(root / "dog" / "a.png", pixels(3))
    write(root / "cat" / ".hidden.png", pixels(9))  # hidden: ignored
    (root / "README.txt").write_text("not an image")
    (root / "dog" / "notes.md").write_text("not an image either")
    return root


def count_decodes(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    seen: list[str] = []
    real = decode._decode_one

    def counting(name: str, *args: object) -> np.ndarray:
        seen.append(name)
        return real(name, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(decode, "_decode_one", counting)
    return seen


# --- image folders --------------------------------------------------------------------------


def test_folder_gives_images_labels_and_classes(labelled: Path, cache: Path) -> None:
    data = load_dataset(labelled, cache_dir=cache)
    assert data.images.shape == (3, 5, 4, 3)
    assert data.images.dtype == np.uint8
    np.testing.assert_array_equal(data.images, np.stack([pixels(1), pixels(2), pixels(3)]))
    assert data.labels.tolist() == [0, 0, 1]
    assert data.labels.dtype == np.int64
    assert data.classes == ["cat", "dog"]
    assert data.image_shape == (3, 5, 4)
    assert data.num_classes == 2 and data.has_labels and len(data) == 3
    assert data.split == "train" and not data.from_cache


def test_flat_folder_is_unlabeled(tmp_path: Path, cache: Path) -> None:
    for i in range(3):
        write(tmp_path / "flat" / f"{i}.png", pixels(i))
    data = load_dataset(tmp_path / "flat", cache_dir=cache)
    assert data.labels.tolist() == [-1, -1, -1]
    assert data.classes == [] and not data.has_labels
    np.testing.assert_array_equal(data.images[2], pixels(2))


def test_grey_images_keep_one_channel_unless_rgb_asked(tmp_path: Path, cache: Path) -> None:
    write(tmp_path / "g" / "x" / "0.png", pixels(4, grey=True))
    write(tmp_path / "g" / "y" / "1.png", pixels(5, grey=True))
    grey = load_dataset(tmp_path / "g", cache_dir=cache)
    assert grey.images.shape == (2, 5, 4, 1)
    np.testing.assert_array_equal(grey.images[1, ..., 0], pixels(5, grey=True))
    rgb = load_dataset(tmp_path / "g", cache_dir=cache, mode="RGB")
    assert rgb.images.shape == (2, 5, 4, 3)
    np.testing.assert_array_equal(rgb.images[1, ..., 2], pixels(5, grey=True))


def test_jpeg_folder_decodes_close_to_the_source(tmp_path: Path, cache: Path) -> None:
    colour = np.zeros((8, 8, 3), np.uint8)
    colour[:] = (200, 40, 90)
    write(tmp_path / "j" / "a" / "0.jpg", colour, fmt="JPEG")
    data = load_dataset(tmp_path / "j", cache_dir=cache)
    assert data.images.shape == (1, 8, 8, 3)
    assert np.abs(data.images[0].astype(int) - colour).max() <= 3


def test_size_resizes_mixed_images(tmp_path: Path, cache: Path) -> None:
    write(tmp_path / "m" / "a" / "0.png", pixels(1, (6, 6)))
    write(tmp_path / "m" / "a" / "1.png", pixels(2, (3, 9)))
    data = load_dataset(tmp_path / "m", cache_dir=cache, size=4)
    assert data.images.shape == (2, 4, 4, 3)
    data = load_dataset(tmp_path / "m", cache_dir=cache, size=(2, 5))
    assert data.images.shape == (2, 2, 5, 3)


def test_train_test_split_folders(tmp_path: Path, cache: Path) -> None:
    root = tmp_path / "split"
    write(root / "train" / "cat" / "0.png", pixels(1))
    write(root / "train" / "dog" / "0.png", pixels(2))
    write(root / "train" / "dog" / "1.png", pixels(3))
    write(root / "test" / "cat" / "0.png", pixels(4))
    write(root / "test" / "dog" / "0.png", pixels(5))
    train = load_dataset(root, "train", cache_dir=cache)
    test = load_dataset(root, "test", cache_dir=cache)
    assert train.labels.tolist() == [0, 1, 1] and test.labels.tolist() == [0, 1]
    np.testing.assert_array_equal(test.images, np.stack([pixels(4), pixels(5)]))
    with pytest.raises(DataError, match=f"^{root} has no 'val' split; its splits are test, train$"):
        load_dataset(root, "val", cache_dir=cache)


# --- tar archives ---------------------------------------------------------------------------


def make_tar(folder: Path, dest: Path, arcname: str, mode: str = "w:gz", **kw: object) -> Path:
    with tarfile.open(dest, mode, **kw) as archive:  # type: ignore[call-overload]
        archive.add(folder, arcname=arcname)
    return dest


def test_tar_matches_the_folder_and_is_not_unpacked(
    labelled: Path, tmp_path: Path, cache: Path
) -> None:
    archive = make_tar(labelled, tmp_path / "pets.tar.gz", "pets")
    data = load_dataset(archive, cache_dir=cache)
    folder = load_dataset(labelled, cache_dir=tmp_path / "other-cache")
    np.testing.assert_array_equal(data.images, folder.images)
    assert data.labels.tolist() == [0, 0, 1] and data.classes == ["cat", "dog"]
    files = sorted(p.name for p in cache.rglob("*") if p.is_file())
    assert files == ["images.npy", "labels.npy", "meta.json"]


def test_tar_splits_under_a_wrapper_folder(tmp_path: Path, cache: Path) -> None:
    root = tmp_path / "c"
    write(root / "train" / "b" / "0.png", pixels(1))
    write(root / "train" / "a" / "0.png", pixels(2))
    write(root / "test" / "a" / "0.png", pixels(3))
    write(root / "test" / "b" / "0.png", pixels(4))
    archive = make_tar(root, tmp_path / "c.tar.gz", "cifarish")
    train = load_dataset(archive, "train", cache_dir=cache)
    test = load_dataset(archive, "test", cache_dir=cache)
    assert train.classes == ["a", "b"] and train.labels.tolist() == [0, 1]
    np.testing.assert_array_equal(train.images, np.stack([pixels(2), pixels(1)]))
    np.testing.assert_array_equal(test.images, np.stack([pixels(3), pixels(4)]))


@pytest.mark.parametrize("mode", ["w", "w:gz", "w:bz2", "w:xz"])
@pytest.mark.parametrize("fmt", [tarfile.PAX_FORMAT, tarfile.GNU_FORMAT, tarfile.USTAR_FORMAT])
def test_tar_scanner_agrees_with_tarfile(tmp_path: Path, mode: str, fmt: int) -> None:
    deep = "d" * 60 + "/" + "e" * 60  # > 100 characters: pax, GNU long name or ustar prefix
    write(tmp_path / "src" / deep / "0.png", pixels(1))
    write(tmp_path / "src" / "f" / "1.png", pixels(2))
    archive = make_tar(tmp_path / "src", tmp_path / "x.tar", "root", mode=mode, format=fmt)
    listing = list_tar(archive)
    with tarfile.open(archive) as tf:
        expected = [(m.name, m.size, int(m.mtime), m.isfile()) for m in tf]
    assert [(m.name, m.size, m.mtime, m.is_file) for m in listing.members] == expected
    assert not listing.use_tarfile
    read = dict(read_tar(archive, lambda name: name.endswith(".png")))
    assert sorted(read) == [f"root/{deep}/0.png", "root/f/1.png"]
    with Image.open(io.BytesIO(read["root/f/1.png"])) as image:
        np.testing.assert_array_equal(np.asarray(image), pixels(2))


def test_tar_with_a_member_twice_is_refused(tmp_path: Path, cache: Path) -> None:
    write(tmp_path / "d" / "a" / "0.png", pixels(1))
    archive = make_tar(tmp_path / "d", tmp_path / "d.tar", "d", mode="w")
    with tarfile.open(archive, "a") as tf:
        tf.add(tmp_path / "d" / "a" / "0.png", arcname="d/a/0.png")
    with pytest.raises(DataError, match=f"^{archive} holds d/a/0.png more than once; repack"):
        load_dataset(archive, cache_dir=cache)


def test_tar_with_links_falls_back_to_tarfile(tmp_path: Path, cache: Path) -> None:
    write(tmp_path / "l" / "a" / "0.png", pixels(1))
    (tmp_path / "l" / "a" / "1.png").symlink_to("0.png")
    archive = make_tar(tmp_path / "l", tmp_path / "l.tar", "l", mode="w")
    assert list_tar(archive).use_tarfile
    data = load_dataset(archive, cache_dir=cache)
    np.testing.assert_array_equal(data.images, np.stack([pixels(1), pixels(1)]))


# --- the cache ------------------------------------------------------------------------------


def test_cache_is_hit_on_the_second_load(
    labelled: Path, cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    decoded = count_decodes(monkeypatch)
    first = load_dataset(labelled, cache_dir=cache)
    assert len(decoded) == 3 and not first.from_cache
    second = load_dataset(labelled, cache_dir=cache)
    assert len(decoded) == 3 and second.from_cache
    assert isinstance(second.images, np.memmap) and not second.images.flags.writeable
    assert second.cache_path == first.cache_path
    assert second.cache_path is not None and second.cache_path.parent == cache / "datasets"
    np.testing.assert_array_equal(second.images, first.images)


def test_cache_dir_comes_from_the_environment(
    labelled: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("INFOMAX_CACHE", str(tmp_path / "env-cache"))
    data = load_dataset(labelled)
    assert data.cache_path is not None
    assert data.cache_path.parent == tmp_path / "env-cache" / "datasets"


def test_changed_file_invalidates_the_cache(
    labelled: Path, cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = load_dataset(labelled, cache_dir=cache)
    write(labelled / "dog" / "a.png", pixels(7))
    stat = (labelled / "dog" / "a.png").stat()
    os.utime(labelled / "dog" / "a.png", ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    decoded = count_decodes(monkeypatch)
    second = load_dataset(labelled, cache_dir=cache)
    assert not second.from_cache and len(decoded) == 3
    np.testing.assert_array_equal(second.images[2], pixels(7))
    assert second.cache_path != first.cache_path
    assert [p.name for p in (cache / "datasets").iterdir()] == [second.cache_path.name]


def test_changed_tar_invalidates_the_cache(labelled: Path, tmp_path: Path, cache: Path) -> None:
    archive = make_tar(labelled, tmp_path / "p.tar", "p", mode="w")
    first = load_dataset(archive, cache_dir=cache)
    assert load_dataset(archive, cache_dir=cache).from_cache
    write(labelled / "cat" / "c.png", pixels(8))
    make_tar(labelled, archive, "p", mode="w")
    second = load_dataset(archive, cache_dir=cache)
    assert not second.from_cache and len(second) == 4 and second.cache_path != first.cache_path


def test_failed_decode_leaves_no_cache_entry(labelled: Path, cache: Path) -> None:
    (labelled / "dog" / "bad.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    with pytest.raises(DataError):
        load_dataset(labelled, cache_dir=cache)
    assert list((cache / "datasets").iterdir()) == []


def test_process_pool_gives_the_same_array(
    tmp_path: Path, cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for i in range(40):
        write(tmp_path / "pool" / f"c{i % 3}" / f"{i:02d}.png", pixels(i))
    monkeypatch.setattr(decode, "_POOL_MIN_IMAGES", 0)
    monkeypatch.setattr(decode, "_CHUNK", 7)
    pooled = load_dataset(tmp_path / "pool", cache_dir=cache, workers=2)
    single = load_dataset(tmp_path / "pool", cache_dir=tmp_path / "c2", workers=1)
    np.testing.assert_array_equal(pooled.images, single.images)
    assert pooled.labels.tolist() == single.labels.tolist()
    write(tmp_path / "pool" / "c1" / "13.png", pixels(13, (2, 2)))
    with pytest.raises(DataError, match="images differ in size"):
        load_dataset(tmp_path / "pool", cache_dir=cache, workers=2)


def test_channel_stats_are_exact() -> None:
    images = np.random.default_rng(0).integers(0, 256, (50, 4, 4, 3), dtype=np.uint8)
    mean, std = channel_stats(images)
    flat = images.reshape(-1, 3) / 255.0
    np.testing.assert_allclose(mean, flat.mean(0), atol=1e-6)
    np.testing.assert_allclose(std, flat.std(0), atol=1e-6)


# --- bad data: clear errors naming the file or folder ---------------------------------------


def test_corrupt_image_is_named(labelled: Path, cache: Path) -> None:
    bad = labelled / "dog" / "bad.png"
    bad.write_bytes(b"garbage")
    with pytest.raises(DataError, match=f"^cannot decode image {bad}: UnidentifiedImageError"):
        load_dataset(labelled, cache_dir=cache)


def test_missing_image_file_is_named(labelled: Path, cache: Path) -> None:
    (labelled / "dog" / "ghost.png").symlink_to(labelled / "nowhere.png")
    with pytest.raises(DataError) as info:
        load_dataset(labelled, cache_dir=cache)
    assert str(info.value) == (
        f"cannot read {labelled}/dog/ghost.png: [Errno 2] No such file or directory: "
        f"'{labelled}/dog/ghost.png'"
    )


def test_unreadable_image_is_named(
    labelled: Path, cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from PIL import Image as PILImage

    real_open = PILImage.open

    def refuse(fp: object, *args: object, **kwargs: object) -> object:
        if str(fp).endswith("b.png"):
            raise PermissionError(13, "Permission denied", str(fp))
        return real_open(fp, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(PILImage, "open", refuse)
    bad = labelled / "cat" / "b.png"
    with pytest.raises(DataError) as info:
        load_dataset(labelled, cache_dir=cache)
    assert str(info.value) == (
        f"cannot read image {bad}: PermissionError: [Errno 13] Permission denied: '{bad}'"
    )


def test_corrupt_tar_member_is_named(labelled: Path, tmp_path: Path, cache: Path) -> None:
    encoded = io.BytesIO()
    Image.fromarray(pixels(1, (32, 32))).save(encoded, format="JPEG")
    (labelled / "dog" / "cut.jpg").write_bytes(encoded.getvalue()[:200])  # truncated JPEG
    archive = make_tar(labelled, tmp_path / "bad.tar.gz", "pets")
    with pytest.raises(DataError, match=f"^cannot decode image pets/dog/cut.jpg in {archive}: "):
        load_dataset(archive, cache_dir=cache)


def test_folder_without_images_is_named(tmp_path: Path, cache: Path) -> None:
    empty = tmp_path / "empty"
    (empty / "sub").mkdir(parents=True)
    (empty / "sub" / "notes.txt").write_text("hi")
    with pytest.raises(DataError, match=f"^no images in {empty} \\(looked for files ending in"):
        load_dataset(empty, cache_dir=cache)


def test_class_folder_without_images_is_named(labelled: Path, cache: Path) -> None:
    (labelled / "bird").mkdir()
    with pytest.raises(DataError, match=f"^class folder {labelled}/bird has no images$"):
        load_dataset(labelled, cache_dir=cache)


def test_mixed_sizes_name_two_files(labelled: Path, cache: Path) -> None:
    write(labelled / "dog" / "big.png", pixels(5, (7, 9)))
    with pytest.raises(DataError) as info:
        load_dataset(labelled, cache_dir=cache)
    assert str(info.value) == (
        f"images differ in size: {labelled}/cat/a.png is 4x5 but {labelled}/dog/big.png is 9x7 "
        "(width x height); resize every image to one size with --image-size N on the command "
        "line (size=N or size=(H, W) in Python)"
    )


def test_images_beside_class_folders_are_refused(labelled: Path, cache: Path) -> None:
    write(labelled / "stray.png", pixels(1))
    with pytest.raises(
        DataError, match=f"^{labelled} mixes images at its top level \\(stray.png\\)"
    ):
        load_dataset(labelled, cache_dir=cache)


def test_unknown_source(cache: Path) -> None:
    with pytest.raises(DataError) as info:
        load_dataset("no-such-thing", cache_dir=cache)
    assert str(info.value) == (
        "unknown data source 'no-such-thing': no such file or folder, and not one of the "
        "built-in names digits, cifar10, cifar100"
    )


def test_a_file_that_is_not_an_archive(tmp_path: Path, cache: Path) -> None:
    (tmp_path / "x.bin").write_bytes(b"hello")
    with pytest.raises(DataError, match="is neither a folder of images nor a tar archive of one$"):
        load_dataset(tmp_path / "x.bin", cache_dir=cache)


def test_test_split_of_an_unsplit_folder(labelled: Path, cache: Path) -> None:
    with pytest.raises(DataError, match="has no train/ and test/ folders, so it has no 'test'"):
        load_dataset(labelled, "test", cache_dir=cache)


def test_truncated_archive_is_reported(labelled: Path, tmp_path: Path, cache: Path) -> None:
    archive = make_tar(labelled, tmp_path / "t.tar.gz", "pets")
    archive.write_bytes(archive.read_bytes()[:-60])
    with pytest.raises(DataError, match=f"^{archive} is truncated"):
        load_dataset(archive, cache_dir=cache)


# --- CIFAR python batches -------------------------------------------------------------------


def fake_batch(n: int, seed: int, label_key: bytes = b"labels") -> tuple[bytes, np.ndarray]:
    """A batch in the official layout: a dict of bytes keys, data uint8 (n, 3072)."""
    data = np.random.default_rng(seed).integers(0, 256, (n, 3072), dtype=np.uint8)
    batch = {
        b"batch_label": b"fake batch",
        label_key: [(seed + i) % 10 for i in range(n)],
        b"data": data,
        b"filenames": [f"img_{i}.png".encode() for i in range(n)],
    }
    return pickle.dumps(batch, protocol=2), data


def test_parse_cifar_batch_layout() -> None:
    raw, data = fake_batch(3, seed=1)
    images, labels = parse_cifar_batch(raw)
    assert images.shape == (3, 32, 32, 3) and images.dtype == np.uint8
    assert labels.tolist() == [1, 2, 3] and labels.dtype == np.int64
    # Row layout: 1024 red, then 1024 green, then 1024 blue values, each row-major 32x32.
    assert images[2, 5, 7, 0] == data[2, 5 * 32 + 7]
    assert images[2, 5, 7, 1] == data[2, 1024 + 5 * 32 + 7]
    assert images[0, 31, 0, 2] == data[0, 2048 + 31 * 32]


def test_parse_cifar_meta() -> None:
    raw = pickle.dumps({b"label_names": [b"plane", b"car"], b"num_vis": 3072}, protocol=2)
    assert parse_cifar_meta(raw) == ["plane", "car"]


class _Sneaky:
    def __reduce__(self) -> tuple[object, tuple[()]]:
        return (os.getcwd, ())


def test_cifar_parser_refuses_other_globals() -> None:
    raw = pickle.dumps({"data": _Sneaky()}, protocol=2)
    with pytest.raises(
        DataError, match="^batch is not a CIFAR python batch: it names posix.getcwd"
    ):
        parse_cifar_batch(raw)


def test_cifar_parser_checks_the_layout() -> None:
    raw = pickle.dumps({b"data": np.zeros((2, 100), np.uint8), b"labels": [0, 1]}, protocol=2)
    with pytest.raises(
        DataError, match=r"^b1: 'data' should be an \(N, 3072\) array, got \(2, 100\)"
    ):
        parse_cifar_batch(raw, what="b1")


def fake_cifar_archive(tmp_path: Path) -> Path:
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    for i in range(1, 6):
        (folder / f"data_batch_{i}").write_bytes(fake_batch(2, seed=i)[0])
    (folder / "test_batch").write_bytes(fake_batch(3, seed=0)[0])
    names = [f"class{i}".encode() for i in range(10)]
    (folder / "batches.meta").write_bytes(pickle.dumps({b"label_names": names}, protocol=2))
    return make_tar(folder, tmp_path / "cifar-10-python.tar.gz", "cifar-10-batches-py")


def test_cifar_archive_read_with_its_checksum(tmp_path: Path) -> None:
    archive = fake_cifar_archive(tmp_path)
    images, labels, classes = read_cifar_archive(archive, "cifar10", "train", md5=file_md5(archive))
    assert images.shape == (10, 32, 32, 3)
    assert labels.tolist() == [1, 2, 2, 3, 3, 4, 4, 5, 5, 6]
    assert classes[:2] == ["class0", "class1"]
    images, labels, _ = read_cifar_archive(archive, "cifar10", "test", md5=file_md5(archive))
    assert images.shape == (3, 32, 32, 3) and labels.tolist() == [0, 1, 2]


def test_unofficial_cifar_archive_is_not_unpickled(tmp_path: Path, cache: Path) -> None:
    archive = fake_cifar_archive(tmp_path)
    with pytest.raises(DataError) as info:
        load_dataset(archive, cache_dir=cache)
    assert str(info.value) == (
        f"refusing to unpickle {archive}: its MD5 is {file_md5(archive)}, but the official "
        "cifar-10-python.tar.gz has c58f30108f718f92721af3b95e74349a (a different or damaged file)"
    )
    with pytest.raises(DataError, match="^refusing to unpickle .*data_batch_1: its MD5 is"):
        load_dataset(tmp_path / "cifar-10-batches-py", cache_dir=cache)


def test_download_cifar_verifies_and_keeps_the_file(tmp_path: Path) -> None:
    archive = fake_cifar_archive(tmp_path)
    url, md5 = archive.as_uri(), file_md5(archive)
    got = download_cifar("cifar10", tmp_path / "dl", url=url, md5=md5, progress=False)
    assert got == tmp_path / "dl" / "cifar-10-python.tar.gz" and file_md5(got) == md5
    archive.unlink()  # a second call finds the verified file and does not download
    assert download_cifar("cifar10", tmp_path / "dl", url=url, md5=md5) == got
    with pytest.raises(
        DataError, match=f"^download of {got.as_uri()} has MD5 .*, expected 0+; the"
    ):
        download_cifar("cifar10", tmp_path / "dl2", url=got.as_uri(), md5="0" * 32)
    assert list((tmp_path / "dl2").iterdir()) == []
    with pytest.raises(DataError, match="^could not download .*copy cifar-10-python.tar.gz into"):
        download_cifar("cifar10", tmp_path / "dl3", url=(tmp_path / "missing").as_uri())


def test_cifar_folder_checks_each_file(tmp_path: Path) -> None:
    fake_cifar_archive(tmp_path)
    with pytest.raises(DataError, match="^refusing to unpickle .*test_batch: its MD5 is"):
        read_cifar_folder(tmp_path / "cifar-10-batches-py", "cifar10", "test")


# --- digits ---------------------------------------------------------------------------------


def test_digits_splits_shapes_and_values() -> None:
    train = load_dataset("digits")
    test = load_dataset("digits", "test")
    assert train.images.shape == (1437, 8, 8, 1) and test.images.shape == (360, 8, 8, 1)
    assert train.images.dtype == np.uint8 and int(train.images.max()) == 255
    assert train.classes == [str(d) for d in range(10)]
    assert sorted(set(train.labels.tolist())) == list(range(10))
    assert len(load_dataset("digits", "all")) == 1797
    assert load_dataset("digits", size=32, mode="RGB").images.shape == (1437, 32, 32, 3)
    assert train.cache_path is None


def test_digits_match_scikit_learn() -> None:
    from sklearn.datasets import load_digits

    data = load_dataset("digits", "all")
    bunch = load_digits()
    expected = np.round(bunch.images * (255.0 / 16.0)).astype(np.uint8)
    np.testing.assert_array_equal(data.images[..., 0], expected)
    np.testing.assert_array_equal(data.labels, bunch.target)


def test_digits_unknown_split() -> None:
    with pytest.raises(DataError, match="^digits has splits 'train', 'test' and 'all', not 'val'$"):
        load_dataset("digits", "val")
