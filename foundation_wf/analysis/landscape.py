"""Loss landscape of a trained wavefunction along two random, per-block normalised directions.

f(a, b) = E(theta* + a d1 + b d2), where each block (parameter leaf: a weight matrix, a bias, an
embedding table) of d1 and d2 is Gaussian noise rescaled to the Frobenius norm of the trained
block, so that a = 1 is a perturbation as large as the block itself (filter normalisation of
Li et al., 2018, applied per weight matrix).

Each grid point gets its own set of MCMC samples x, drawn either from |psi_theta|^2 of the
point's own parameters (the weights below are then all equal and E is the plain mean local
energy: a variational estimate at any distance) or from |psi_theta*|^2, in which case the
energy of the perturbed parameters is estimated by self-normalised importance sampling,

    E(theta) = sum_w w(x) E_L(theta; x),   w ∝ |psi_theta(x) / psi_theta*(x)|^2,

which is unbiased as the number of samples grows (unlike plain E_L(theta) averaged over
samples of theta*, which is not a variational energy). The effective sample size
1 / sum w^2 is returned with it: where it is small, the estimate is unreliable (with few
effective samples it can even fall below the exact energy). So is the standard error
sqrt(sum w^2 (E_L - E)^2) (delta method; sigma/sqrt(n) for equal weights), which treats the
walkers of one point as independent (they are separate chains). At (0, 0) all
weights are equal and f is the plain mean local energy of the trained parameters.
"""

from __future__ import annotations

import dataclasses
from typing import Callable, Iterable

import jax
import jax.numpy as jnp
import numpy as np

from foundation_wf.ansatz.model import Ansatz
from foundation_wf.vmc.loss import make_batch_local_energy


def normalized_direction(key: jax.Array, params):
    """Random direction with ||d_block||_F = ||theta_block||_F for every parameter leaf
    (zero for a block whose trained values are all zero)."""
    leaves, tree = jax.tree_util.tree_flatten(params)
    keys = jax.random.split(key, len(leaves))
    direction = []
    for leaf, k in zip(leaves, keys):
        noise = jax.random.normal(k, leaf.shape, leaf.dtype)
        scale = jnp.linalg.norm(leaf.ravel()) / jnp.maximum(jnp.linalg.norm(noise.ravel()),
                                                            jnp.finfo(leaf.dtype).tiny)
        direction.append(noise * scale)
    return jax.tree_util.tree_unflatten(tree, direction)


def perturbed(params, d1, d2, a, b):
    """theta* + a d1 + b d2 (a, b scalars; d1, d2 trees shaped like params)."""
    return jax.tree_util.tree_map(lambda p, u, v: p + a * u + b * v, params, d1, d2)


def make_point_energy(ansatz: Ansatz, laplacian: str = "forward",
                      chunk_size: int | None = 0) -> Callable:
    """Jitted (params, d1, d2, a, b, geometry, electrons [B,N,3], log_abs0 [B]) ->
    (energy (Ha), effective sample size, standard error (Ha)) of theta = params + a d1 + b d2
    on samples drawn
    from a wavefunction whose log|psi| at them is log_abs0 (weights |psi_theta|^2/|psi|^2).
    Walkers with a non-finite local energy get zero weight."""
    local_energy = make_batch_local_energy(ansatz, laplacian, chunk_size)

    @jax.jit
    def point_energy(params, d1, d2, a, b, geometry, electrons, log_abs0):
        theta = perturbed(params, d1, d2, a, b)
        _, log_abs = ansatz.batch_log_psi(theta, geometry, electrons)
        energies = local_energy(theta, geometry, electrons)
        finite = jnp.isfinite(energies) & jnp.isfinite(log_abs)
        log_weights = jnp.where(finite, 2.0 * (log_abs - log_abs0), -jnp.inf)
        weights = jax.nn.softmax(log_weights)
        energies = jnp.where(finite, energies, 0.0)
        energy = jnp.sum(weights * energies)
        error = jnp.sqrt(jnp.sum(weights**2 * (energies - energy) ** 2))
        return energy, 1.0 / jnp.sum(weights**2), error

    return point_energy


@dataclasses.dataclass(frozen=True)
class LandscapeGrid:
    """f on a grid: energy[i, j] = E(theta* + a[i] d1 + b[j] d2) (Ha), error[i, j] its
    standard error (Ha), ess[i, j] the effective sample size of its estimate out of
    n_samples."""

    a: np.ndarray
    b: np.ndarray
    energy: np.ndarray
    error: np.ndarray
    ess: np.ndarray
    n_samples: int

    @property
    def centre(self) -> float:
        return float(self.energy[len(self.a) // 2, len(self.b) // 2])

    @property
    def argmin(self) -> tuple[float, float]:
        """(a, b) of the lowest grid energy."""
        i, j = self._lowest
        return float(self.a[i]), float(self.b[j])

    @property
    def _lowest(self) -> tuple[int, int]:
        return tuple(int(k) for k in np.unravel_index(np.nanargmin(self.energy),
                                                       self.energy.shape))

    @property
    def min_error(self) -> float:
        """Standard error of the lowest grid energy (Ha)."""
        return float(self.error[self._lowest])

    @property
    def roughness(self) -> float:
        """RMS of the discrete Laplacian of the energy over the interior points (Ha): how
        much point-to-point noise roughens the surface (smooth surfaces give small values)."""
        e = self.energy
        lap = e[2:, 1:-1] + e[:-2, 1:-1] + e[1:-1, 2:] + e[1:-1, :-2] - 4 * e[1:-1, 1:-1]
        return float(np.sqrt(np.nanmean(lap**2)))


def landscape_grid(point_energy: Callable, params, d1, d2, coefficients: np.ndarray,
                   geometry, samples: Callable[[int], tuple[jnp.ndarray, jnp.ndarray]],
                   points: Iterable[tuple[int, int]] | None = None) -> LandscapeGrid:
    """Evaluate f on coefficients x coefficients. ``samples(point_index)`` returns that
    point's (electrons [B, N, 3], log|psi| [B] of the wavefunction they were sampled from);
    ``points`` (default: all (i, j) in raster order) may wrap the iteration, e.g. in a
    progress bar."""
    n = len(coefficients)
    energy = np.full((n, n), np.nan)
    error = np.full((n, n), np.nan)
    ess = np.full((n, n), np.nan)
    n_samples = 0
    grid_points = points if points is not None else ((i, j) for i in range(n) for j in range(n))
    for i, j in grid_points:
        electrons, log_abs0 = samples(i * n + j)
        n_samples = electrons.shape[0]
        dtype = electrons.dtype
        e, s, err = point_energy(params, d1, d2, jnp.asarray(coefficients[i], dtype),
                                 jnp.asarray(coefficients[j], dtype), geometry, electrons,
                                 log_abs0)
        energy[i, j], ess[i, j], error[i, j] = float(e), float(s), float(err)
    return LandscapeGrid(np.asarray(coefficients), np.asarray(coefficients), energy, error,
                         ess, n_samples)
