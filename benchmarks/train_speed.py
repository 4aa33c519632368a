"""Time one training run of a config: minidl against torch.nn + autograd + torch.optim.

Usage: python benchmarks/train_speed.py [CONFIG] [--repeats K] [--threads T]

Three contenders run in one process, alternating, K times each:
- "minidl train": minidl's training loop as `minidl train` runs it, measuring
  train and test error after every epoch for the history;
- "minidl, final evaluation only": the same training, errors measured once at
  the end, which is the work the reference does;
- "reference": the same model written as a PyTorch user would (minidl/reference.py).
The target is a ratio of at most 0.4 between the second and the third.
"""

from __future__ import annotations

import argparse

from common import add_threads_option, alternate, apply_threads, machine

from minidl.reference import train_reference
from minidl.runner.config import load_config
from minidl.runner.training import train

TARGET_RATIO = 0.4


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("config", nargs="?", default="configs/disk.yaml")
    parser.add_argument("--repeats", type=int, default=7)
    add_threads_option(parser)
    args = parser.parse_args()
    apply_threads(args.threads)

    config = load_config(args.config)
    seed = config.seed
    medians = alternate(
        {
            "minidl train": lambda: train(config, [seed]),
            "minidl, final evaluation only": lambda: train(
                config, [seed], evaluate_every_epoch=False
            ),
            "reference (torch.nn + autograd)": lambda: train_reference(config, seed),
        },
        args.repeats,
    )

    print(f"machine: {machine()}")
    print(
        f"config: {args.config}, {config.training.epochs} epochs, median of {args.repeats} runs each"
    )
    for name, seconds in medians.items():
        print(f"  {name:34s} {seconds:8.3f} s")
    reference = medians["reference (torch.nn + autograd)"]
    same_work = medians["minidl, final evaluation only"] / reference
    print(
        f"ratio minidl / reference, same work:        {same_work:.3f} (target <= {TARGET_RATIO})"
    )
    print(
        f"ratio minidl train / reference:             {medians['minidl train'] / reference:.3f}"
    )


if __name__ == "__main__":
    main()
