"""Linear: forward against torch.nn.functional.linear, backward against autograd and
central differences, with and without a leading replica dimension."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from checks import AUTOGRAD_ATOL, FD_ATOL, central_difference, max_abs_diff

from minidl import Linear

FORWARD_ATOL = 1e-12

# (replicas, batch size, in_features, out_features)
SHAPES = [
    (None, 1, 3, 2),
    (None, 5, 4, 3),
    (None, 6, 1, 1),
    (3, 1, 3, 2),
    (2, 5, 4, 3),
]


def make_case(replicas, batch, in_features, out_features, seed=0):
    """Return a float64 layer, an input and an upstream gradient for one shape."""
    generator = torch.Generator().manual_seed(seed)
    layer = Linear(
        in_features,
        out_features,
        replicas=replicas,
        dtype=torch.float64,
        generator=generator,
    )
    leading = () if replicas is None else (replicas,)
    options = {"generator": generator, "dtype": torch.float64}
    input = torch.randn(*leading, batch, in_features, **options)
    grad_output = torch.randn(*leading, batch, out_features, **options)
    return layer, input, grad_output


def autograd_gradients(weight, bias, input, grad_output):
    """Return dL/d(input, weight, bias) for L = sum((x W^T + b) * grad_output)."""
    input = input.clone().requires_grad_()
    weight = weight.clone().requires_grad_()
    bias = bias.clone().requires_grad_()
    output = input @ weight.mT + bias.unsqueeze(-2)
    (output * grad_output).sum().backward()
    return input.grad, weight.grad, bias.grad


@pytest.mark.parametrize("replicas, batch, in_features, out_features", SHAPES)
def test_linear_forward_matches_functional(replicas, batch, in_features, out_features):
    layer, input, _ = make_case(replicas, batch, in_features, out_features)
    output = layer(input)

    if replicas is None:
        expected = F.linear(input, layer.weight, layer.bias)
    else:
        expected = torch.stack(
            [
                F.linear(input[r], layer.weight[r], layer.bias[r])
                for r in range(replicas)
            ]
        )
    assert max_abs_diff(output, expected) < FORWARD_ATOL


@pytest.mark.parametrize("replicas, batch, in_features, out_features", SHAPES)
def test_linear_backward_matches_autograd(replicas, batch, in_features, out_features):
    layer, input, grad_output = make_case(replicas, batch, in_features, out_features)
    layer.forward(input)
    grad_input = layer.backward(grad_output)

    expected_input, expected_weight, expected_bias = autograd_gradients(
        layer.weight, layer.bias, input, grad_output
    )
    assert max_abs_diff(grad_input, expected_input) < AUTOGRAD_ATOL
    assert max_abs_diff(layer.grad_weight, expected_weight) < AUTOGRAD_ATOL
    assert max_abs_diff(layer.grad_bias, expected_bias) < AUTOGRAD_ATOL


@pytest.mark.parametrize("replicas, batch, in_features, out_features", SHAPES)
def test_linear_backward_matches_finite_differences(
    replicas, batch, in_features, out_features
):
    layer, input, grad_output = make_case(replicas, batch, in_features, out_features)
    layer.forward(input)
    grad_input = layer.backward(grad_output)

    def objective():
        return (layer.forward(input) * grad_output).sum()

    numeric_input = central_difference(objective, input)
    numeric_weight = central_difference(objective, layer.weight)
    numeric_bias = central_difference(objective, layer.bias)
    assert max_abs_diff(grad_input, numeric_input) < FD_ATOL
    assert max_abs_diff(layer.grad_weight, numeric_weight) < FD_ATOL
    assert max_abs_diff(layer.grad_bias, numeric_bias) < FD_ATOL


def test_linear_shared_input_across_replicas():
    # An input without the replica dimension broadcasts to every replica, so its
    # gradient is the sum of the replicas' input gradients.
    layer, _, grad_output = make_case(3, 4, 2, 5)
    input = torch.randn(
        4, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(1)
    )
    output = layer(input)
    grad_input = layer.backward(grad_output)

    expected_input, expected_weight, expected_bias = autograd_gradients(
        layer.weight, layer.bias, input, grad_output
    )
    assert output.shape == (3, 4, 5)
    assert max_abs_diff(grad_input, expected_input) < AUTOGRAD_ATOL
    assert max_abs_diff(layer.grad_weight, expected_weight) < AUTOGRAD_ATOL
    assert max_abs_diff(layer.grad_bias, expected_bias) < AUTOGRAD_ATOL


# B = out_features = 3 makes the leading dimension of G (B, N, out) equal the first
# dimension of the weight (out, in), which must not be mistaken for replicas.
@pytest.mark.parametrize("leading", [5, 3])
def test_linear_batch_dims_share_weight(leading):
    # One layer (no replicas) applied to input (B, N, in): B shares the weight.
    layer, _, _ = make_case(None, 2, 4, 3)
    generator = torch.Generator().manual_seed(2)
    input = torch.randn(leading, 2, 4, dtype=torch.float64, generator=generator)
    grad_output = torch.randn(leading, 2, 3, dtype=torch.float64, generator=generator)
    layer.forward(input)
    grad_input = layer.backward(grad_output)

    expected_input, expected_weight, expected_bias = autograd_gradients(
        layer.weight, layer.bias, input, grad_output
    )
    assert max_abs_diff(grad_input, expected_input) < AUTOGRAD_ATOL
    assert max_abs_diff(layer.grad_weight, expected_weight) < AUTOGRAD_ATOL
    assert max_abs_diff(layer.grad_bias, expected_bias) < AUTOGRAD_ATOL


@pytest.mark.parametrize("replicas", [None, 2])
def test_linear_gradient_accumulates(replicas):
    layer, first_input, first_grad = make_case(replicas, 4, 3, 2, seed=0)
    _, second_input, second_grad = make_case(replicas, 4, 3, 2, seed=1)

    layer.forward(first_input)
    layer.backward(first_grad)
    layer.forward(second_input)
    layer.backward(second_grad)

    _, first_weight, first_bias = autograd_gradients(
        layer.weight, layer.bias, first_input, first_grad
    )
    _, second_weight, second_bias = autograd_gradients(
        layer.weight, layer.bias, second_input, second_grad
    )
    assert max_abs_diff(layer.grad_weight, first_weight + second_weight) < AUTOGRAD_ATOL
    assert max_abs_diff(layer.grad_bias, first_bias + second_bias) < AUTOGRAD_ATOL


@pytest.mark.parametrize("replicas", [None, 2])
def test_linear_zero_grad_resets(replicas):
    layer, input, grad_output = make_case(replicas, 4, 3, 2)
    grad_weight, grad_bias = layer.grad_weight, layer.grad_bias
    layer.forward(input)
    layer.backward(grad_output)
    layer.zero_grad()

    assert torch.count_nonzero(layer.grad_weight) == 0
    assert torch.count_nonzero(layer.grad_bias) == 0
    # The buffers are zeroed in place, so references held by an optimizer stay valid.
    assert layer.grad_weight is grad_weight
    assert layer.grad_bias is grad_bias


def test_linear_param_pairs_weight_and_bias():
    layer = Linear(3, 2)
    pairs = layer.param()

    assert len(pairs) == 2
    assert pairs[0][0] is layer.weight
    assert pairs[0][1] is layer.grad_weight
    assert pairs[1][0] is layer.bias
    assert pairs[1][1] is layer.grad_bias


@pytest.mark.parametrize("replicas", [None, 4])
def test_linear_parameter_shapes(replicas):
    layer = Linear(3, 2, replicas=replicas)
    leading = () if replicas is None else (replicas,)

    assert layer.weight.shape == (*leading, 2, 3)
    assert layer.bias.shape == (*leading, 2)
    assert layer.grad_weight.shape == layer.weight.shape
    assert layer.grad_bias.shape == layer.bias.shape


@pytest.mark.parametrize("shape", [(4, 2), (4,), (3,)])
def test_linear_rejects_bad_input_shape(shape):
    layer = Linear(3, 2)
    with pytest.raises(ValueError):
        layer(torch.zeros(shape))


def test_linear_without_input_gradient_returns_none():
    generator = torch.Generator().manual_seed(5)
    layer = Linear(
        3, 4, replicas=2, dtype=torch.float64, generator=generator, input_gradient=False
    )
    x = torch.randn(2, 6, 3, dtype=torch.float64, generator=generator)
    grad_output = torch.randn(2, 6, 4, dtype=torch.float64, generator=generator)
    weight = layer.weight.clone().requires_grad_()
    bias = layer.bias.clone().requires_grad_()
    (x @ weight.mT + bias.unsqueeze(-2)).backward(grad_output)

    layer.forward(x)
    assert layer.backward(grad_output) is None
    assert max_abs_diff(layer.grad_weight, weight.grad) <= AUTOGRAD_ATOL
    assert max_abs_diff(layer.grad_bias, bias.grad) <= AUTOGRAD_ATOL
    assert "input_gradient=False" in repr(layer)
