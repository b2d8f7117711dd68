"""Bad input to every command: exit status 2, one line naming the cause, no traceback, no litter.

Each row of :data:`CASES` runs ``infomax.cli.main`` in-process on files made
once per module (under a temporary folder), from an empty working directory
with ``HOME`` and ``INFOMAX_CACHE`` pointing into the test's own temporary
folder. It asserts:

- exit status 2;
- exactly one ``infomax: error: ...`` line on stderr, holding the row's substring;
- no ``Traceback`` on stdout or stderr;
- nothing written: the working directory, ``HOME`` and the shared input files
  are unchanged, and the cache holds no file.

Rows asking for ``--device cuda`` apply only where torch has no usable GPU.
"""

from __future__ import annotations

import gzip
import io
import os
import shutil
import tarfile
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from infomax.cli import main

Case = tuple[str, list[str], str]


def _no_cuda(*case: object) -> object:
    """A row that is bad input only where torch cannot use CUDA."""
    mark = pytest.mark.skipif(
        torch.cuda.is_available(), reason="torch can use CUDA here, so --device cuda is valid"
    )
    return pytest.param(*case, marks=mark, id=case[0])


def _png(path: Path, side: int = 16, value: int = 0, mode: str = "L") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(value)
    shape = (side, side) if mode == "L" else (side, side, 3)
    Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8)).save(path)


def _tar(path: Path, members: list[tuple[str, bytes]]) -> Path:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.USTAR_FORMAT) as archive:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    path.write_bytes(out.getvalue())
    return path


def _make_files(root: Path) -> None:
    """Every input the table refers to, as ``{name}`` in its argv."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(3000, 2))
    np.save(root / "x.npy", x)
    np.save(root / "y.npy", x + rng.normal(size=(3000, 2)))
    np.save(root / "z.npy", rng.normal(size=(3000, 1)))
    np.save(root / "short.npy", rng.normal(size=(2500, 2)))
    np.save(root / "few.npy", rng.normal(size=(5, 2)))
    np.save(root / "few_y.npy", rng.normal(size=(5, 2)))
    with_nan = x.copy()
    with_nan[17, 1] = np.nan
    np.save(root / "nan.npy", with_nan)
    with_inf = x.copy()
    with_inf[3, 0] = np.inf
    np.save(root / "inf.npy", with_inf)
    constant = x.copy()
    constant[:, 1] = 4.0
    np.save(root / "const.npy", constant)
    np.save(root / "cube.npy", rng.normal(size=(300, 2, 2)))
    np.save(root / "empty.npy", np.zeros((0, 2)))
    np.save(root / "objects.npy", np.array([{"a": 1}] * 300, dtype=object), allow_pickle=True)
    np.save(root / "text.npy", np.array(["a"] * 300))
    np.savez(root / "pair.npz", a=x, b=x)
    (root / "garbage.npy").write_bytes(b"\x93NUMPY garbage that is not an array header")
    (root / "garbage.npz").write_bytes(b"PK\x03\x04 not a zip file")
    lines = ["a,b,label"] + [f"{u:.4f},{v:.4f},{i % 3}" for i, (u, v) in enumerate(x)]
    (root / "table.csv").write_text("\n".join(lines) + "\n")
    (root / "words.csv").write_text("a,label\n1.0,cat\n2.0,dog\n" + "3.0,cat\n" * 300)
    (root / "ragged.csv").write_text("a,b\n1,2\n3\n" + "4,5\n" * 300)
    (root / "empty.csv").write_text("")
    (root / "a_file").write_text("not a folder")
    (root / "notes.txt").write_text("hello")
    (root / "bad.json").write_text("{not json")
    # image folders
    for split in ("train", "test"):
        for label in ("a", "b"):
            for i in range(3):
                _png(root / "rgb" / split / label / f"{i}.png", 16, i, "RGB")
    (root / "empty_folder").mkdir()
    (root / "no_images" / "cat").mkdir(parents=True)
    (root / "no_images" / "cat" / "readme.txt").write_text("no images here")
    _png(root / "broken" / "cat" / "a.png")
    (root / "broken" / "cat" / "b.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    _png(root / "mixed" / "cat" / "a.png", 16)
    _png(root / "mixed" / "cat" / "b.png", 20)
    _png(root / "beside" / "cat" / "a.png")
    _png(root / "beside" / "stray.png")
    _png(root / "empty_class" / "cat" / "a.png")
    (root / "empty_class" / "dog").mkdir()
    _png(root / "flat" / "a.png")
    _png(root / "flat" / "b.png")
    for label in ("a", "b"):
        for i in range(3):
            _png(root / "unsplit" / label / f"{i}.png", 16, i)
    # tar archives
    image = io.BytesIO()
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(image, format="PNG")
    good = [("d/cat/a.png", image.getvalue()), ("d/dog/a.png", image.getvalue())]
    raw = bytearray(_tar(root / "ok.tar", good).read_bytes())
    header = raw[512 * 2 : 512 * 3]
    header[124:136] = ((-512) % (1 << 96)).to_bytes(12, "big")  # base-256 negative size
    header[148:156] = b" " * 8
    header[148:156] = b"%06o\0 " % sum(header)
    raw[512 * 2 : 512 * 3] = header
    (root / "negative.tar").write_bytes(bytes(raw))
    _tar(root / "escape.tar", [*good, ("../../x.png", image.getvalue())])
    _tar(root / "inner_escape.tar", [*good, ("cat/../../../x.png", image.getvalue())])
    _tar(root / "absolute.tar", [*good, ("/abs/x.png", image.getvalue())])
    _tar(root / "bad_member.tar", [*good, ("d/dog/b.png", b"\x89PNG\r\n\x1a\nbroken")])
    (root / "junk.tar").write_bytes(os.urandom(3000))
    (root / "cut.tar.gz").write_bytes(gzip.compress((root / "ok.tar").read_bytes())[:-40])
    # run folders
    (root / "run_empty").mkdir()
    (root / "run_bad_config").mkdir()
    (root / "run_bad_config" / "config.json").write_text("{broken")
    (root / "run_list_config").mkdir()
    (root / "run_list_config" / "config.json").write_text("[1, 2]")
    (root / "demi_bad").mkdir()
    (root / "demi_bad" / "demi.json").write_text("{broken")


def _train_run(root: Path) -> None:
    """A real (one-step) run on 16x16 digits, and copies of it with broken parts."""
    run = root / "run"
    argv = [
        "train", "dim-local", "--data", "digits", "--image-size", "16", "--batch-size", "32",
        "--threads", "1", "--encoder-option", "widths=8/16,fc_dim=32", "--option",
        "critic_dim=32", "--no-progress", "--steps", "1", "--out", str(run), "--json",
    ]  # fmt: skip
    assert main(argv) == 0
    shutil.copytree(run, root / "run_no_checkpoint")
    (root / "run_no_checkpoint" / "checkpoint.pt").unlink()
    shutil.copytree(run, root / "run_bad_checkpoint")
    (root / "run_bad_checkpoint" / "checkpoint.pt").write_bytes(b"PK\x03\x04 not a checkpoint")
    shutil.copytree(run, root / "run_no_config")
    (root / "run_no_config" / "config.json").unlink()
    shutil.copytree(run, root / "run_broken_config")
    (root / "run_broken_config" / "config.json").write_text('{"encoder": ')


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("inputs")
    old = os.environ.get("INFOMAX_CACHE")
    os.environ["INFOMAX_CACHE"] = str(tmp_path_factory.mktemp("setup-cache"))
    try:
        _make_files(root)
        _train_run(root)
    finally:
        if old is None:
            os.environ.pop("INFOMAX_CACHE")
        else:
            os.environ["INFOMAX_CACHE"] = old
    return root


T = ["train", "dim-local", "--data"]
S = ["--steps", "1", "--no-progress"]

CASES = [
    # --- estimate: files --------------------------------------------------------------------
    ("estimate-missing-x", ["estimate", "{nope.npy}", "{y.npy}"], "nope.npy"),
    ("estimate-missing-y", ["estimate", "{x.npy}", "{nope.npy}"], "nope.npy"),
    ("estimate-missing-given", ["estimate", "{x.npy}", "{y.npy}", "--given", "{nope.npy}"],
     "nope.npy"),
    ("estimate-garbage-npy", ["estimate", "{garbage.npy}", "{y.npy}"], "garbage.npy"),
    ("estimate-garbage-npz", ["estimate", "{garbage.npz}:a", "{y.npy}"], "garbage.npz"),
    ("estimate-npz-no-key", ["estimate", "{pair.npz}:nokey", "{y.npy}"], "nokey"),
    ("estimate-npz-which-key", ["estimate", "{pair.npz}", "{y.npy}"], "pair.npz"),
    ("estimate-pickle", ["estimate", "{objects.npy}", "{y.npy}"], "pickled"),
    ("estimate-text-array", ["estimate", "{text.npy}", "{y.npy}"], "non-numeric dtype"),
    ("estimate-3d", ["estimate", "{cube.npy}", "{y.npy}"], "must be 1-D or 2-D"),
    ("estimate-empty-npy", ["estimate", "{empty.npy}", "{empty.npy}"], "X is empty"),
    ("estimate-csv-words", ["estimate", "{words.csv}:a", "{words.csv}:label"], "not numeric"),
    ("estimate-csv-no-column", ["estimate", "{table.csv}:a,zz", "{table.csv}:b"], "zz"),
    ("estimate-csv-ragged", ["estimate", "{ragged.csv}", "{ragged.csv}"], "ragged.csv"),
    ("estimate-csv-empty", ["estimate", "{empty.csv}", "{y.npy}"], "empty.csv"),
    ("estimate-not-data", ["estimate", "{notes.txt}", "{y.npy}"], "notes.txt"),
    ("estimate-a-folder", ["estimate", "{empty_folder}", "{y.npy}"], "empty_folder"),
    # --- estimate: arrays -------------------------------------------------------------------
    ("estimate-row-mismatch", ["estimate", "{x.npy}", "{short.npy}"], "rows"),
    ("estimate-given-mismatch", ["estimate", "{x.npy}", "{y.npy}", "--given", "{short.npy}"],
     "rows"),
    ("estimate-nan", ["estimate", "{nan.npy}", "{y.npy}"], "NaN"),
    ("estimate-inf", ["estimate", "{x.npy}", "{inf.npy}"], "inf"),
    ("estimate-too-few", ["estimate", "{few.npy}", "{few_y.npy}"], "too few samples"),
    ("estimate-constant", ["estimate", "{const.npy}", "{y.npy}"], "constant"),
    # --- estimate: options ------------------------------------------------------------------
    ("estimate-bound", ["estimate", "{x.npy}", "{y.npy}", "--bound", "nope"], "unknown bound"),
    ("estimate-critic", ["estimate", "{x.npy}", "{y.npy}", "--critic", "nope"],
     "unknown critic"),
    ("estimate-init", ["estimate", "{x.npy}", "{y.npy}", "--init", "nope"], "invalid choice"),
    ("estimate-method", ["estimate", "{x.npy}", "{y.npy}", "--given", "{z.npy}",
                         "--conditional", "nope"], "invalid choice"),
    ("estimate-heldout-big", ["estimate", "{x.npy}", "{y.npy}", "--heldout", "1.5"],
     "strictly between 0 and 1"),
    ("estimate-heldout-text", ["estimate", "{x.npy}", "{y.npy}", "--heldout", "half"],
     "expected a number"),
    ("estimate-steps-negative", ["estimate", "{x.npy}", "{y.npy}", "--steps", "-5"],
     "must be positive"),
    ("estimate-steps-text", ["estimate", "{x.npy}", "{y.npy}", "--steps", "many"],
     "expected a whole number"),
    ("estimate-batch-zero", ["estimate", "{x.npy}", "{y.npy}", "--batch-size", "0"],
     "must be positive"),
    ("estimate-seed-text", ["estimate", "{x.npy}", "{y.npy}", "--seed", "abc"], "invalid int"),
    ("estimate-subviews-text", ["estimate", "{x.npy}", "{y.npy}", "--subviews", "1,x"],
     "sub-view sizes must be whole numbers"),
    ("estimate-subviews-wide", ["estimate", "{x.npy}", "{y.npy}", "--subviews", "5"],
     "sub-view size 5"),
    ("estimate-subviews-given", ["estimate", "{x.npy}", "{y.npy}", "--subviews", "1",
                                 "--given", "{z.npy}"], "--given"),
    ("estimate-no-y", ["estimate", "{x.npy}"], "the following arguments are required"),
    ("estimate-unknown-flag", ["estimate", "{x.npy}", "{y.npy}", "--frobnicate"],
     "unrecognized arguments"),
    # --- bench ------------------------------------------------------------------------------
    ("bench-none", ["bench"], "the following arguments are required"),
    ("bench-unknown", ["bench", "nope"], "invalid choice"),
    ("staircase-critic", ["bench", "staircase", "--critic", "bilinear"], "invalid choice"),
    ("staircase-bound", ["bench", "staircase", "--bound", "nope"], "nope"),
    ("staircase-empty-bound", ["bench", "staircase", "--bound", "infonce,,smile"],
     "empty name"),
    ("staircase-steps", ["bench", "staircase", "--steps-per-stage", "0"], "must be positive"),
    ("staircase-batch", ["bench", "staircase", "--batch-size", "-3"], "must be positive"),
    ("staircase-precision", ["bench", "staircase", "--precision", "fp8"], "invalid choice"),
    ("staircase-out-file", ["bench", "staircase", "--out", "{a_file}"],
     "exists and is not a directory"),
    ("demi-mi-text", ["bench", "demi", "--mi", "10,x"], "expected comma-separated numbers"),
    ("demi-batch-text", ["bench", "demi", "--batch-size", "64,big"],
     "expected comma-separated numbers"),
    ("demi-subviews-text", ["bench", "demi", "--subviews", "1,two"],
     "expected comma-separated numbers"),
    ("demi-estimator", ["bench", "demi", "--estimators", "nope"], "nope"),
    ("demi-steps", ["bench", "demi", "--steps", "-1"], "must be positive"),
    ("demi-resume-no-out", ["bench", "demi", "--resume"], "--resume needs --out"),
    ("demi-out-file", ["bench", "demi", "--out", "{a_file}"], "exists and is not a directory"),
    ("demi-merge-missing", ["bench", "demi", "--merge", "{nope.json}"], "no such file"),
    ("demi-merge-broken", ["bench", "demi", "--merge", "{demi_bad}"], "is not a demi.json"),
    ("demi-merge-not-demi", ["bench", "demi", "--merge", "{bad.json}"], "is not a demi.json"),
    # --- demo -------------------------------------------------------------------------------
    ("demo-out-file", ["demo", "--out", "{a_file}"], "exists and is not a directory"),
    ("demo-steps-zero", ["demo", "--steps", "0"], "must be positive"),
    ("demo-steps-text", ["demo", "--steps", "ten"], "expected a whole number"),
    ("demo-unknown-flag", ["demo", "--fast"], "unrecognized arguments"),
    # --- train: data ------------------------------------------------------------------------
    ("train-no-data", ["train", "dim-local"], "give the data to train on: --data"),
    ("train-missing-data", [*T, "{nowhere}", *S], "unknown data source"),
    ("train-empty-folder", [*T, "{empty_folder}", *S], "no images in"),
    ("train-no-images", [*T, "{no_images}", *S], "no images in"),
    ("train-broken-image", [*T, "{broken}", *S], "cannot decode image"),
    ("train-mixed-sizes", [*T, "{mixed}", *S], "--image-size N"),
    ("train-images-beside-classes", [*T, "{beside}", *S], "mixes images at its top level"),
    ("train-empty-class", [*T, "{empty_class}", *S], "has no images"),
    ("train-not-images", [*T, "{notes.txt}", *S], "neither a folder of images nor a tar"),
    ("train-tar-negative-size", [*T, "{negative.tar}", *S], "gives size -512"),
    ("train-tar-dotdot", [*T, "{escape.tar}", *S], "points outside the archive's root"),
    ("train-tar-inner-dotdot", [*T, "{inner_escape.tar}", *S], "points outside"),
    ("train-tar-absolute", [*T, "{absolute.tar}", *S], "with an absolute path"),
    ("train-tar-bad-member", [*T, "{bad_member.tar}", *S], "cannot decode image d/dog/b.png"),
    ("train-tar-junk", [*T, "{junk.tar}", *S], "junk.tar"),
    ("train-tar-truncated", [*T, "{cut.tar.gz}", *S], "truncated"),
    ("train-seq-bad-file", ["train", "cpc-seq", "--data", "{garbage.npy}", *S], "garbage.npy"),
    # --- train: options ---------------------------------------------------------------------
    ("train-method", ["train", "byol", "--data", "digits", *S], "unknown method 'byol'"),
    ("train-steps-zero", [*T, "digits", "--steps", "0"], "must be positive"),
    ("train-epochs-negative", [*T, "digits", "--epochs", "-1"], "must be positive"),
    ("train-minutes-negative", [*T, "digits", "--minutes", "-1"], "--minutes: must be a positive"),
    ("train-minutes-text", [*T, "digits", "--minutes", "soon"], "--minutes: expected a number"),
    ("train-lr-zero", [*T, "digits", "--lr", "0", *S], "--lr: must be a positive"),
    ("train-lr-nan", [*T, "digits", "--lr", "nan", *S], "--lr: must be a positive"),
    ("train-batch-one", [*T, "digits", "--batch-size", "1", *S], "at least 2"),
    ("train-image-size-zero", [*T, "digits", "--image-size", "0", *S], "must be positive"),
    ("train-threads-zero", [*T, "digits", "--threads", "0", *S], "must be positive"),
    ("train-log-every-zero", [*T, "digits", "--log-every", "0", *S], "must be positive"),
    ("train-encoder", [*T, "digits", "--encoder", "vgg", *S], "unknown encoder 'vgg'"),
    ("train-encoder-option", [*T, "digits", "--encoder-option", "depth=3", *S],
     "has no option 'depth'"),
    ("train-encoder-option-form", [*T, "digits", "--encoder-option", "widths", *S],
     "expected NAME=VALUE"),
    ("train-augment", [*T, "digits", "--augment", "nope", *S], "nope"),
    ("train-estimator", [*T, "digits", "--estimator", "nope", *S], "unknown DIM estimator"),
    ("train-subview", ["train", "demi", "--data", "digits", "--subview", "half", *S],
     "invalid choice"),
    ("train-precision", [*T, "digits", "--precision", "fp16", *S], "invalid choice"),
    ("train-option-form", [*T, "digits", "--option", "gamma", *S], "expected NAME=VALUE"),
    ("train-option-unknown", ["train", "simclr", "--data", "digits", "--option", "tau=1", *S],
     "no option 'tau'"),
    ("train-resume-nowhere", [*T, "digits", "--resume", "--out", "{nowhere}", *S],
     "cannot resume"),
    ("train-out-holds-run", [*T, "digits", "--out", "{run}", *S], "already holds a run"),
    ("train-option-type", [*T, "digits", "--option", "gamma=abc", *S], "gamma"),
    ("train-device-foo", [*T, "digits", "--device", "foo", *S], "--device"),
    _no_cuda("train-device-cuda", [*T, "digits", "--device", "cuda", *S], "--device"),
    ("train-resume-no-config", [*T, "digits", "--resume", "--out", "{run_no_config}", *S],
           "config.json"),
    ("train-resume-broken-config",
           [*T, "digits", "--resume", "--out", "{run_broken_config}", *S], "config.json"),
    # --- eval -------------------------------------------------------------------------------
    ("eval-no-run", ["eval"], "the following arguments are required"),
    ("eval-missing-run", ["eval", "{nowhere}"], "no run folder"),
    ("eval-empty-run", ["eval", "{run_empty}"], "has no config.json"),
    ("eval-broken-config", ["eval", "{run_bad_config}"], "config.json"),
    ("eval-list-config", ["eval", "{run_list_config}"], "is not an infomax run config"),
    ("eval-no-checkpoint", ["eval", "{run_no_checkpoint}"], "checkpoint.pt"),
    ("eval-bad-checkpoint", ["eval", "{run_bad_checkpoint}"], "truncated or corrupt"),
    ("eval-probe", ["eval", "{run}", "--probe", "svm"], "invalid choice"),
    ("eval-layer", ["eval", "{run}", "--layer", "pool"], "invalid choice"),
    ("eval-pixels-random", ["eval", "{run}", "--pixels", "--random-init"],
     "cannot be combined"),
    ("eval-batch-zero", ["eval", "{run}", "--batch-size", "0"], "must be positive"),
    ("eval-seed-text", ["eval", "{run}", "--seed", "x"], "invalid int"),
    ("eval-missing-data", ["eval", "{run}", "--data", "{nowhere}"], "unknown data source"),
    ("eval-no-test-split", ["eval", "{run}", "--data", "{unsplit}"], "into train/ and test/"),
    ("eval-flat-folder", ["eval", "{run}", "--data", "{flat}"], "no 'test' split"),
    ("eval-channels", ["eval", "{run}", "--data", "{rgb}"], "takes 1-channel images"),
    ("eval-tar-escape", ["eval", "{run}", "--data", "{escape.tar}"], "points outside"),
    ("eval-broken-image", ["eval", "{run}", "--data", "{broken}"], "broken"),
    ("eval-device-foo", ["eval", "{run}", "--device", "foo"], "--device"),
    _no_cuda("eval-device-cuda", ["eval", "{run}", "--device", "cuda"], "--device"),
]  # fmt: skip


def _fill(argv: list[str], files: Path) -> list[str]:
    out = []
    for arg in argv:
        if arg.startswith("{") and arg.endswith("}"):
            arg = str(files / arg[1:-1])
        elif arg.startswith("{") and "}:" in arg:
            name, _, key = arg[1:].partition("}:")
            arg = f"{files / name}:{key}"
        out.append(arg)
    return out


def _snapshot(root: Path) -> dict[str, tuple[int, int]]:
    return {
        p.relative_to(root).as_posix(): (p.stat().st_size, p.stat().st_mtime_ns)
        for p in root.rglob("*")
    }


def test_the_table_is_large_and_covers_every_command() -> None:
    argvs = [c.values[1] if hasattr(c, "values") else c[1] for c in CASES]
    assert len(argvs) >= 60
    assert {a[0] for a in argvs} == {"estimate", "bench", "train", "eval", "demo"}
    ids = [c.values[0] if hasattr(c, "values") else c[0] for c in CASES]
    assert len(set(ids)) == len(ids)


@pytest.mark.parametrize(
    ("name", "argv", "expected"),
    [c if hasattr(c, "values") else pytest.param(*c, id=c[0]) for c in CASES],
)
def test_bad_input_exits_2_with_one_line(
    name: str,
    argv: list[str],
    expected: str,
    files: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    cwd, home, cache = tmp_path / "cwd", tmp_path / "home", tmp_path / "cache"
    for folder in (cwd, home):
        folder.mkdir()
    monkeypatch.chdir(cwd)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("INFOMAX_CACHE", str(cache))
    before = _snapshot(files)
    code = main(_fill(argv, files))
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err + captured.out
    assert code == 2, captured.err
    errors = [line for line in captured.err.splitlines() if line.startswith("infomax: error: ")]
    assert len(errors) == 1, captured.err
    assert expected in errors[0], errors[0]
    assert list(cwd.iterdir()) == [] and list(home.iterdir()) == []
    # The cache may keep a split that decoded before the error, but nothing half-written.
    entries = {p.relative_to(cache).parts[:2] for p in cache.rglob("*") if p.is_file()}
    assert all(part[0] == "datasets" and not part[1].startswith(".") for part in entries)
    for entry in {part[1] for part in entries}:
        names = sorted(p.name for p in (cache / "datasets" / entry).iterdir())
        assert names == ["images.npy", "labels.npy", "meta.json"]
    assert _snapshot(files) == before
