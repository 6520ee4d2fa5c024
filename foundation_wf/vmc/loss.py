"""The VMC energy loss: reported energy = unclipped mean of E_L; gradient by a custom JVP.

    grad E = 2 E[(E_L - E) grad log|psi|]

with E_L clipped around its median (``clip_scale`` mean absolute deviations) for the gradient
only. Walkers whose local energy is not finite (e.g. an electron on a node or nucleus in float32)
are left out of the energy and the gradient and counted in ``aux.n_nonfinite``. No third derivatives are taken: the JVP needs only d log|psi|. The walker-level
log|psi| is registered with KFAC as the model output of a normal predictive distribution,
so KFAC's curvature is the Fisher of log|psi|.
"""

from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp
import kfac_jax
from flax import struct

from foundation_wf.ansatz.model import Ansatz
from foundation_wf.vmc.hamiltonian import make_local_energy


class EnergyAux(struct.PyTreeNode):
    """local_energies [B] (hartree, unclipped, NaN where not finite), their variance
    (hartree^2) over the finite ones, and how many walkers had a non-finite value."""

    local_energies: jnp.ndarray
    variance: jnp.ndarray
    n_nonfinite: jnp.ndarray


def clip_around_median(values: jnp.ndarray, scale: float) -> jnp.ndarray:
    """Clip to median +- scale x (mean absolute deviation from the median); NaNs ignored."""
    median = jnp.nanmedian(values)
    spread = jnp.nanmean(jnp.abs(values - median))
    return jnp.clip(values, median - scale * spread, median + scale * spread)


def make_batch_local_energy(ansatz: Ansatz, laplacian: str = "forward",
                            chunk_size: int = 0) -> Callable:
    """E_L for walkers [B, N, 3]: (params, geometry, electrons) -> [B]; GNN runs once."""
    local_energy = make_local_energy(lambda *args: ansatz.log_psi(*args)[1], laplacian)

    def batch_local_energy(params, geometry, electrons):
        orbitals = ansatz.orbitals(params, geometry)
        per_walker = lambda x: local_energy(params, orbitals, geometry, x)  # noqa: E731
        if chunk_size and chunk_size < electrons.shape[0]:
            return jax.lax.map(per_walker, electrons, batch_size=chunk_size)
        return jax.vmap(per_walker)(electrons)

    return batch_local_energy


def make_energy_loss(ansatz: Ansatz, clip_scale: float = 5.0, laplacian: str = "forward",
                     chunk_size: int = 0) -> Callable:
    """loss(params, batch) -> (energy, EnergyAux); batch = {"electrons", "geometry"}."""
    batch_local_energy = make_batch_local_energy(ansatz, laplacian, chunk_size)

    @jax.custom_jvp
    def energy(params, batch):
        local = batch_local_energy(params, batch["geometry"], batch["electrons"])
        finite = jnp.isfinite(local)
        local = jnp.where(finite, local, jnp.nan)
        aux = EnergyAux(local, jnp.nanvar(local), jnp.sum(~finite).astype(local.dtype))
        return jnp.nanmean(local), aux

    @energy.defjvp
    def energy_jvp(primals, tangents):
        params, batch = primals
        loss, aux = energy(params, batch)
        # Walkers with a non-finite local energy take no part in the gradient.
        finite = jnp.isfinite(aux.local_energies)
        clipped = clip_around_median(aux.local_energies, clip_scale)
        # Zeros (not NaN) where masked: the transposed product must not see NaN either.
        centred = jnp.where(finite, clipped - jnp.nanmean(clipped), 0.0)

        def log_abs(p):
            return ansatz.batch_log_psi(p, batch["geometry"], batch["electrons"])[1]

        log_abs_value, log_abs_tangent = jax.jvp(log_abs, (params,), (tangents[0],))
        kfac_jax.register_normal_predictive_distribution(log_abs_value[:, None])
        loss_tangent = 2.0 * jnp.sum(centred * log_abs_tangent) / jnp.maximum(jnp.sum(finite), 1)
        return (loss, aux), (loss_tangent, jax.tree_util.tree_map(jnp.zeros_like, aux))

    return energy
