"""Welch's interval and the Student t quantile against printed tables and hand computation."""

from __future__ import annotations

import math

import pytest

from minidl.runner.stats import student_t_quantile, welch_interval

# Two-sided 95% critical values t(0.975, df), from standard t tables.
T_TABLE_975 = {
    1: 12.7062047,
    2: 4.3026527,
    5: 2.5705818,
    10: 2.2281389,
    30: 2.0422725,
    120: 1.9799304,
}


@pytest.mark.parametrize(("degrees_of_freedom", "expected"), T_TABLE_975.items())
def test_t_quantile_matches_table(degrees_of_freedom: int, expected: float):
    assert student_t_quantile(0.975, degrees_of_freedom) == pytest.approx(
        expected, abs=1e-6
    )


def test_t_quantile_large_df_is_normal():
    assert student_t_quantile(0.975, 1e9) == pytest.approx(1.9599640, abs=1e-6)


def test_t_quantile_rejects_lower_half():
    with pytest.raises(ValueError):
        student_t_quantile(0.4, 10)


def test_welch_interval_hand_computed():
    a, b = [1.0, 2.0, 3.0], [2.0, 4.0, 6.0, 8.0]
    # var(a) = 1, var(b) = 20/3; standard error^2 = 1/3 + (20/3)/4 = 2
    # df = 2^2 / ((1/3)^2 / 2 + (5/3)^2 / 3) = 4 / (1/18 + 25/27) = 4.0754...
    interval = welch_interval(a, b)
    degrees_of_freedom = 4 / (1 / 18 + 25 / 27)
    half_width = student_t_quantile(0.975, degrees_of_freedom) * math.sqrt(2)

    assert interval.difference == pytest.approx(-3.0, abs=1e-12)
    assert interval.degrees_of_freedom == pytest.approx(degrees_of_freedom, rel=1e-12)
    assert interval.low == pytest.approx(-3.0 - half_width, abs=1e-12)
    assert interval.high == pytest.approx(-3.0 + half_width, abs=1e-12)
    # t(0.975, 4.0754) lies between the table's t(0.975, 4) = 2.776 and t(0.975, 5) = 2.571
    assert 2.571 * math.sqrt(2) < half_width < 2.777 * math.sqrt(2)
    assert interval.contains_zero()


def test_welch_interval_needs_two_values():
    with pytest.raises(ValueError):
        welch_interval([1.0], [1.0, 2.0])
