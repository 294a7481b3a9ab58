"""The few statistics a batch aggregate needs, in plain Python (no scipy here).

* ``t_cdf`` / ``t_two_sided_p``: Student's t distribution through the regularized
  incomplete beta function, ``P(|T| > |t|) = I_x(df/2, 1/2)`` with ``x = df / (df + t²)``;
  ``I_x`` is evaluated by its continued fraction (modified Lentz, as ``betacf`` in
  Numerical Recipes, 2nd ed., §6.4). Works for non-integer ``df`` (Welch).
* ``t_critical``: the two-sided 95 % critical value, from a table for df 1…30 (three
  decimals, the usual printed table) and the normal 1.960 beyond.
* ``mean_sd_ci``: mean, sample standard deviation (n - 1) and the t-interval
  ``mean ± t_critical(n - 1) · sd / √n``.
* ``welch``: Welch's two-sample t-test with Welch-Satterthwaite degrees of freedom.
* ``superiority``: the probability of superiority P(A > B) + ½ P(A = B) over all pairs.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

# Two-sided 95 % (upper 0.975 quantile) critical values of Student's t, df = 1 … 30.
T_CRITICAL_95: tuple[float, ...] = (
    12.706,
    4.303,
    3.182,
    2.776,
    2.571,
    2.447,
    2.365,
    2.306,
    2.262,
    2.228,
    2.201,
    2.179,
    2.160,
    2.145,
    2.131,
    2.120,
    2.110,
    2.101,
    2.093,
    2.086,
    2.080,
    2.074,
    2.069,
    2.064,
    2.060,
    2.056,
    2.052,
    2.048,
    2.045,
    2.042,
)
Z_95 = 1.960  # the normal limit, used for df > 30

_MAX_ITERATIONS = 300
_EPS = 3e-16
_TINY = 1e-300  # keeps the Lentz recursion away from division by zero


def t_critical(df: int) -> float:
    """The 0.975 quantile of Student's t with ``df`` degrees of freedom (df ≥ 1)."""
    if df < 1:
        raise ValueError(f"degrees of freedom must be at least 1, got {df}")
    return T_CRITICAL_95[df - 1] if df <= len(T_CRITICAL_95) else Z_95


def betacf(a: float, b: float, x: float) -> float:
    """The continued fraction of the incomplete beta function (Numerical Recipes ``betacf``)."""
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c = 1.0
    d = 1.0 - qab * x / qap
    d = _TINY if abs(d) < _TINY else d
    d = 1.0 / d
    h = d
    for m in range(1, _MAX_ITERATIONS + 1):
        m2 = 2 * m
        # Even step.
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1.0 + aa * d
        d = _TINY if abs(d) < _TINY else d
        c = 1.0 + aa / c
        c = _TINY if abs(c) < _TINY else c
        d = 1.0 / d
        h *= d * c
        # Odd step.
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1.0 + aa * d
        d = _TINY if abs(d) < _TINY else d
        c = 1.0 + aa / c
        c = _TINY if abs(c) < _TINY else c
        d = 1.0 / d
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < _EPS:
            return h
    raise ArithmeticError(f"betacf did not converge for a={a}, b={b}, x={x}")


def betai(a: float, b: float, x: float) -> float:
    """The regularized incomplete beta function I_x(a, b), for a, b > 0 and 0 ≤ x ≤ 1."""
    if not 0.0 <= x <= 1.0:
        raise ValueError(f"x must be in [0, 1], got {x}")
    if x == 0.0 or x == 1.0:
        return x
    front = math.exp(
        math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    )
    # The fraction converges fast only on this side of the mean; use the symmetry otherwise.
    if x < (a + 1.0) / (a + b + 2.0):
        return front * betacf(a, b, x) / a
    return 1.0 - front * betacf(b, a, 1.0 - x) / b


def t_two_sided_p(t: float, df: float) -> float:
    """P(|T| ≥ |t|) for Student's t with ``df`` > 0 degrees of freedom."""
    if df <= 0:
        raise ValueError(f"degrees of freedom must be positive, got {df}")
    if math.isinf(t):
        return 0.0
    return min(1.0, max(0.0, betai(df / 2.0, 0.5, df / (df + t * t))))


def t_cdf(t: float, df: float) -> float:
    """P(T ≤ t) for Student's t with ``df`` > 0 degrees of freedom."""
    tail = t_two_sided_p(t, df) / 2.0
    return 1.0 - tail if t > 0 else tail


@dataclass(frozen=True, slots=True)
class Summary:
    n: int
    mean: float | None
    sd: float | None  # sample standard deviation; None below two values
    ci_low: float | None
    ci_high: float | None
    t_critical: float | None


def mean_sd_ci(values: Sequence[float], bounds: tuple[float, float] | None = None) -> Summary:
    """Mean, sample sd and 95 % t-interval of ``values``; the interval is clipped to
    ``bounds`` when given (a mean cannot leave the scale it is measured on)."""
    n = len(values)
    if n == 0:
        return Summary(0, None, None, None, None, None)
    mean = math.fsum(values) / n
    if n == 1:
        return Summary(1, mean, None, None, None, None)
    sd = math.sqrt(math.fsum((v - mean) ** 2 for v in values) / (n - 1))
    crit = t_critical(n - 1)
    half = crit * sd / math.sqrt(n)
    low, high = mean - half, mean + half
    if bounds is not None:
        low, high = max(bounds[0], low), min(bounds[1], high)
    return Summary(n, mean, sd, low, high, crit)


@dataclass(frozen=True, slots=True)
class Welch:
    t: float | None  # None when neither sample varies (the statistic is undefined)
    df: float | None
    p_value: float


def welch(a: Sequence[float], b: Sequence[float]) -> Welch:
    """Welch's two-sample t-test of mean(a) vs mean(b), two-sided; needs ≥ 2 values each.

    When neither sample varies at all the statistic is undefined; then p is 1 if the two
    means are equal and 0 if they differ (every run of one beat every run of the other).
    """
    na, nb = len(a), len(b)
    if na < 2 or nb < 2:
        raise ValueError(f"Welch's test needs at least 2 values per sample, got {na} and {nb}")
    sa, sb = mean_sd_ci(a), mean_sd_ci(b)
    assert sa.mean is not None and sb.mean is not None and sa.sd is not None and sb.sd is not None
    va, vb = sa.sd**2 / na, sb.sd**2 / nb
    diff = sa.mean - sb.mean
    if va + vb == 0.0:
        return Welch(None, None, 1.0 if diff == 0.0 else 0.0)
    t = diff / math.sqrt(va + vb)
    df = (va + vb) ** 2 / (va**2 / (na - 1) + vb**2 / (nb - 1))
    return Welch(t, df, t_two_sided_p(t, df))


def superiority(a: Sequence[float], b: Sequence[float]) -> float | None:
    """P(A > B) + ½ P(A = B) over all pairs of one value from each; None if one is empty.

    The common-language effect size (the Mann-Whitney U over na·nb): 0.5 means no
    difference, 1 that every value of ``a`` beats every value of ``b``.
    """
    if not a or not b:
        return None
    wins = sum(1.0 if x > y else 0.5 if x == y else 0.0 for x in a for y in b)
    return wins / (len(a) * len(b))
