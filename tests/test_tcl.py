"""TCL: the generator's known answers, the loss against a loop, MCC by hand, and a small task."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from infomax.tcl import (
    TCLFeatures,
    correlation_matrix,
    encode_labels,
    fit_tcl,
    linear_mcc,
    make_nonstationary_mixture,
    mcc,
    segment_labels,
    sufficient_statistic,
    tcl_loss,
    transform,
)
from infomax.validation import InputError

# --------------------------------------------------------------------------- generator


def test_mixing_is_inverted_exactly_and_well_conditioned():
    data = make_nonstationary_mixture(5, 8, 500, 3, seed=1)
    assert data.x.shape == data.sources.shape == (4000, 5)
    np.testing.assert_allclose(data.unmix(data.x), data.sources, atol=1e-5, rtol=0)
    np.testing.assert_allclose(data.mix(data.sources), data.x, atol=1e-12, rtol=0)
    for weight in data.weights:
        assert np.linalg.cond(weight) == pytest.approx(1.0, abs=1e-9)
    # The mixing is nonlinear: x is not an affine function of s.
    design = np.hstack([data.sources, np.ones((len(data.x), 1))])
    residual = data.x - design @ np.linalg.lstsq(design, data.x, rcond=None)[0]
    assert residual.std() > 0.05 * data.x.std()


def test_segment_standard_deviations_are_as_drawn():
    n_segments, length = 6, 20_000
    data = make_nonstationary_mixture(3, n_segments, length, 1, scale_range=(0.1, 3.0), seed=2)
    np.testing.assert_array_equal(data.labels, np.repeat(np.arange(n_segments), length))
    assert data.stds.min() >= 0.1 and data.stds.max() <= 3.0
    for k in range(n_segments):
        variance = data.sources[data.labels == k].var(axis=0)
        # A Laplace variable's kurtosis is 6: the sample variance's relative SE is sqrt(5 / n).
        relative_se = math.sqrt(5 / length)
        np.testing.assert_allclose(variance / data.stds[k] ** 2, 1.0, atol=5 * relative_se)
        # Laplace: E|s| = std / sqrt(2).
        np.testing.assert_allclose(
            np.abs(data.sources[data.labels == k]).mean(axis=0) * math.sqrt(2) / data.stds[k],
            1.0,
            atol=5 * math.sqrt(1 / length),
        )


def test_sources_are_independent_within_segments():
    data = make_nonstationary_mixture(4, 5, 10_000, 2, seed=3)
    bound = 4 / math.sqrt(10_000)
    for k in range(5):
        s = data.sources[data.labels == k]
        for values in (s, np.abs(s), s**2):
            off_diagonal = correlation_matrix(values, values) - np.eye(4)
            assert np.abs(off_diagonal).max() < bound


def test_gaussian_sources_and_statistics():
    data = make_nonstationary_mixture(2, 2, 50_000, 1, distribution="gaussian", seed=4)
    s = data.sources[data.labels == 0] / data.stds[0]
    kurtosis = (s**4).mean(axis=0) / (s**2).mean(axis=0) ** 2
    np.testing.assert_allclose(kurtosis, 3.0, atol=0.1)
    np.testing.assert_array_equal(data.statistic, data.sources**2)
    np.testing.assert_array_equal(sufficient_statistic(data.sources, "laplace"), abs(data.sources))


def test_auxiliary_labels_are_shuffled_over_rows():
    data = make_nonstationary_mixture(3, 4, 1000, 1, contiguous=False, seed=5)
    np.testing.assert_array_equal(np.bincount(data.labels), [1000] * 4)
    assert (np.diff(data.labels) != 0).mean() > 0.5  # not segments
    for k in range(4):
        ratio = data.sources[data.labels == k].std(axis=0) / data.stds[k]
        np.testing.assert_allclose(ratio, 1.0, atol=0.15)


def test_same_seed_same_draw_and_bad_settings():
    a = make_nonstationary_mixture(3, 4, 50, 2, seed=7)
    b = make_nonstationary_mixture(3, 4, 50, 2, seed=7)
    np.testing.assert_array_equal(a.x, b.x)
    with pytest.raises(InputError, match="distribution"):
        make_nonstationary_mixture(distribution="cauchy")
    with pytest.raises(InputError, match="negative_slope"):
        make_nonstationary_mixture(negative_slope=0.0)


# --------------------------------------------------------------------------- labels and loss


def test_labels_from_a_segment_length_or_observed_u():
    codes, classes = encode_labels(3, 7)
    np.testing.assert_array_equal(codes, [0, 0, 0, 1, 1, 1, 2])
    np.testing.assert_array_equal(segment_labels(5, 2), [0, 0, 1, 1, 2])
    codes, classes = encode_labels(np.array([7.0, 3.0, 7.0, 9.0]), 4)
    np.testing.assert_array_equal(codes, [1, 0, 1, 2])
    np.testing.assert_array_equal(classes, [3, 7, 9])
    # Several label columns: one class per distinct row.
    codes, classes = encode_labels(np.array([[0, 1], [1, 0], [0, 1], [1, 1]]), 4)
    np.testing.assert_array_equal(codes, [0, 1, 0, 2])
    assert classes.shape == (3, 2)
    with pytest.raises(InputError, match="shape"):
        encode_labels(np.zeros(3), 4)
    with pytest.raises(InputError, match="whole numbers"):
        encode_labels(np.array([0.5, 1.0]), 2)
    with pytest.raises(InputError, match="exceeds"):
        encode_labels(10, 4)


def test_tcl_loss_matches_a_loop_reference():
    generator = torch.Generator().manual_seed(0)
    logits = torch.randn(17, 6, generator=generator, dtype=torch.float64) * 3
    labels = torch.randint(6, (17,), generator=generator)
    total = 0.0
    for row, label in zip(logits.tolist(), labels.tolist(), strict=True):
        top = max(row)
        log_normaliser = top + math.log(sum(math.exp(v - top) for v in row))
        total += log_normaliser - row[label]
    assert float(tcl_loss(logits, labels)) == pytest.approx(total / 17, rel=1e-12)


def test_final_nonlinearities():
    torch.manual_seed(0)
    x = torch.randn(8, 3)
    linear = TCLFeatures(3, 2, (4,), final="none")
    for final, apply in (("abs", torch.abs), ("square", torch.square)):
        other = TCLFeatures(3, 2, (4,), final=final)
        other.load_state_dict(linear.state_dict())
        torch.testing.assert_close(other(x), apply(linear(x)))
    with pytest.raises(InputError, match="final"):
        TCLFeatures(3, 2, final="relu")


# --------------------------------------------------------------------------- MCC


def test_mcc_is_one_for_permuted_scaled_sign_flipped_sources():
    rng = np.random.default_rng(0)
    s = rng.laplace(size=(1000, 4))
    estimates = s[:, [2, 0, 3, 1]] * np.array([-2.0, 0.5, 3.0, -1.0]) + 7.0
    result = mcc(estimates, s)
    assert result.mcc == pytest.approx(1.0, abs=1e-12)
    np.testing.assert_array_equal(result.assignment, [1, 3, 0, 2])


def test_mcc_hand_computed_matching():
    a = np.array([1.0, -1.0, 1.0, -1.0])
    b = np.array([1.0, 1.0, -1.0, -1.0])
    # corr(a, a) = 1, corr(a, b) = 0, corr(a + b, a) = corr(a + b, b) = 1 / sqrt(2):
    # the best matching is a -> a, (a + b) -> b, not (a + b) -> a, a -> b.
    result = mcc(np.stack([a, a + b], axis=1), np.stack([a, b], axis=1))
    assert result.mcc == pytest.approx((1 + 1 / math.sqrt(2)) / 2, abs=1e-12)
    np.testing.assert_allclose(result.correlations, [1, 1 / math.sqrt(2)], atol=1e-12)
    # A spare estimate column may be left unmatched.
    result = mcc(np.stack([b, a + b, a], axis=1), np.stack([a, b], axis=1))
    assert result.mcc == pytest.approx(1.0, abs=1e-12)


def test_linear_mcc_undoes_an_affine_map_and_rejects_bad_input():
    rng = np.random.default_rng(1)
    q = np.abs(rng.laplace(size=(2000, 3)))
    features = q @ rng.standard_normal((3, 3)) + 4.0
    assert linear_mcc(features, q).mcc == pytest.approx(1.0, abs=1e-9)
    # Unrelated features explain nothing on held-out rows.
    assert linear_mcc(rng.standard_normal((2000, 3)), q).mcc < 0.1
    with pytest.raises(InputError, match="rows"):
        mcc(np.zeros((5, 2)), np.zeros((4, 2)))
    with pytest.raises(InputError, match="one-to-one"):
        mcc(np.zeros((5, 1)), np.zeros((5, 2)))


# --------------------------------------------------------------------------- fitting


def test_fit_rejects_bad_labels():
    x = np.zeros((10, 2))
    with pytest.raises(InputError, match="at least 2"):
        fit_tcl(x, np.zeros(10, dtype=int), steps=1)
    with pytest.raises(InputError, match="shape"):
        fit_tcl(x, np.zeros(9, dtype=int), steps=1)


def test_tcl_beats_fastica_on_a_small_three_layer_task():
    fastica = pytest.importorskip("sklearn.decomposition").FastICA
    torch.set_num_threads(1)
    data = make_nonstationary_mixture(5, 32, 256, 3, seed=0)
    hidden = (32, 32, 32)
    fit = fit_tcl(data.x, 256, hidden=hidden, steps=4000, seed=0)
    tcl = linear_mcc(fit.transform(data.x), data.statistic).mcc
    ica = fastica(5, whiten="unit-variance", random_state=0, max_iter=1000)
    baseline = linear_mcc(np.abs(ica.fit_transform(data.x)), data.statistic).mcc
    torch.manual_seed(0)
    random = linear_mcc(transform(TCLFeatures(5, 5, hidden), data.x), data.statistic).mcc
    assert tcl > 0.8
    assert tcl > baseline + 0.1
    assert tcl > random + 0.3
    # The classifier learned something: H(u) - CE > 0 nats, and never above log K.
    assert 0 < fit.mi_lower_bound < math.log(32)
    assert fit.heldout_accuracy > 2 / 32


def test_auxiliary_variable_u_in_place_of_segments():
    torch.set_num_threads(1)
    data = make_nonstationary_mixture(3, 16, 500, 2, contiguous=False, seed=1)
    fit = fit_tcl(data.x, data.labels, hidden=(16, 16), steps=2000, seed=1)
    assert linear_mcc(fit.transform(data.x), data.statistic).mcc > 0.85
