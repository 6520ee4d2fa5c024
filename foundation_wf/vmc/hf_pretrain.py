"""Supervised HF pretraining: fit the network's Slater matrices to the HF orbitals.

Targets are the localized HF orbitals (the same ones the descriptors come from, in the same
order), evaluated at samples drawn from |psi_HF|^2. The target matrix is block diagonal:
up orbitals for up electrons, down orbitals for down electrons, zero across spins.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import struct

from foundation_wf.ansatz.model import Ansatz
from foundation_wf.hf.basis_jax import GaussianBasis, evaluate_aos, gaussian_basis
from foundation_wf.hf.descriptors import GeometryHF
from foundation_wf.hf.scf import pyscf_molecule
from foundation_wf.hf.settings import DescriptorSettings
from foundation_wf.systems import Molecule


class HFTarget(struct.PyTreeNode):
    """HF orbitals of one geometry: basis and localized coefficients [n_ao, n_up|n_down]."""

    basis: GaussianBasis
    coeff_up: jnp.ndarray
    coeff_down: jnp.ndarray


def hf_target(molecule: Molecule, hf: GeometryHF, settings: DescriptorSettings,
              dtype=jnp.float32) -> HFTarget:
    return HFTarget(
        basis=gaussian_basis(pyscf_molecule(molecule, settings.basis), dtype),
        coeff_up=jnp.asarray(hf.orbitals.coeff_up, dtype),
        coeff_down=jnp.asarray(hf.orbitals.coeff_down, dtype),
    )


def hf_orbital_matrix(target: HFTarget, coords: jnp.ndarray, electrons: jnp.ndarray):
    """Block-diagonal HF Slater matrix [N, N] for one walker (electrons [N, 3], up first)."""
    n_up = target.coeff_up.shape[1]
    aos = evaluate_aos(target.basis, coords, electrons)  # [N, n_ao]
    up = aos[:n_up] @ target.coeff_up
    down = aos[n_up:] @ target.coeff_down
    top = jnp.concatenate([up, jnp.zeros((n_up, down.shape[1]), up.dtype)], axis=1)
    bottom = jnp.concatenate([jnp.zeros((down.shape[0], n_up), up.dtype), down], axis=1)
    return jnp.concatenate([top, bottom], axis=0)


def hf_log_abs(target: HFTarget, coords: jnp.ndarray, electrons: jnp.ndarray):
    """log|psi_HF| for walkers [B, N, 3] (product of the two spin determinants)."""
    n_up = target.coeff_up.shape[1]

    def one(x):
        aos = evaluate_aos(target.basis, coords, x)
        log_up = jnp.linalg.slogdet(aos[:n_up] @ target.coeff_up)[1]
        log_down = jnp.linalg.slogdet(aos[n_up:] @ target.coeff_down)[1]
        return log_up + log_down

    return jax.vmap(one)(electrons)


def make_pretrain_loss(ansatz: Ansatz):
    """loss(params, geometry, target, electrons [B, N, 3]): mean |Phi_net - Phi_HF|^2."""

    def loss(params, geometry, target, electrons):
        network = ansatz.batch_slater_matrices(params, geometry, electrons)  # [B, D, N, N]
        reference = jax.vmap(hf_orbital_matrix, (None, None, 0))(
            target, geometry.coords, electrons)
        return jnp.mean((network - reference[:, None]) ** 2)

    return loss
