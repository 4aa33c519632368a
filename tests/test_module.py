"""Module and Sequential: call order, parameters, printing, and Sequential's gradient
against autograd and central differences."""

from __future__ import annotations

import pytest
import torch
from checks import AUTOGRAD_ATOL, FD_ATOL, central_difference, max_abs_diff
from torch import nn

from minidl import Linear, Module, ReLU, Sequential, Sigmoid, Tanh
from minidl.module import sum_to_shape


class Recorder(Module):
    """Test double that appends (method, name) to a shared log.

    forward returns scale * input + shift and backward returns scale * grad, so both
    the order of the calls and the data passed between them show in the results.
    """

    def __init__(self, name, log, scale=1.0, shift=0.0):
        self.name = name
        self.log = log
        self.scale = scale
        self.shift = shift

    def forward(self, input):
        self.log.append(("forward", self.name))
        return self.scale * input + self.shift

    def backward(self, grad_output):
        self.log.append(("backward", self.name))
        return self.scale * grad_output


def test_sequential_forwards_in_order():
    log = []
    model = Sequential(
        Recorder("a", log, shift=1.0), Recorder("b", log, scale=2.0), Recorder("c", log)
    )
    output = model(torch.tensor([3.0]))

    assert log == [("forward", "a"), ("forward", "b"), ("forward", "c")]
    # a then b gives 2 * (3 + 1); b then a would give 2 * 3 + 1.
    assert output.item() == 8.0


def test_sequential_backwards_in_reverse():
    log = []
    model = Sequential(
        Recorder("a", log, scale=2.0), Recorder("b", log, scale=3.0), Recorder("c", log)
    )
    model.forward(torch.tensor([1.0]))
    log.clear()
    grad_input = model.backward(torch.tensor([1.0]))

    assert log == [("backward", "c"), ("backward", "b"), ("backward", "a")]
    assert grad_input.item() == 6.0


def test_module_call_runs_forward():
    log = []
    output = Recorder("a", log, shift=1.0)(torch.tensor([1.0]))

    assert log == [("forward", "a")]
    assert output.item() == 2.0


def test_linear_call_equals_forward():
    layer = Linear(3, 2, generator=torch.Generator().manual_seed(0))
    input = torch.randn(4, 3, generator=torch.Generator().manual_seed(1))
    assert torch.equal(layer(input), layer.forward(input))


def test_module_base_methods_raise_not_implemented():
    module = Module()
    with pytest.raises(NotImplementedError):
        module.forward(torch.zeros(1))
    with pytest.raises(NotImplementedError):
        module.backward(torch.zeros(1))


def test_module_base_has_no_parameters():
    assert Module().param() == []


def test_sequential_param_concatenates():
    first, second = Linear(2, 3), Linear(3, 1)
    pairs = Sequential(first, Tanh(), second).param()
    expected = first.param() + second.param()

    assert len(pairs) == len(expected)
    for (parameter, gradient), (expected_parameter, expected_gradient) in zip(
        pairs, expected
    ):
        assert parameter is expected_parameter
        assert gradient is expected_gradient


def test_sequential_zero_grad_reaches_every_layer():
    first, second = Linear(2, 3), Linear(3, 1)
    model = Sequential(first, Tanh(), second)
    for _, gradient in model.param():
        gradient.fill_(1.0)
    model.zero_grad()

    for _, gradient in model.param():
        assert torch.count_nonzero(gradient) == 0


def test_sequential_indexing_and_length():
    first, activation = Linear(2, 3), Tanh()
    model = Sequential(first, activation)

    assert len(model) == 2
    assert model[0] is first
    assert model[1] is activation


# Printing, against torch's own modules


@pytest.mark.parametrize(
    "module, torch_module",
    [
        (Linear(2, 25), nn.Linear(2, 25)),
        (Tanh(), nn.Tanh()),
        (Sigmoid(), nn.Sigmoid()),
        (ReLU(), nn.ReLU()),
    ],
    ids=["linear", "tanh", "sigmoid", "relu"],
)
def test_module_repr_matches_torch(module, torch_module):
    assert repr(module) == repr(torch_module)


def test_linear_repr_shows_replicas():
    expected = "Linear(in_features=2, out_features=25, bias=True, replicas=3)"
    assert repr(Linear(2, 25, replicas=3)) == expected


def test_sequential_repr_matches_torch():
    model = Sequential(Linear(2, 25), ReLU(), Linear(25, 2))
    torch_model = nn.Sequential(nn.Linear(2, 25), nn.ReLU(), nn.Linear(25, 2))
    assert repr(model) == repr(torch_model)


def test_nested_sequential_repr_matches_torch():
    model = Sequential(Linear(2, 3), Sequential(Tanh(), Linear(3, 1)))
    torch_model = nn.Sequential(
        nn.Linear(2, 3), nn.Sequential(nn.Tanh(), nn.Linear(3, 1))
    )
    assert repr(model) == repr(torch_model)


def test_empty_sequential_repr_matches_torch():
    assert repr(Sequential()) == repr(nn.Sequential())


# Sequential gradient

# (replicas, batch); the network maps 3 features to 2 through widths 5 and 4.
SEQUENTIAL_SHAPES = [(None, 1), (None, 6), (2, 1), (3, 4)]


def make_network(replicas, batch, seed=0):
    """Return a float64 Linear-Tanh-Linear-Sigmoid-Linear-ReLU network with its input
    and an upstream gradient. Inputs are random, so with probability 1 no ReLU input
    lies within the finite-difference step of 0."""
    generator = torch.Generator().manual_seed(seed)
    options = {"replicas": replicas, "dtype": torch.float64, "generator": generator}
    model = Sequential(
        Linear(3, 5, **options),
        Tanh(),
        Linear(5, 4, **options),
        Sigmoid(),
        Linear(4, 2, **options),
        ReLU(),
    )
    leading = () if replicas is None else (replicas,)
    input = torch.randn(*leading, batch, 3, generator=generator, dtype=torch.float64)
    grad_output = torch.randn(
        *leading, batch, 2, generator=generator, dtype=torch.float64
    )
    return model, input, grad_output


def plain_forward(weights, input):
    """The same network written with torch operations, for autograd."""
    w1, b1, w2, b2, w3, b3 = weights
    hidden = torch.tanh(input @ w1.mT + b1.unsqueeze(-2))
    hidden = torch.sigmoid(hidden @ w2.mT + b2.unsqueeze(-2))
    return torch.relu(hidden @ w3.mT + b3.unsqueeze(-2))


@pytest.mark.parametrize("replicas, batch", SEQUENTIAL_SHAPES)
def test_sequential_backward_matches_autograd(replicas, batch):
    model, input, grad_output = make_network(replicas, batch)
    output = model.forward(input)
    grad_input = model.backward(grad_output)

    leaves = [parameter.clone().requires_grad_() for parameter, _ in model.param()]
    input_leaf = input.clone().requires_grad_()
    expected_output = plain_forward(leaves, input_leaf)
    (expected_output * grad_output).sum().backward()

    assert max_abs_diff(output, expected_output.detach()) < AUTOGRAD_ATOL
    assert max_abs_diff(grad_input, input_leaf.grad) < AUTOGRAD_ATOL
    for index, ((_, gradient), leaf) in enumerate(zip(model.param(), leaves)):
        assert max_abs_diff(gradient, leaf.grad) < AUTOGRAD_ATOL, f"parameter {index}"


@pytest.mark.parametrize("replicas, batch", SEQUENTIAL_SHAPES)
def test_sequential_backward_matches_finite_differences(replicas, batch):
    model, input, grad_output = make_network(replicas, batch)
    model.forward(input)
    grad_input = model.backward(grad_output)

    def objective():
        return (model.forward(input) * grad_output).sum()

    assert max_abs_diff(grad_input, central_difference(objective, input)) < FD_ATOL
    for index, (parameter, gradient) in enumerate(model.param()):
        numeric = central_difference(objective, parameter)
        assert max_abs_diff(gradient, numeric) < FD_ATOL, f"parameter {index}"


# sum_to_shape


def test_sum_to_shape_sums_broadcast_dims():
    grad = torch.arange(24.0).reshape(2, 3, 4)

    assert torch.equal(sum_to_shape(grad, torch.Size([3, 4])), grad[0] + grad[1])
    assert torch.equal(
        sum_to_shape(grad, torch.Size([2, 1, 4])), grad.sum(1, keepdim=True)
    )


def test_sum_to_shape_same_shape_is_identity():
    grad = torch.ones(2, 3)
    assert sum_to_shape(grad, grad.shape) is grad
