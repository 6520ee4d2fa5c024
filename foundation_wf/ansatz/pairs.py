"""Sums over an electron's neighbours of electron-pair features, and sums weighted by an
electron's own features.

Pair features enter the wavefunction only through two kinds of sums over the other
electrons j != i (what makes the forward Laplacian's pair jets cheap,
``vmc.hamiltonian.LocalParts``):

* ``row_sums``: sum_j P_ij, for features P [N, N, ...];
* ``contraction``: sum_j P_ij * v_j, for features P [N, N, ...] and per-electron values
  v [N, ...] (elementwise over the trailing axes).

The features are symmetric, P_ij = P_ji (functions of r_ij^2 and of whether i and j have the
same spin): the forward Laplacian's pair jets are taken once per unordered pair
(``unordered_pairs``, ``symmetric_from_pairs``). log|psi| itself evaluates every ordered
pair: there, filling [N, N, ...] from the unordered pairs costs more than it saves (H6, 256
walkers: 2.7 against 2.2 ms).
"""

from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np


def unordered_pairs(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices (i [P], j [P]) of the P = N(N-1)/2 pairs i < j of N electrons."""
    return np.triu_indices(n, k=1)


def symmetric_from_pairs(values: jnp.ndarray, n: int) -> jnp.ndarray:
    """Features [P, ...] of the ``unordered_pairs(n)`` -> [N, N, ...] with P_ij = P_ji and
    zeros on the diagonal."""
    # A product with a constant 0/1 matrix: faster than a gather on XLA's CPU backend.
    i, j = unordered_pairs(n)
    select = np.zeros((n, n, len(i)))
    select[i, j, np.arange(len(i))] = select[j, i, np.arange(len(i))] = 1.0
    return jnp.tensordot(jnp.asarray(select, values.dtype), values, axes=1)


def squared_distances(electrons: jnp.ndarray) -> jnp.ndarray:
    """|r_i - r_j|^2 [N, N] bohr^2 of electrons [N, 3] bohr: the pair features' variable."""
    differences = electrons[:, None] - electrons[None]
    return jnp.sum(differences * differences, axis=-1)


def off_diagonal(pair: jnp.ndarray) -> jnp.ndarray:
    """Pair features [N, N, ...] with the i = j entries set to zero."""
    n = pair.shape[0]
    diagonal = jnp.eye(n, dtype=bool).reshape((n, n) + (1,) * (pair.ndim - 2))
    return jnp.where(diagonal, 0.0, pair)


def row_sums(pair_tree):
    """sum_{j != i} P_ij of every leaf [N, N, ...] of a pytree -> [N, ...]."""
    return jax.tree_util.tree_map(lambda p: jnp.sum(off_diagonal(p), axis=1), pair_tree)


def contraction(pair_tree) -> Callable:
    """contract(select, v) = sum_{j != i} select(pair_tree)_ij * v_j: select picks one leaf
    [N, N, ...] of the pytree (indexing trailing axes only), v [N, ...] the same trailing
    shape."""
    # A broadcast product summed over j: XLA's CPU batched matmuls are slow at these sizes.
    return lambda select, v: jnp.sum(off_diagonal(select(pair_tree)) * v[None], axis=1)


def weighted_sums(electron_tree) -> Callable:
    """weigh(select, t) = sum over the last axis of select(electron_tree) * t: select picks
    one leaf [N, ...] of a pytree of one-electron features (row i a function of electron i
    only), t [N, ...] broadcasts against it (and depends on all electrons). The forward
    Laplacian differentiates the leaf in its own electron's 3 coordinates only
    (``vmc.hamiltonian.LocalParts``)."""
    return lambda select, t: jnp.sum(select(electron_tree) * t, axis=-1)
