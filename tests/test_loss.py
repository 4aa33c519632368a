"""MSELoss and CrossEntropyLoss: forward against torch.nn.functional, backward against
autograd and central differences, per replica for a leading replica dimension."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from checks import AUTOGRAD_ATOL, FD_ATOL, central_difference, max_abs_diff

from minidl import CrossEntropyLoss, MSELoss

FORWARD_ATOL = 1e-12

# Losses of logits of magnitude 1e4 are themselves up to about 1e4, so float64
# rounding alone reaches about 1e4 * 1e-16; 1e-8 leaves a wide margin.
LARGE_LOGIT_LOSS_ATOL = 1e-8

# (batch, classes), then (replicas, batch, classes)
SHAPES = [(1, 1), (1, 3), (5, 2), (4, 1), (3, 1, 4), (2, 5, 3)]

TARGET_KINDS = ["index", "probability", "unnormalized"]


def randn(shape, seed):
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(shape, generator=generator, dtype=torch.float64)


def make_target(kind, shape, seed=1):
    """Return a cross-entropy target for logits of ``shape``.

    "index" gives int64 classes (..., N), and "probability" gives softmax rows
    (..., N, C). "unnormalized" gives non-negative rows that do not sum to 1. torch
    accepts them, and they exercise the sum of the target in the gradient.
    """
    generator = torch.Generator().manual_seed(seed)
    if kind == "index":
        return torch.randint(shape[-1], shape[:-1], generator=generator)
    if kind == "probability":
        return torch.randn(shape, generator=generator, dtype=torch.float64).softmax(-1)
    return torch.rand(shape, generator=generator, dtype=torch.float64)


def per_replica(function, prediction, target):
    """Apply a torch loss to each (N, C) slice and stack the results. A prediction of
    at most 2 dimensions is one replica."""
    if prediction.dim() <= 2:
        return function(prediction, target)
    return torch.stack([function(p, t) for p, t in zip(prediction, target)])


# MSELoss


@pytest.mark.parametrize("shape", [*SHAPES, (5,)])
def test_mse_forward_matches_functional(shape):
    prediction, target = randn(shape, 0), randn(shape, 1)
    loss = MSELoss()(prediction, target)

    expected = per_replica(F.mse_loss, prediction, target)
    assert max_abs_diff(loss, expected) < FORWARD_ATOL


@pytest.mark.parametrize("shape", [*SHAPES, (5,)])
def test_mse_backward_matches_autograd(shape):
    prediction, target = randn(shape, 0), randn(shape, 1)
    loss = MSELoss()
    loss.forward(prediction, target)
    grad = loss.backward()

    leaf = prediction.clone().requires_grad_()
    per_replica(F.mse_loss, leaf, target).sum().backward()
    assert max_abs_diff(grad, leaf.grad) < AUTOGRAD_ATOL


@pytest.mark.parametrize("shape", [*SHAPES, (5,)])
def test_mse_backward_matches_finite_differences(shape):
    prediction, target = randn(shape, 0), randn(shape, 1)
    loss = MSELoss()
    loss.forward(prediction, target)
    grad = loss.backward()

    numeric = central_difference(
        lambda: loss.forward(prediction, target).sum(), prediction
    )
    assert max_abs_diff(grad, numeric) < FD_ATOL


def test_mse_divides_by_element_count():
    # Squared errors 1 and 9 over 2 samples x 2 outputs: (1 + 9 + 0 + 0) / 4.
    prediction = torch.tensor([[1.0, 3.0], [0.0, 0.0]], dtype=torch.float64)
    target = torch.zeros(2, 2, dtype=torch.float64)
    loss = MSELoss()

    assert loss(prediction, target).item() == 2.5
    assert torch.equal(loss.backward(), prediction * 2 / 4)


@pytest.mark.parametrize("shape", [(4, 3), (3, 4, 2)])
def test_mse_returns_one_loss_per_replica(shape):
    loss = MSELoss()(randn(shape, 0), randn(shape, 1))
    assert loss.shape == shape[:-2]


@pytest.mark.parametrize("target_shape", [(5,), (5, 1), (2, 5), (1, 5, 2), (5, 2, 1)])
def test_mse_rejects_mismatched_target(target_shape):
    with pytest.raises(ValueError):
        MSELoss()(torch.zeros(5, 2), torch.zeros(target_shape))


# CrossEntropyLoss


@pytest.mark.parametrize("kind", TARGET_KINDS)
@pytest.mark.parametrize("shape", SHAPES)
def test_cross_entropy_forward_matches_functional(shape, kind):
    prediction, target = randn(shape, 0), make_target(kind, shape)
    loss = CrossEntropyLoss()(prediction, target)

    expected = per_replica(F.cross_entropy, prediction, target)
    assert max_abs_diff(loss, expected) < FORWARD_ATOL


@pytest.mark.parametrize("kind", TARGET_KINDS)
@pytest.mark.parametrize("shape", SHAPES)
def test_cross_entropy_backward_matches_autograd(shape, kind):
    prediction, target = randn(shape, 0), make_target(kind, shape)
    loss = CrossEntropyLoss()
    loss.forward(prediction, target)
    grad = loss.backward()

    leaf = prediction.clone().requires_grad_()
    per_replica(F.cross_entropy, leaf, target).sum().backward()
    assert max_abs_diff(grad, leaf.grad) < AUTOGRAD_ATOL


@pytest.mark.parametrize("kind", TARGET_KINDS)
@pytest.mark.parametrize("shape", SHAPES)
def test_cross_entropy_backward_matches_finite_differences(shape, kind):
    prediction, target = randn(shape, 0), make_target(kind, shape)
    loss = CrossEntropyLoss()
    loss.forward(prediction, target)
    grad = loss.backward()

    numeric = central_difference(
        lambda: loss.forward(prediction, target).sum(), prediction
    )
    assert max_abs_diff(grad, numeric) < FD_ATOL


def test_cross_entropy_uniform_logits():
    # Equal logits over C classes give softmax 1/C, so the loss is log(C) for any label.
    prediction = torch.zeros(3, 4, dtype=torch.float64)
    target = torch.tensor([0, 2, 3])

    loss = CrossEntropyLoss()(prediction, target)
    assert math.isclose(loss.item(), math.log(4), rel_tol=1e-15)


@pytest.mark.parametrize("kind", ["index", "probability"])
@pytest.mark.parametrize("shape", [(5, 3), (2, 4, 3)])
def test_cross_entropy_large_logits_stay_finite(shape, kind):
    prediction = randn(shape, 0) * 1e4
    target = make_target(kind, shape)
    loss = CrossEntropyLoss()
    value = loss.forward(prediction, target)
    grad = loss.backward()

    leaf = prediction.clone().requires_grad_()
    expected = per_replica(F.cross_entropy, leaf, target)
    expected.sum().backward()
    assert torch.isfinite(value).all()
    assert torch.isfinite(grad).all()
    assert max_abs_diff(value, expected.detach()) < LARGE_LOGIT_LOSS_ATOL
    assert max_abs_diff(grad, leaf.grad) < AUTOGRAD_ATOL


def test_cross_entropy_large_logits_float32():
    prediction = (randn((6, 3), 0) * 1e4).float()
    target = torch.tensor([0, 1, 2, 0, 1, 2])
    loss = CrossEntropyLoss()
    value = loss.forward(prediction, target)
    grad = loss.backward()

    assert torch.isfinite(value).all()
    assert torch.isfinite(grad).all()


@pytest.mark.parametrize("shape", [(4, 3), (3, 4, 2)])
def test_cross_entropy_returns_one_loss_per_replica(shape):
    loss = CrossEntropyLoss()(randn(shape, 0), make_target("index", shape))
    assert loss.shape == shape[:-2]


@pytest.mark.parametrize(
    "target",
    [
        pytest.param(torch.zeros(5, dtype=torch.long), id="index-wrong-batch"),
        pytest.param(torch.zeros(4, 1, dtype=torch.long), id="index-extra-dim"),
        pytest.param(torch.zeros(4, 3, dtype=torch.long), id="index-of-logit-shape"),
        pytest.param(torch.zeros(4, dtype=torch.float64), id="float-indices"),
        pytest.param(
            torch.zeros(4, 2, dtype=torch.float64), id="probability-wrong-classes"
        ),
        pytest.param(
            torch.zeros(2, 4, 3, dtype=torch.float64), id="probability-extra-dim"
        ),
    ],
)
def test_cross_entropy_rejects_mismatched_target(target):
    with pytest.raises(ValueError):
        CrossEntropyLoss()(torch.zeros(4, 3, dtype=torch.float64), target)


def test_cross_entropy_rejects_replica_target_mismatch():
    with pytest.raises(ValueError):
        CrossEntropyLoss()(torch.zeros(2, 4, 3), torch.zeros(4, dtype=torch.long))


@pytest.mark.parametrize("bad_class", [3, -1])
def test_cross_entropy_rejects_out_of_range_index(bad_class):
    target = torch.tensor([0, bad_class, 1, 2])
    with pytest.raises(ValueError):
        CrossEntropyLoss()(torch.zeros(4, 3), target)


def test_cross_entropy_rejects_1d_logits():
    with pytest.raises(ValueError):
        CrossEntropyLoss()(torch.zeros(3), torch.tensor(1))
