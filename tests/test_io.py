"""Tests of infomax.io.load_array: every supported form, and every bad file's message."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import numpy as np
import pytest

from infomax.io import load_array
from infomax.validation import InputError


def _error(spec: str | Path) -> str:
    with pytest.raises(InputError) as excinfo:
        load_array(str(spec))
    message = str(excinfo.value)
    assert "\n" not in message
    return message


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


# --------------------------------------------------------------------------- .npy / .npz


def test_npy_round_trip(tmp_path: Path) -> None:
    data = np.random.default_rng(0).normal(size=(7, 3)).astype(np.float32)
    np.save(tmp_path / "x.npy", data)
    loaded = load_array(str(tmp_path / "x.npy"))
    assert loaded.dtype == np.float32
    np.testing.assert_array_equal(loaded, data)


def test_npz_with_key_and_with_a_single_array(tmp_path: Path) -> None:
    np.savez(tmp_path / "two.npz", a=np.arange(3.0), b=np.arange(4.0))
    np.savez(tmp_path / "one.npz", only=np.arange(5))
    np.testing.assert_array_equal(load_array(f"{tmp_path}/two.npz:b"), np.arange(4.0))
    np.testing.assert_array_equal(load_array(f"{tmp_path}/one.npz"), np.arange(5))
    np.testing.assert_array_equal(load_array(f"{tmp_path}/one.npz:only"), np.arange(5))


def test_npz_without_key_lists_the_keys(tmp_path: Path) -> None:
    np.savez(tmp_path / "two.npz", a=np.arange(3.0), b=np.arange(4.0))
    path = tmp_path / "two.npz"
    assert _error(path) == f"{path} holds 2 arrays ('a', 'b'); pick one with {path}:KEY"


def test_npz_missing_key_lists_the_available_keys(tmp_path: Path) -> None:
    np.savez(tmp_path / "d.npz", x=np.arange(3.0), y=np.arange(3.0))
    path = tmp_path / "d.npz"
    assert _error(f"{path}:z") == f"{path} has no array 'z'; available: 'x', 'y'"


def test_npz_with_no_arrays(tmp_path: Path) -> None:
    np.savez(tmp_path / "e.npz")
    assert _error(tmp_path / "e.npz") == f"{tmp_path / 'e.npz'} holds no arrays"


def test_pickled_object_array_in_npy_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "objects.npy"
    np.save(path, np.array([{"a": 1}, None], dtype=object), allow_pickle=True)
    assert _error(path).startswith(
        f"{path} holds pickled Python objects; infomax never unpickles data files"
    )


def test_plain_pickle_named_npy_is_refused_without_unpickling(tmp_path: Path) -> None:
    class Boom:
        def __reduce__(self) -> tuple[object, tuple[str]]:
            return (os.system, ("touch " + str(tmp_path / "pwned"),))

    path = tmp_path / "evil.npy"
    path.write_bytes(pickle.dumps(Boom()))
    assert "holds pickled Python objects" in _error(path)
    assert not (tmp_path / "pwned").exists()


def test_pickled_member_of_npz_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "objects.npz"
    np.savez(path, good=np.arange(3.0), bad=np.array([None, "x"], dtype=object))
    np.testing.assert_array_equal(load_array(f"{path}:good"), np.arange(3.0))
    assert _error(f"{path}:bad").startswith(f"{path}:bad holds pickled Python objects")


def test_not_a_numpy_file(tmp_path: Path) -> None:
    path = _write(tmp_path / "text.npy", "hello")
    assert _error(path) == f"{path} is not a NumPy .npy file (no .npy header)"
    path = _write(tmp_path / "text.npz", "hello")
    assert _error(path) == f"{path} is not a NumPy .npz archive (not a zip file)"


def test_npy_takes_no_selector(tmp_path: Path) -> None:
    np.save(tmp_path / "x.npy", np.arange(3.0))
    assert _error(f"{tmp_path}/x.npy:0").endswith(
        "a .npy file holds a single array, so it takes no ':0' "
        "(keys are for .npz, columns for .csv/.tsv)"
    )


# --------------------------------------------------------------------------- files


def test_missing_file(tmp_path: Path) -> None:
    assert _error(tmp_path / "nope.npy") == f"no such file: {tmp_path / 'nope.npy'}"
    assert _error(f"{tmp_path}/nope.npz:key") == f"no such file: {tmp_path / 'nope.npz'}"
    assert _error(f"{tmp_path}/nope.csv:a,b") == f"no such file: {tmp_path / 'nope.csv'}"


def test_empty_file(tmp_path: Path) -> None:
    for name in ("e.npy", "e.npz", "e.csv"):
        path = _write(tmp_path / name, "")
        assert _error(path) == f"{path} is empty (0 bytes)"


def test_directory(tmp_path: Path) -> None:
    (tmp_path / "dir.npy").mkdir()
    assert _error(tmp_path / "dir.npy") == f"{tmp_path / 'dir.npy'} is a directory, not a data file"


def test_unknown_extension(tmp_path: Path) -> None:
    path = _write(tmp_path / "x.parquet", "1")
    assert _error(path) == (
        f"cannot read {path}: unknown file type '.parquet'; use .npy, .npz (path.npz:KEY), "
        ".csv or .tsv (path.csv:COL1,COL2)"
    )
    assert _error(tmp_path / "noext").startswith(f"cannot read {tmp_path / 'noext'}: no file ext")


def test_a_colon_in_an_existing_path_is_not_a_selector(tmp_path: Path) -> None:
    path = tmp_path / "a:b.npy"
    np.save(path, np.arange(2.0))
    np.testing.assert_array_equal(load_array(str(path)), np.arange(2.0))


def test_extension_is_case_insensitive(tmp_path: Path) -> None:
    np.save(tmp_path / "x.npy", np.arange(2.0))
    os.rename(tmp_path / "x.npy", tmp_path / "X.NPY")
    np.testing.assert_array_equal(load_array(str(tmp_path / "X.NPY")), np.arange(2.0))


# --------------------------------------------------------------------------- .csv / .tsv


def test_csv_without_header(tmp_path: Path) -> None:
    path = _write(tmp_path / "d.csv", "1,2.5,3\n4,5,-6e-1\n\n7,8,nan\n")
    loaded = load_array(str(path))
    assert loaded.dtype == np.float64 and loaded.shape == (3, 3)
    np.testing.assert_array_equal(loaded[:2], [[1, 2.5, 3], [4, 5, -0.6]])
    assert np.isnan(loaded[2, 2])


def test_csv_with_header_and_column_selection(tmp_path: Path) -> None:
    path = _write(tmp_path / "d.csv", "a, b ,label\n1,2,cat\n3,4,dog\n")
    np.testing.assert_array_equal(load_array(f"{path}:a,b"), [[1, 2], [3, 4]])
    np.testing.assert_array_equal(load_array(f"{path}:b"), [[2], [4]])
    np.testing.assert_array_equal(load_array(f"{path}:1,0"), [[2, 1], [4, 3]])
    assert load_array(f"{path}:a").shape == (2, 1)


def test_csv_selection_by_index_without_header(tmp_path: Path) -> None:
    path = _write(tmp_path / "d.csv", "1,2,3\n4,5,6\n")
    np.testing.assert_array_equal(load_array(f"{path}:2,0"), [[3, 1], [6, 4]])


def test_tsv(tmp_path: Path) -> None:
    path = _write(tmp_path / "d.tsv", "x\ty\n1\t2\n3\t4\n")
    np.testing.assert_array_equal(load_array(str(path)), [[1, 2], [3, 4]])
    np.testing.assert_array_equal(load_array(f"{path}:y"), [[2], [4]])


def test_savetxt_comment_header_and_bom(tmp_path: Path) -> None:
    path = tmp_path / "d.csv"
    np.savetxt(path, np.arange(6.0).reshape(3, 2), delimiter=",", header="u,v")
    np.testing.assert_array_equal(load_array(f"{path}:v"), [[1], [3], [5]])
    bom = tmp_path / "bom.csv"
    bom.write_bytes("\ufeffp,q\n1,2\n".encode())
    np.testing.assert_array_equal(load_array(f"{bom}:q"), [[2]])


def test_non_numeric_column_is_named(tmp_path: Path) -> None:
    path = _write(tmp_path / "d.csv", "a,b,label\n1,2,cat\n3,4,dog\n")
    assert _error(path) == (
        f"{path}: column 'label' is not numeric (e.g. 'cat' on line 2); "
        f"pick numeric columns with {path}:COL1,COL2"
    )
    assert (
        _error(f"{path}:a,label") == f"{path}: column 'label' is not numeric (e.g. 'cat' on line 2)"
    )


def test_several_non_numeric_columns(tmp_path: Path) -> None:
    path = _write(tmp_path / "d.csv", "id,a,name\nx1,2,cat\nx2,4,dog\n")
    assert _error(path).startswith(
        f"{path}: columns 'id', 'name' are not numeric (e.g. 'x1' on line 2)"
    )


def test_text_column_without_header_is_not_taken_for_a_header(tmp_path: Path) -> None:
    path = _write(tmp_path / "d.csv", "1,2,cat\n3,4,dog\n")
    assert _error(path).startswith(f"{path}: column 2 is not numeric (e.g. 'cat' on line 1)")
    np.testing.assert_array_equal(load_array(f"{path}:0,1"), [[1, 2], [3, 4]])


def test_non_numeric_value_deep_in_a_column(tmp_path: Path) -> None:
    path = _write(tmp_path / "d.csv", "a,b\n1,2\n3,4\n5,oops\n")
    assert _error(path).startswith(f"{path}: column 'b' is not numeric (e.g. 'oops' on line 4)")


def test_missing_values(tmp_path: Path) -> None:
    path = _write(tmp_path / "d.csv", "a,b\n1,\n3,4\n,\n")
    assert _error(path) == (
        f"{path} has 3 empty fields (missing values; first on line 2, column 'b')"
    )


def test_ragged_rows(tmp_path: Path) -> None:
    path = _write(tmp_path / "d.csv", "1,2\n3,4\n5,6,7\n")
    assert _error(path) == (
        f"{path}: line 3 has 3 fields, expected 2 (as on line 1); "
        "all rows must have the same length"
    )
    path = _write(tmp_path / "h.csv", "a,b,c\n1,2\n")
    assert _error(path).startswith(f"{path}: line 2 has 2 fields, expected 3 (as on line 1)")


def test_unknown_column(tmp_path: Path) -> None:
    path = _write(tmp_path / "d.csv", "a,b\n1,2\n")
    assert _error(f"{path}:a,zz") == (
        f"{path} has no column 'zz'; columns: 'a', 'b' (or 0-based indices 0-1)"
    )
    path = _write(tmp_path / "n.csv", "1,2\n3,4\n")
    assert _error(f"{path}:5") == (
        f"{path} has no column '5'; it has no header row, so pick columns by 0-based index 0-1"
    )
    assert _error(f"{path}:0,") == f"{path}: empty column name in '0,'"


def test_csv_without_data(tmp_path: Path) -> None:
    path = _write(tmp_path / "blank.csv", "\n \n")
    assert _error(path) == f"{path} is empty (no data rows)"
    path = _write(tmp_path / "header.csv", "a,b\n")
    assert _error(path) == f"{path} has a header row but no data rows"


def test_csv_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "bin.csv"
    path.write_bytes(b"\xff\xfe\x00\x01garbage\x80")
    assert _error(path) == f"{path} is not UTF-8 text"
