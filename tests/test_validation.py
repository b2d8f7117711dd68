"""Tests of infomax.validation: every bad input gets its own one-line message."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from infomax.validation import (
    InputError,
    check_fraction,
    heldout_count,
    validate_conditioning,
    validate_pair,
    validate_subviews,
)


def _pair(n: int = 50, dx: int = 3, dy: int = 2, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, dx)), rng.normal(size=(n, dy))


def _message(excinfo: pytest.ExceptionInfo[InputError]) -> str:
    message = str(excinfo.value)
    assert "\n" not in message
    return message


def test_input_error_is_a_value_error() -> None:
    assert issubclass(InputError, ValueError)


def test_returns_float32_matrices_with_the_same_values() -> None:
    x, y = _pair()
    xa, ya = validate_pair(x, y, min_samples=10)
    assert xa.dtype == np.float32 and ya.dtype == np.float32
    assert xa.shape == (50, 3) and ya.shape == (50, 2)
    assert xa.flags["C_CONTIGUOUS"] and ya.flags["C_CONTIGUOUS"]
    np.testing.assert_array_equal(xa, x.astype(np.float32))
    np.testing.assert_array_equal(ya, y.astype(np.float32))


def test_one_dimensional_input_becomes_one_column() -> None:
    xa, ya = validate_pair(np.arange(10.0), np.arange(10) ** 2, min_samples=2)
    assert xa.shape == (10, 1) and ya.shape == (10, 1)
    assert ya[3, 0] == 9.0


def test_accepts_tensors_and_lists() -> None:
    x = torch.randn(20, 2, dtype=torch.float64, requires_grad=True)
    y = [[float(i), float(i % 3)] for i in range(20)]
    xa, ya = validate_pair(x, y, min_samples=5)
    np.testing.assert_array_equal(xa, x.detach().numpy().astype(np.float32))
    assert ya.shape == (20, 2) and ya[4, 1] == 1.0


def test_accepts_half_precision_tensors_and_integer_and_bool_arrays() -> None:
    x = torch.arange(12, dtype=torch.bfloat16).reshape(6, 2)
    y = np.array([True, False, True, True, False, False])
    xa, ya = validate_pair(x, y, min_samples=2)
    assert xa.dtype == np.float32 and xa[5, 1] == 11.0
    np.testing.assert_array_equal(ya[:, 0], [1, 0, 1, 1, 0, 0])


def test_mismatched_rows_name_both_counts() -> None:
    x, _ = _pair(n=100)
    _, y = _pair(n=90)
    with pytest.raises(InputError) as excinfo:
        validate_pair(x, y, min_samples=10)
    assert _message(excinfo) == (
        "X and Y must have the same number of rows (paired samples): X has 100, Y has 90"
    )


def test_custom_names_appear_in_messages() -> None:
    with pytest.raises(InputError, match="^features and labels must have the same"):
        validate_pair(np.ones((4, 1)), np.ones((5, 1)), min_samples=1, names=("features", "labels"))


def test_nan_rows_are_counted_with_the_first_row() -> None:
    x, y = _pair(n=40)
    x[17, 0] = np.nan
    x[20, 1] = np.nan
    x[20, 2] = np.inf
    x[33, 2] = -np.inf
    with pytest.raises(InputError) as excinfo:
        validate_pair(x, y, min_samples=10)
    assert _message(excinfo) == "X has 3 rows with NaN or inf (first at row 17)"


def test_inf_in_y_names_y() -> None:
    x, y = _pair(n=40)
    y[5, 1] = np.inf
    with pytest.raises(InputError) as excinfo:
        validate_pair(x, y, min_samples=10)
    assert _message(excinfo) == "Y has 1 rows with NaN or inf (first at row 5)"


def test_nan_in_a_tensor_is_found() -> None:
    x = torch.randn(30, 2)
    x[29, 1] = float("nan")
    with pytest.raises(InputError, match=r"^X has 1 rows with NaN or inf \(first at row 29\)$"):
        validate_pair(x, torch.randn(30), min_samples=2)


def test_values_beyond_float32_are_reported_as_such() -> None:
    x, y = _pair(n=30)
    x[4, 0] = 1e300
    with pytest.raises(InputError) as excinfo:
        validate_pair(x, y, min_samples=2)
    assert _message(excinfo).startswith("X has 1 rows with values too large for float32")
    assert "first at row 4" in str(excinfo.value)


def test_too_few_samples_says_how_many_and_why() -> None:
    x, y = _pair(n=50)
    with pytest.raises(InputError) as excinfo:
        validate_pair(x, y, min_samples=160, reason="batch size 128 plus 32 held out")
    assert _message(excinfo) == (
        "too few samples: X and Y have 50 rows, at least 160 are needed "
        "(batch size 128 plus 32 held out)"
    )


def test_too_few_samples_without_a_reason() -> None:
    x, y = _pair(n=5)
    with pytest.raises(InputError) as excinfo:
        validate_pair(x, y, min_samples=6)
    assert _message(excinfo) == "too few samples: X and Y have 5 rows, at least 6 are needed"


def test_exactly_min_samples_is_enough() -> None:
    x, y = _pair(n=6)
    validate_pair(x, y, min_samples=6)


def test_a_constant_column_is_named() -> None:
    x, y = _pair(n=30)
    x[:, 1] = 4.5
    with pytest.raises(InputError) as excinfo:
        validate_pair(x, y, min_samples=2)
    assert _message(excinfo) == (
        "X column 1 is constant (0-based; the same value in every row); "
        "a constant carries no information, drop it"
    )


def test_several_constant_columns_are_listed() -> None:
    x, y = _pair(n=30, dy=14)
    y[:, [0, 2]] = 0.0
    with pytest.raises(InputError, match=r"^Y columns 0, 2 are constant"):
        validate_pair(x, y, min_samples=2)
    y[:, 2:14] = 1.0
    with pytest.raises(InputError, match=r"^Y columns 0, 2, 3, 4, 5, 6, 7, 8, 9, 10, \.\.\. \(13"):
        validate_pair(x, y, min_samples=2)


def test_a_constant_one_dimensional_y() -> None:
    x, _ = _pair(n=30)
    with pytest.raises(InputError, match=r"^Y column 0 is constant"):
        validate_pair(x, np.zeros(30), min_samples=2)


@pytest.mark.parametrize(
    ("bad", "expected"),
    [
        (np.array(["a", "b", "c"]), "X has non-numeric dtype <U1"),
        (np.array([1, "x", None], dtype=object), "X has non-numeric dtype object"),
        (np.array([1 + 2j, 3, 4]), "X is complex (complex128); pass real numbers"),
        (torch.ones(3, dtype=torch.complex64), "X is complex (torch.complex64); pass real numbers"),
        ("1,2,3", "X is a string, not an array of numbers"),
    ],
)
def test_non_numeric_input(bad: object, expected: str) -> None:
    with pytest.raises(InputError) as excinfo:
        validate_pair(bad, np.arange(3.0), min_samples=1)
    assert _message(excinfo).startswith(expected)


def test_ragged_list() -> None:
    with pytest.raises(InputError, match=r"^Y cannot be read as a rectangular array"):
        validate_pair([[1.0, 2.0], [3.0, 4.0]], [[1.0, 2.0], [3.0]], min_samples=1)


@pytest.mark.parametrize(
    ("bad", "expected"),
    [
        (np.zeros((0, 3)), "X is empty (shape (0, 3))"),
        ([], "X is empty (shape (0,))"),
        (np.zeros((4, 0)), "X is empty (shape (4, 0))"),
        (np.float64(3.0), "X is a single number; pass an array of samples"),
    ],
)
def test_empty_and_scalar_input(bad: object, expected: str) -> None:
    with pytest.raises(InputError) as excinfo:
        validate_pair(bad, np.arange(4.0), min_samples=1)
    assert _message(excinfo) == expected


def test_more_than_two_dimensions() -> None:
    with pytest.raises(InputError) as excinfo:
        validate_pair(np.ones((10, 3, 2)), np.arange(10.0), min_samples=1)
    assert _message(excinfo) == (
        "X must be 1-D or 2-D (samples x features), got shape (10, 3, 2); "
        "flatten the feature dimensions first"
    )


def test_checks_run_in_a_useful_order() -> None:
    # Row mismatch before NaN, NaN before too-few-samples, too-few before constant columns.
    x = np.full((3, 2), np.nan)
    with pytest.raises(InputError, match="same number of rows"):
        validate_pair(x, np.ones(4), min_samples=100)
    with pytest.raises(InputError, match="NaN or inf"):
        validate_pair(x, np.ones(3), min_samples=100)
    with pytest.raises(InputError, match="too few samples"):
        validate_pair(np.ones((3, 2)), np.ones(3), min_samples=100)


def test_inputs_are_not_modified() -> None:
    x, y = _pair()
    x_copy = x.copy()
    xa, _ = validate_pair(x, y, min_samples=2)
    xa[0, 0] = 1e6
    np.testing.assert_array_equal(x, x_copy)


# --------------------------------------------------------------------- conditioning


def test_conditioning_array_is_converted() -> None:
    z = validate_conditioning(np.arange(8), 8)
    assert z.shape == (8, 1) and z.dtype == np.float32


def test_conditioning_row_count() -> None:
    with pytest.raises(InputError) as excinfo:
        validate_conditioning(np.random.default_rng(0).normal(size=(7, 2)), 8)
    assert (
        _message(excinfo)
        == "Z must have one row per sample of X and Y: Z has 7 rows, X and Y have 8"
    )


def test_conditioning_nan_constant_and_dtype() -> None:
    z = np.random.default_rng(0).normal(size=(8, 3))
    z[2, 1] = np.nan
    with pytest.raises(InputError, match=r"^Z has 1 rows with NaN or inf \(first at row 2\)$"):
        validate_conditioning(z, 8)
    z[2, 1] = 0.0
    z[:, 2] = 7.0
    with pytest.raises(InputError, match=r"^Z column 2 is constant"):
        validate_conditioning(z, 8)
    with pytest.raises(InputError, match=r"^W has non-numeric dtype"):
        validate_conditioning(np.array(["a"] * 8), 8, name="W")
    with pytest.raises(InputError, match=r"^Z is empty"):
        validate_conditioning(np.zeros((0, 2)), 0)


# --------------------------------------------------------------------- sub-views


@pytest.mark.parametrize(
    "spec",
    ["5,10,15", " 5, 10 ,15 ", [5, 10, 15], (5, 10, 15), np.array([5, 10, 15]), [5.0, 10, 15]],
)
def test_subviews_accepted_forms(spec: object) -> None:
    sizes = validate_subviews(spec, 20)  # type: ignore[arg-type]
    assert sizes == [5, 10, 15]
    assert all(type(size) is int for size in sizes)


@pytest.mark.parametrize(
    ("spec", "width", "expected"),
    [
        ("", 20, "sub-views: give at least one size, e.g. 5,10 for a 15-column X"),
        ([], 20, "sub-views: give at least one size, e.g. 5,10 for a 15-column X"),
        ("5,,10", 20, "sub-view list has an empty entry (two commas in a row?)"),
        ("5,a", 20, "sub-view sizes must be whole numbers, got 'a'"),
        ("2.5", 20, "sub-view sizes must be whole numbers, got '2.5'"),
        ([2.5], 20, "sub-view sizes must be whole numbers, got 2.5"),
        ([True], 20, "sub-view sizes must be whole numbers, got True"),
        ("0,5", 20, "sub-view sizes must be positive, got 0"),
        ("-3", 20, "sub-view sizes must be positive, got -3"),
        (
            "10,5",
            20,
            "sub-view sizes must be strictly increasing (nested prefixes), got 5 after 10",
        ),
        ("5,5", 20, "sub-view sizes must be strictly increasing (nested prefixes), got 5 after 5"),
        (
            "5,15",
            15,
            "sub-view size 15 is not smaller than X's width (15 columns); the last sub-view "
            "is X itself and is implicit, so every size must be below 15",
        ),
    ],
)
def test_subviews_errors(spec: object, width: int, expected: str) -> None:
    with pytest.raises(InputError) as excinfo:
        validate_subviews(spec, width)  # type: ignore[arg-type]
    assert _message(excinfo) == expected


def test_heldout_count_rounds_the_share_and_names_what_is_missing() -> None:
    assert heldout_count(100, 0.3, name="heldout", minimum=10) == 30
    assert heldout_count(7, 0.5, name="heldout", minimum=2) == 4  # round(3.5) is 4
    with pytest.raises(InputError) as error:
        heldout_count(25, 0.3, name="heldout", minimum=10)
    assert str(error.value) == (
        "heldout=0.3 of 25 rows leaves 8 held-out and 17 training rows; each needs at least 10"
    )
    for bad in (0.0, 1.0, -0.1):
        with pytest.raises(InputError, match=rf"^f must be strictly between 0 and 1, got {bad}$"):
            check_fraction(bad, "f")
