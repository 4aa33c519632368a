"""Disk data, standardization and one-hot encoding."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from minidl import disk, one_hot, standardize

STATISTICS_ATOL = 1e-12

# The share of points inside the disk is a binomial fraction with standard
# deviation sqrt(0.25 / 20000) ~ 0.0035, so 0.02 is more than 5 standard deviations.
BALANCE_TOLERANCE = 0.02


def seeded(seed=0):
    return torch.Generator().manual_seed(seed)


# disk


def test_disk_labels_follow_inside_rule():
    points, labels = disk(2000, seeded(), dtype=torch.float64)

    # Inside means strictly closer than r = 1/sqrt(2 pi) to (0.5, 0.5), the radius
    # of the disk whose area pi r^2 is half the unit square.
    radius = 1 / math.sqrt(2 * math.pi)
    distance = torch.hypot(points[:, 0] - 0.5, points[:, 1] - 0.5)
    expected = (distance < radius).long()
    assert torch.equal(labels, expected)


def test_disk_shapes_and_dtypes():
    points, labels = disk(7, seeded())

    assert points.shape == (7, 2)
    assert labels.shape == (7,)
    assert points.dtype == torch.float32
    assert labels.dtype == torch.int64


def test_disk_honours_dtype():
    points, _ = disk(7, seeded(), dtype=torch.float64)
    assert points.dtype == torch.float64


def test_disk_points_in_unit_square():
    points, _ = disk(5000, seeded())

    assert points.min().item() >= 0.0
    assert points.max().item() <= 1.0


def test_disk_same_seed_same_data():
    first_points, first_labels = disk(100, seeded(3))
    second_points, second_labels = disk(100, seeded(3))

    assert torch.equal(first_points, second_points)
    assert torch.equal(first_labels, second_labels)


def test_disk_different_seed_different_data():
    first_points, _ = disk(100, seeded(3))
    second_points, _ = disk(100, seeded(4))

    assert not torch.equal(first_points, second_points)


def test_disk_classes_balanced():
    _, labels = disk(20000, seeded())
    share_inside = labels.double().mean().item()

    assert abs(share_inside - 0.5) < BALANCE_TOLERANCE


# standardize

# Three samples of two features. Feature 0 has mean 3 and sample std 2; feature 1
# has mean 30 and sample std sqrt(((-20)^2 + (-10)^2 + 30^2) / 2) = sqrt(700).
TRAIN = [[1.0, 10.0], [3.0, 20.0], [5.0, 60.0]]
TEST = [[7.0, 30.0], [3.0, 100.0]]
ROOT_700 = math.sqrt(700)
TRAIN_STANDARDIZED = [
    [-1.0, -20 / ROOT_700],
    [0.0, -10 / ROOT_700],
    [1.0, 30 / ROOT_700],
]
# (7 - 3) / 2 = 2 and (100 - 30) / sqrt(700) = sqrt(7).
TEST_STANDARDIZED = [[2.0, 0.0], [0.0, math.sqrt(7)]]


def as_tensor(rows):
    return torch.tensor(rows, dtype=torch.float64)


def test_standardize_matches_hand_computed():
    train, test = standardize(as_tensor(TRAIN), as_tensor(TEST))

    assert (train - as_tensor(TRAIN_STANDARDIZED)).abs().max() < STATISTICS_ATOL
    assert (test - as_tensor(TEST_STANDARDIZED)).abs().max() < STATISTICS_ATOL


def test_standardize_train_mean_zero_std_one():
    generator = seeded()
    raw = torch.randn(50, 3, generator=generator, dtype=torch.float64)
    raw = raw * torch.tensor([1.0, 10.0, 0.1], dtype=torch.float64) + 5.0
    (train,) = standardize(raw)

    assert train.mean(0).abs().max() < STATISTICS_ATOL
    assert (train.std(0) - 1).abs().max() < STATISTICS_ATOL


def test_standardize_returns_one_set_per_input():
    sets = standardize(as_tensor(TRAIN), as_tensor(TEST), as_tensor(TEST))
    assert len(sets) == 3


def test_standardize_per_replica_statistics():
    # Replica 1 is replica 0 scaled by 2 and shifted by 1, so with statistics per
    # replica both standardize to the same values.
    train = torch.stack([as_tensor(TRAIN), 2 * as_tensor(TRAIN) + 1])
    test = torch.stack([as_tensor(TEST), 2 * as_tensor(TEST) + 1])
    train_standardized, test_standardized = standardize(train, test)

    for replica in range(2):
        train_error = train_standardized[replica] - as_tensor(TRAIN_STANDARDIZED)
        test_error = test_standardized[replica] - as_tensor(TEST_STANDARDIZED)
        assert train_error.abs().max() < STATISTICS_ATOL, f"replica {replica}"
        assert test_error.abs().max() < STATISTICS_ATOL, f"replica {replica}"


# one_hot


@pytest.mark.parametrize("shape, classes", [((5,), 3), ((1,), 1), ((2, 4), 5)])
def test_one_hot_matches_torch(shape, classes):
    labels = torch.randint(classes, shape, generator=seeded())
    encoded = one_hot(labels, classes)

    expected = F.one_hot(labels, classes)
    assert encoded.shape == expected.shape
    assert torch.equal(encoded, expected.to(encoded.dtype))


def test_one_hot_default_dtype_is_float32():
    assert one_hot(torch.tensor([0, 1]), 2).dtype == torch.float32


def test_one_hot_honours_dtype():
    assert one_hot(torch.tensor([0, 1]), 2, dtype=torch.float64).dtype == torch.float64
