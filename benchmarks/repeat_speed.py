"""Time `minidl repeat --n N` against the ways a PyTorch user would run N seeds.

Usage: python benchmarks/repeat_speed.py [CONFIG] [--n 100] [--sequential 10] [--repeats 3] [--threads T]

In one process, alternating, `--repeats` times each (medians reported):
- minidl repeat: N replicas in one batched computation (minidl.runner.repeat);
- minidl train: one run, as `minidl train` does it;
- sequential reference: torch.nn + autograd + torch.optim runs one after another.
  Only `--sequential K` of them are timed, so the figure is scaled by N / K, as the
  output states;
- vmap ensemble: the reference model's N copies stacked with
  torch.func.stack_module_state and trained with vmap(grad(functional_call)).
Targets: repeat <= 0.05x the sequential reference and <= 0.6x the vmap ensemble.
"""

from __future__ import annotations

import argparse
import copy
import tempfile

import torch
from common import add_threads_option, alternate, apply_threads, machine
from torch.func import functional_call, grad, stack_module_state, vmap

from minidl.reference import (
    make_reference_data,
    make_reference_loss,
    make_reference_model,
    make_reference_targets,
    train_reference,
)
from minidl.runner.config import Config, load_config
from minidl.runner.repeat import run_repeat
from minidl.runner.training import train

TARGET_VS_SEQUENTIAL = 0.05
TARGET_VS_VMAP = 0.6


def train_vmap_ensemble(config: Config, seeds: list[int]) -> list[float]:
    """Train one reference model per seed at once with torch.func; return test errors."""
    generators = [torch.Generator().manual_seed(seed) for seed in seeds]
    datasets = [make_reference_data(config, generator) for generator in generators]
    models = [make_reference_model(config, generator) for generator in generators]
    loss_function = make_reference_loss(config)

    inputs = torch.stack([data.train_inputs for data in datasets])
    targets = torch.stack(
        [make_reference_targets(config, data.train_labels) for data in datasets]
    )
    parameters, buffers = stack_module_state(models)
    skeleton = copy.deepcopy(models[0]).to("meta")

    def loss_of(parameters, buffers, batch_inputs, batch_targets):
        outputs = functional_call(skeleton, (parameters, buffers), (batch_inputs,))
        return loss_function(outputs, batch_targets)

    gradients_of = vmap(grad(loss_of))
    leaves = list(parameters.values())
    optimizer = torch.optim.SGD(
        leaves, lr=config.optimizer.lr, momentum=config.optimizer.momentum
    )
    size, batch_size = config.data.train_size, config.training.batch_size
    rows = torch.arange(len(seeds)).unsqueeze(-1)
    for _ in range(config.training.epochs):
        order = torch.stack([torch.randperm(size, generator=g) for g in generators])
        epoch_inputs, epoch_targets = inputs[rows, order], targets[rows, order]
        for start in range(0, size, batch_size):
            batch = slice(start, start + batch_size)
            gradients = gradients_of(
                parameters, buffers, epoch_inputs[:, batch], epoch_targets[:, batch]
            )
            for name, leaf in parameters.items():
                leaf.grad = gradients[name]
            optimizer.step()

    with torch.no_grad():
        test_inputs = torch.stack([data.test_inputs for data in datasets])
        test_labels = torch.stack([data.test_labels for data in datasets])
        outputs = vmap(functional_call, in_dims=(None, 0, 0))(
            skeleton, (parameters, buffers), (test_inputs,)
        )
        return (outputs.argmax(-1) != test_labels).double().mean(-1).tolist()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("config", nargs="?", default="configs/disk.yaml")
    parser.add_argument("--n", type=int, default=100)
    parser.add_argument(
        "--sequential", type=int, default=10, help="reference runs actually timed"
    )
    parser.add_argument("--repeats", type=int, default=3)
    add_threads_option(parser)
    args = parser.parse_args()
    apply_threads(args.threads)

    config = load_config(args.config)
    seeds = list(range(config.seed, config.seed + args.n))
    runs_dir = tempfile.mkdtemp(prefix="minidl-benchmark-")

    def sequential_reference() -> None:
        for seed in seeds[: args.sequential]:
            train_reference(config, seed)

    medians = alternate(
        {
            "minidl repeat": lambda: run_repeat(
                config, args.config, runs_dir, args.n, plots=False
            ),
            "minidl train (one run)": lambda: train(config, [config.seed]),
            "sequential reference": sequential_reference,
            "vmap ensemble": lambda: train_vmap_ensemble(config, seeds),
        },
        args.repeats,
    )
    scale = args.n / args.sequential
    medians["sequential reference"] *= scale

    print(f"machine: {machine()}")
    print(f"config: {args.config}, N = {args.n}, median of {args.repeats} rounds each")
    if scale != 1:
        print(
            f"sequential reference: {args.sequential} runs timed, scaled by {scale:g}"
        )
    for name, seconds in medians.items():
        print(f"  {name:26s} {seconds:9.3f} s")
    repeat = medians["minidl repeat"]
    print(
        f"repeat / sequential reference: {repeat / medians['sequential reference']:.4f} (target <= {TARGET_VS_SEQUENTIAL})"
    )
    print(
        f"repeat / vmap ensemble:        {repeat / medians['vmap ensemble']:.3f} (target <= {TARGET_VS_VMAP})"
    )
    print(
        f"repeat / one minidl train:     {repeat / medians['minidl train (one run)']:.2f}"
    )


if __name__ == "__main__":
    main()
