"""Local energy E_L = -1/2 (lap log|psi| + |grad log|psi||^2) + V, in hartree.

Two Laplacians: folx's forward Laplacian (default, one pass) and a jvp-over-grad loop over
the 3N coordinates (reference implementation); they agree to float precision.
"""

from __future__ import annotations

from typing import Callable

import folx
import jax
import jax.numpy as jnp

LAPLACIANS = ("forward", "loop")


def potential_energy(electrons: jnp.ndarray, coords: jnp.ndarray,
                     charges: jnp.ndarray) -> jnp.ndarray:
    """Coulomb energy (hartree) of electrons [N, 3] and nuclei coords [A, 3], charges [A]."""
    n, n_atoms = electrons.shape[0], coords.shape[0]
    eye_e = jnp.eye(n, dtype=electrons.dtype)[..., None]
    r_ee = jnp.linalg.norm(electrons[:, None] - electrons[None] + eye_e, axis=-1)
    v_ee = jnp.sum(jnp.triu(1.0 / r_ee, k=1))
    r_en = jnp.linalg.norm(electrons[:, None] - coords[None], axis=-1)
    v_en = -jnp.sum(charges / r_en)
    eye_n = jnp.eye(n_atoms, dtype=coords.dtype)[..., None]
    r_nn = jnp.linalg.norm(coords[:, None] - coords[None] + eye_n, axis=-1)
    v_nn = jnp.sum(jnp.triu(charges[:, None] * charges[None] / r_nn, k=1))
    return v_ee + v_en + v_nn


def kinetic_energy(log_abs: Callable[[jnp.ndarray], jnp.ndarray], x: jnp.ndarray,
                   laplacian: str = "forward") -> jnp.ndarray:
    """-1/2 (lap + |grad|^2) of log|psi| at flat coordinates x [3N] (hartree)."""
    if laplacian == "forward":
        result = folx.forward_laplacian(log_abs, sparsity_threshold=0)(x)
        return -0.5 * (result.laplacian + jnp.sum(result.jacobian.dense_array ** 2))
    if laplacian == "loop":
        grad = jax.grad(log_abs)
        eye = jnp.eye(x.shape[0], dtype=x.dtype)

        def add_diagonal(i, total):
            return total + jax.jvp(grad, (x,), (eye[i],))[1][i]

        lap = jax.lax.fori_loop(0, x.shape[0], add_diagonal, jnp.zeros((), x.dtype))
        return -0.5 * (lap + jnp.sum(grad(x) ** 2))
    raise ValueError(f"laplacian must be one of {LAPLACIANS}, got {laplacian!r}")


def make_local_energy(log_abs_fn: Callable, laplacian: str = "forward") -> Callable:
    """E_L(params, orbitals, geometry, electrons [N, 3]) for a walker-level log|psi|.

    ``log_abs_fn(params, orbitals, geometry, electrons) -> log|psi|`` (scalar).
    """
    if laplacian not in LAPLACIANS:
        raise ValueError(f"laplacian must be one of {LAPLACIANS}, got {laplacian!r}")

    def local_energy(params, orbitals, geometry, electrons):
        shape = electrons.shape
        flat_log_abs = lambda x: log_abs_fn(params, orbitals, geometry, x.reshape(shape))  # noqa: E731
        kinetic = kinetic_energy(flat_log_abs, electrons.reshape(-1), laplacian)
        return kinetic + potential_energy(electrons, geometry.coords, geometry.charges)

    return local_energy
