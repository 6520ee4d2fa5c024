"""Gaussian basis functions evaluated in JAX, for the HF orbitals used in HF pretraining.

Values agree with PySCF's ``eval_gto('GTOval_sph')`` for s and p shells (p in x, y, z order).
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
from flax import struct
from pyscf import gto


class GaussianBasis(struct.PyTreeNode):
    """Contracted Gaussian s/p functions of a molecule.

    Attributes:
      atom: atom index of each AO, int [n_ao].
      component: -1 for s, 0/1/2 for the x/y/z of a p shell, int [n_ao].
      exponents: primitive exponents, 1/bohr^2, [n_ao, n_prim] (padded with 1, weight 0).
      weights: normalized contraction weights incl. the angular factor, [n_ao, n_prim].
    """

    atom: jnp.ndarray
    component: jnp.ndarray
    exponents: jnp.ndarray
    weights: jnp.ndarray


def gaussian_basis(mol: gto.Mole, dtype=jnp.float32) -> GaussianBasis:
    rows = []
    for ib in range(mol.nbas):
        l = mol.bas_angular(ib)
        if l > 1:
            raise ValueError("JAX basis evaluation supports s and p shells only")
        exponents = mol.bas_exp(ib)
        coefficients = mol._libcint_ctr_coeff(ib) * np.sqrt((2 * l + 1) / (4 * np.pi))
        for contraction in range(coefficients.shape[1]):
            for component in ([-1] if l == 0 else [0, 1, 2]):
                rows.append((mol.bas_atom(ib), component, exponents, coefficients[:, contraction]))
    n_prim = max(len(r[2]) for r in rows)
    pad = lambda v, fill: np.concatenate([v, np.full(n_prim - len(v), fill)])  # noqa: E731
    return GaussianBasis(
        atom=jnp.asarray([r[0] for r in rows], jnp.int32),
        component=jnp.asarray([r[1] for r in rows], jnp.int32),
        exponents=jnp.asarray(np.stack([pad(r[2], 1.0) for r in rows]), dtype),
        weights=jnp.asarray(np.stack([pad(r[3], 0.0) for r in rows]), dtype),
    )


def evaluate_aos(basis: GaussianBasis, coords: jnp.ndarray, points: jnp.ndarray) -> jnp.ndarray:
    """AO values [n_points, n_ao] at points [n_points, 3] (bohr); coords [n_atoms, 3]."""
    offset = points[:, None, :] - coords[basis.atom][None]  # [P, n_ao, 3]
    r2 = jnp.sum(offset**2, axis=-1)
    radial = jnp.sum(basis.weights * jnp.exp(-basis.exponents * r2[..., None]), axis=-1)
    padded = jnp.concatenate([jnp.ones_like(offset[..., :1]), offset], axis=-1)
    angular = jnp.take_along_axis(padded, (basis.component + 1)[None, :, None], axis=-1)[..., 0]
    return radial * angular
