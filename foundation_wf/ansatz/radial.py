"""Distance helpers shared by the orbital GNN and the electron embedding."""

from __future__ import annotations

import jax.numpy as jnp

# Added to squared distances so that norms have finite gradients at zero (bohr^2).
NORM_EPSILON_SQ = 1e-12


def safe_norm(x: jnp.ndarray, axis: int = -1) -> jnp.ndarray:
    """sqrt(|x|^2 + 1e-12): the Euclidean norm (bohr) with finite gradients at x = 0."""
    return jnp.sqrt(jnp.sum(x * x, axis=axis) + NORM_EPSILON_SQ)


def radial_basis(distance: jnp.ndarray, n_rbf: int, cutoff: float) -> jnp.ndarray:
    """Gaussian radial basis of distances (bohr): [...] -> [..., n_rbf], centres 0..cutoff."""
    centres = jnp.linspace(0.0, cutoff, n_rbf, dtype=distance.dtype)
    width = cutoff / n_rbf
    return jnp.exp(-(((distance[..., None] - centres) / width) ** 2))


def distance_features(distance: jnp.ndarray, n_rbf: int, cutoff: float) -> jnp.ndarray:
    """[distance, radial basis]: [...] -> [..., n_rbf + 1]; the raw distance lets cusps form."""
    return jnp.concatenate([distance[..., None], radial_basis(distance, n_rbf, cutoff)], -1)


def smooth_cutoff(distance: jnp.ndarray, cutoff: float) -> jnp.ndarray:
    """(1 - (d/cutoff)^2)^3 for d < cutoff, else 0: a C2 envelope that makes sums over atoms
    local, so that their size stays bounded as molecules grow (size extrapolation)."""
    return jnp.clip(1.0 - (distance / cutoff) ** 2, 0.0, None) ** 3
