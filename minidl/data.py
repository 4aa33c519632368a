"""Data sets, normalisation and target encoding. Every draw takes a torch.Generator."""

from __future__ import annotations

import math

import torch
from torch import Tensor

DISK_CENTRE = 0.5
DISK_RADIUS = 1 / math.sqrt(
    2 * math.pi
)  # area pi r^2 = 1/2 of the unit square: balanced classes


def disk(
    n: int,
    generator: torch.Generator | None = None,
    dtype: torch.dtype = torch.float32,
) -> tuple[Tensor, Tensor]:
    """Draw n points uniformly in [0, 1]^2, labelled 1 inside the disk and 0 outside.

    Returns inputs (n, 2) and integer labels (n,).
    """
    points = torch.rand(n, 2, generator=generator, dtype=torch.float64)
    squared_distance = (points - DISK_CENTRE).square().sum(-1)
    labels = (squared_distance < DISK_RADIUS**2).long()
    return points.to(dtype), labels


def standardize(train: Tensor, *others: Tensor) -> tuple[Tensor, ...]:
    """Shift and scale every set by the training set's per-feature mean and sample std.

    Inputs are (..., N, features); the statistics run over N, so replicas keep their own.
    """
    mean = train.mean(-2, keepdim=True)
    std = train.std(-2, keepdim=True)
    return tuple((data - mean) / std for data in (train, *others))


def one_hot(labels: Tensor, classes: int, dtype: torch.dtype = torch.float32) -> Tensor:
    """Encode integer labels (...) as rows of a (..., classes) identity matrix."""
    encoded = torch.zeros(*labels.shape, classes, dtype=dtype, device=labels.device)
    return encoded.scatter_(-1, labels.unsqueeze(-1), 1)
