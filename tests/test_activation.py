"""Tanh, Sigmoid and ReLU: forward against torch, backward against autograd and
central differences."""

from __future__ import annotations

import math

import pytest
import torch
from checks import AUTOGRAD_ATOL, FD_ATOL, central_difference, max_abs_diff

from minidl import ReLU, Sigmoid, Tanh
from minidl.activation import SIGMOID_FORM_MIN_ELEMENTS

FORWARD_ATOL = 1e-15

ACTIVATIONS = [
    pytest.param(Tanh, torch.tanh, id="tanh"),
    pytest.param(Sigmoid, torch.sigmoid, id="sigmoid"),
    pytest.param(ReLU, torch.relu, id="relu"),
]

# (batch, features), then (replicas, batch, features)
SHAPES = [(1, 3), (5, 4), (1, 1), (3, 1, 2), (2, 5, 4)]


def make_input(shape, seed=0):
    """Return a float64 input whose entries lie at least 0.1 away from ReLU's kink at 0,
    so that a central difference with eps = 1e-6 never straddles it."""
    generator = torch.Generator().manual_seed(seed)
    values = torch.randn(shape, generator=generator, dtype=torch.float64)
    return values.sign() * (values.abs() + 0.1)


def make_grad_output(shape, seed=1):
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(shape, generator=generator, dtype=torch.float64)


@pytest.mark.parametrize("module_class, torch_function", ACTIVATIONS)
@pytest.mark.parametrize("shape", SHAPES)
def test_activation_forward_matches_torch(module_class, torch_function, shape):
    input = make_input(shape)
    output = module_class()(input)

    assert max_abs_diff(output, torch_function(input)) < FORWARD_ATOL


@pytest.mark.parametrize("module_class, torch_function", ACTIVATIONS)
@pytest.mark.parametrize("shape", SHAPES)
def test_activation_backward_matches_autograd(module_class, torch_function, shape):
    input = make_input(shape)
    grad_output = make_grad_output(shape)
    module = module_class()
    module.forward(input)
    grad_input = module.backward(grad_output)

    leaf = input.clone().requires_grad_()
    (torch_function(leaf) * grad_output).sum().backward()
    assert max_abs_diff(grad_input, leaf.grad) < AUTOGRAD_ATOL


@pytest.mark.parametrize("module_class, torch_function", ACTIVATIONS)
@pytest.mark.parametrize("shape", SHAPES)
def test_activation_backward_matches_finite_differences(
    module_class, torch_function, shape
):
    input = make_input(shape)
    grad_output = make_grad_output(shape)
    module = module_class()
    module.forward(input)
    grad_input = module.backward(grad_output)

    def objective():
        return (module.forward(input) * grad_output).sum()

    numeric = central_difference(objective, input)
    assert max_abs_diff(grad_input, numeric) < FD_ATOL


def test_relu_gradient_at_zero_is_zero():
    input = torch.tensor([[-1.0, 0.0, 2.0], [0.0, 3.0, -0.0]], dtype=torch.float64)
    grad_output = torch.ones_like(input)
    module = ReLU()
    module.forward(input)
    grad_input = module.backward(grad_output)

    leaf = input.clone().requires_grad_()
    torch.relu(leaf).backward(grad_output)
    expected = torch.tensor([[0.0, 0.0, 1.0], [0.0, 1.0, 0.0]], dtype=torch.float64)
    assert torch.equal(leaf.grad, expected)
    assert torch.equal(grad_input, expected)


@pytest.mark.parametrize("module_class", [Tanh, Sigmoid, ReLU])
def test_activation_has_no_parameters(module_class):
    assert module_class().param() == []


@pytest.mark.parametrize("module_class", [Tanh, Sigmoid, ReLU])
def test_activation_keeps_dtype(module_class):
    module = module_class()
    input = make_input((4, 3)).float()
    output = module(input)
    grad_input = module.backward(torch.ones_like(output))

    assert output.dtype == torch.float32
    assert grad_input.dtype == torch.float32


# Tensors this large take Tanh's 2 sigmoid(2x) - 1 branch on the CPU.
LARGE_SHAPE = (8, 50, 30)
TANH_FORM_ATOL = {torch.float32: 2.5e-7, torch.float64: 5e-16}


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_tanh_large_input_matches_torch(dtype):
    assert math.prod(LARGE_SHAPE) >= SIGMOID_FORM_MIN_ELEMENTS
    x = 3 * torch.randn(
        LARGE_SHAPE, dtype=dtype, generator=torch.Generator().manual_seed(0)
    )

    assert max_abs_diff(Tanh().forward(x), torch.tanh(x)) <= TANH_FORM_ATOL[dtype]


def test_tanh_large_input_backward_matches_autograd():
    x = torch.randn(
        LARGE_SHAPE, dtype=torch.float64, generator=torch.Generator().manual_seed(1)
    )
    grad_output = torch.randn(
        LARGE_SHAPE, dtype=torch.float64, generator=torch.Generator().manual_seed(2)
    )
    module = Tanh()
    module.forward(x)
    leaf = x.clone().requires_grad_()
    torch.tanh(leaf).backward(grad_output)

    assert max_abs_diff(module.backward(grad_output), leaf.grad) <= AUTOGRAD_ATOL
