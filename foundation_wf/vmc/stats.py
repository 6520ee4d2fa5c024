"""Statistics of correlated Monte Carlo series: mean and reblocked standard error."""

from __future__ import annotations

import dataclasses
import math

import numpy as np


@dataclasses.dataclass(frozen=True)
class Stats:
    """An estimate from a correlated series (hartree for energies).

    Attributes:
      mean: sample mean.
      error: standard error from reblocking (autocorrelation-aware).
      variance: variance of the series elements.
      tau: integrated autocorrelation time estimate, in series steps ((error/naive)^2 / 2).
      n: series length.
    """

    mean: float
    error: float
    variance: float
    tau: float
    n: int

    def __str__(self) -> str:
        return f"{self.mean:.6f} +- {self.error:.6f}"


def reblock(series) -> Stats:
    """Flyvbjerg-Petersen blocking; the block size is chosen by Lee et al.'s criterion.

    The optimal level is the smallest block size B with B^3 > 2 n (sigma_B/sigma_0)^4
    (Lee, Needs & Towler, J. Chem. Phys. 135, 2011); below 4 points the naive error is used,
    below 2 the error is NaN (unknown).
    """
    data = np.asarray(series, dtype=np.float64).ravel()
    n = data.size
    if n == 0:
        return Stats(math.nan, math.nan, math.nan, math.nan, 0)
    mean, variance = float(data.mean()), float(data.var())
    if n < 2:  # one point has no error bar: unknown, never 0
        return Stats(mean, math.nan, math.nan, math.nan, n)
    if n < 4 or variance == 0.0:
        error = float(np.sqrt(variance / max(n - 1, 1)))
        return Stats(mean, error, variance, 0.5, n)
    naive = np.sqrt(variance / (n - 1))
    errors, sizes = [], []
    blocked, size = data, 1
    while blocked.size >= 4:
        errors.append(np.sqrt(blocked.var() / (blocked.size - 1)))
        sizes.append(size)
        even = blocked[: blocked.size // 2 * 2]
        blocked = 0.5 * (even[0::2] + even[1::2])
        size *= 2
    chosen = len(errors) - 1
    for level, b in enumerate(sizes):
        if b**3 > 2 * n * (errors[level] / naive) ** 4:
            chosen = level
            break
    error = float(errors[chosen])
    return Stats(mean, error, variance, float(0.5 * (error / naive) ** 2), n)


def widened_by_walker_spread(stats: Stats, walker_means) -> Stats:
    """``stats`` of a series of per-sweep walker means, with its error bar replaced by the
    standard error of the B walkers' own averages (``walker_means`` [B], NaN ignored) when
    that is larger.

    Reblocking sees correlations shorter than the series; a walker that stays in a rare
    region (an electron far out, at a high local energy) for as long as the series shifts
    every sweep's mean the same way and is invisible to it, but it makes that walker's
    average an outlier among the walkers'. Walkers are independent chains, so the spread of
    their averages gives an error bar that still holds when a walker's correlations are as
    long as the series.
    """
    averages = np.asarray(walker_means, dtype=np.float64).ravel()
    averages = averages[np.isfinite(averages)]
    if averages.size < 2 or not math.isfinite(stats.error):
        return stats
    walker_error = float(np.sqrt(averages.var() / (averages.size - 1)))
    if walker_error <= stats.error:
        return stats
    naive = math.sqrt(stats.variance / (stats.n - 1))  # a finite error implies n >= 2
    tau = 0.5 * (walker_error / naive) ** 2 if naive > 0 else stats.tau
    return dataclasses.replace(stats, error=walker_error, tau=float(tau))
