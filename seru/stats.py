"""Significance tests for comparing systems (host side: numpy / scipy).

* :func:`ttest_one_tailed` -- "a is greater than b" over repeated runs
  (sridhar21, Sec. V-D: one-tailed t-test over 10 trials, p <= 0.05).
* :func:`fisher_r_to_z` -- comparing two independent correlations with
  Fisher's r-to-z transformation (han17, Sec. 4.3, p < .05).

These run on the host on a handful of numbers; they are not jit-able.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import special

__all__ = ["ttest_one_tailed", "fisher_r_to_z"]


def _t_sf(t, df):
    """Survival function of Student's t, P(T > t), via the regularised incomplete beta."""
    if np.isinf(t):
        return 0.0 if t > 0 else 1.0
    x = df / (df + t * t)
    tail = 0.5 * special.betainc(0.5 * df, 0.5, x)
    return float(tail if t > 0 else 1.0 - tail)


def _as_1d(name, a):
    a = np.asarray(a, dtype=float)
    if a.ndim != 1:
        raise ValueError(f"ttest_one_tailed: {name} must be 1-D (one value per run), got shape {a.shape}")
    if not np.all(np.isfinite(a)):
        bad = np.flatnonzero(~np.isfinite(a)).tolist()
        raise ValueError(f"ttest_one_tailed: {name} has non-finite values at positions {bad}")
    return a


def ttest_one_tailed(a, b, paired=False, equal_var=True):
    """One-tailed t-test of H1: mean(a) > mean(b) -> (statistic, p_value).

    The significance test of sridhar21 (Sec. V-D, one-tailed t-test over 10
    trials, significant when p <= 0.05), e.g. a = CCC of the proposed system
    over seeds, b = CCC of a baseline.

    Args:
      a, b: 1-D arrays of per-run scores.
      paired: True: paired test on the differences a_i - b_i (same seeds /
        folds; a and b must have equal length). False: two-sample test.
      equal_var: two-sample only: True = Student's pooled-variance test
        (scipy's default), False = Welch's test.

    Raises:
      ValueError: non-1-D or non-finite input, fewer than 2 runs, unequal
        lengths when paired, or zero variance with equal means (t = 0/0).
        Zero variance with different means gives t = +-inf and p = 0 or 1.
    """
    a = _as_1d("a", a)
    b = _as_1d("b", b)
    if paired:
        if a.shape != b.shape:
            raise ValueError(f"ttest_one_tailed: paired test needs equal lengths, got {a.size} and {b.size}")
        d = a - b
        n = d.size
        if n < 2:
            raise ValueError(f"ttest_one_tailed: need at least 2 paired runs, got {n}")
        num = d.mean()
        se = math.sqrt(d.var(ddof=1) / n)
        df = n - 1.0
    else:
        na, nb = a.size, b.size
        if na < 2 or nb < 2:
            raise ValueError(f"ttest_one_tailed: need at least 2 runs per group, got {na} and {nb}")
        va, vb = a.var(ddof=1), b.var(ddof=1)
        num = a.mean() - b.mean()
        if equal_var:
            df = na + nb - 2.0
            sp2 = ((na - 1) * va + (nb - 1) * vb) / df
            se = math.sqrt(sp2 * (1.0 / na + 1.0 / nb))
        else:
            qa, qb = va / na, vb / nb
            se = math.sqrt(qa + qb)
            df = (qa + qb) ** 2 / (qa**2 / (na - 1) + qb**2 / (nb - 1)) if se > 0 else 1.0
    if se == 0.0:
        if num == 0.0:
            raise ValueError("ttest_one_tailed: zero variance and equal means: the t statistic is 0/0")
        t = math.copysign(math.inf, num)
    else:
        t = num / se
    return float(t), _t_sf(t, df)


def fisher_r_to_z(r1, n1, r2, n2, alternative="two-sided"):
    """Compare two independent correlations with Fisher's r-to-z -> (z, p_value).

    The significance test of han17 (Sec. 4.3; p < .05): with z_i = atanh(r_i),
    ``z = (z_1 - z_2) / sqrt(1 / (n_1 - 3) + 1 / (n_2 - 3))`` is standard
    normal under H0: rho_1 = rho_2.

    Args:
      r1, r2: correlations in [-1, 1] (Pearson's r; han17 applies it to CCCs).
      n1, n2: sample sizes (> 3).
      alternative: "two-sided" (default), "greater" (H1: rho_1 > rho_2) or "less".

    Raises:
      ValueError: |r| > 1, n <= 3, unknown alternative, or r1 = r2 = +-1
        (z = inf - inf). |r| = 1 otherwise gives z = +-inf.
    """
    for name, r in (("r1", r1), ("r2", r2)):
        if not (np.isfinite(r) and -1.0 <= r <= 1.0):
            raise ValueError(f"fisher_r_to_z: {name} must be a correlation in [-1, 1], got {r}")
    for name, n in (("n1", n1), ("n2", n2)):
        if not n > 3:
            raise ValueError(f"fisher_r_to_z: {name} must be > 3 (the variance is 1 / (n - 3)), got {n}")
    if alternative not in ("two-sided", "greater", "less"):
        raise ValueError(f"fisher_r_to_z: alternative must be 'two-sided', 'greater' or 'less', got {alternative!r}")
    if abs(r1) == 1.0 and r1 == r2:
        raise ValueError("fisher_r_to_z: r1 = r2 = +-1: z is inf - inf")
    with np.errstate(divide="ignore"):
        z1, z2 = np.arctanh(float(r1)), np.arctanh(float(r2))
    z = float((z1 - z2) / math.sqrt(1.0 / (n1 - 3.0) + 1.0 / (n2 - 3.0)))
    upper = 0.5 * math.erfc(z / math.sqrt(2.0))  # P(Z > z)
    if alternative == "greater":
        p = upper
    elif alternative == "less":
        p = 0.5 * math.erfc(-z / math.sqrt(2.0))  # P(Z < z)
    else:
        p = math.erfc(abs(z) / math.sqrt(2.0))
    return z, float(p)
