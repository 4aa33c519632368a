"""Time torch.tanh against 2 sigmoid(2x) - 1, the form minidl's Tanh uses on large CPU tensors.

Usage: python benchmarks/activation_speed.py [--repeats K] [--threads T]

Prints, for a range of tensor sizes, the median time of each form and the
largest absolute difference between their results. minidl switches to the
sigmoid form from minidl.activation.SIGMOID_FORM_MIN_ELEMENTS elements up.
"""

from __future__ import annotations

import argparse

import torch
from common import add_threads_option, alternate, apply_threads, machine

from minidl.activation import SIGMOID_FORM_MIN_ELEMENTS, tanh_via_sigmoid

# (replicas, batch, features): one model's minibatch, its 2000-point evaluation, repeat chunks.
SHAPES = [(1, 100, 25), (4, 100, 25), (1, 2000, 25), (32, 100, 25), (100, 100, 25)]


def time_shape(shape: tuple[int, ...], dtype: torch.dtype, repeats: int) -> str:
    inputs = torch.randn(shape, dtype=dtype, generator=torch.Generator().manual_seed(0))
    medians = alternate(
        {
            "tanh": lambda: torch.tanh(inputs),
            "sigmoid form": lambda: tanh_via_sigmoid(inputs),
        },
        repeats,
    )
    difference = (torch.tanh(inputs) - tanh_via_sigmoid(inputs)).abs().max().item()
    tanh_us, sigmoid_us = (1e6 * medians[name] for name in ("tanh", "sigmoid form"))
    return (
        f"{shape!s:16s} {inputs.numel():8d} {dtype!s:14s} {tanh_us:9.1f} "
        f"{sigmoid_us:13.1f} {sigmoid_us / tanh_us:7.2f} {difference:9.1e}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=300)
    add_threads_option(parser)
    args = parser.parse_args()
    apply_threads(args.threads)

    print(f"machine: {machine()}")
    print(f"minidl uses the sigmoid form from {SIGMOID_FORM_MIN_ELEMENTS} elements up")
    print(
        f"{'shape':16s} {'elements':>8s} {'dtype':14s} {'tanh us':>9s} {'sigmoid us':>13s} {'ratio':>7s} {'max diff':>9s}"
    )
    for dtype in (torch.float32, torch.float64):
        for shape in SHAPES:
            print(time_shape(shape, dtype, args.repeats))


if __name__ == "__main__":
    main()
