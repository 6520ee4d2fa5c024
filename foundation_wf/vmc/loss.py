"""The VMC energy loss: reported energy = unclipped mean of E_L; gradient by a custom JVP.

    grad E = 2 E[(E_L - E) grad log|psi|]

with E_L clipped around its median (``clip_scale`` mean absolute deviations) for the gradient
only. Walkers whose local energy is not finite (e.g. an electron on a node or nucleus in
float32) are left out of the energy and the gradient and counted in ``aux.n_nonfinite``. No
third derivatives are taken: the JVP needs only d log|psi|. The walker-level
log|psi| is registered with KFAC as the model output of a normal predictive distribution,
so KFAC's curvature is the Fisher of log|psi|.
"""

from __future__ import annotations

import functools
import math
from typing import Callable

import jax
import jax.numpy as jnp
import kfac_jax
from flax import struct

from foundation_wf.ansatz.model import Ansatz
from foundation_wf.vmc.hamiltonian import LocalParts, make_local_energy


class EnergyAux(struct.PyTreeNode):
    """Per geometry g of the batch: local_energies [G, B] (hartree, unclipped, NaN where not
    finite), their variance [G] (hartree^2) over the finite ones, and how many walkers had a
    non-finite value [G]."""

    local_energies: jnp.ndarray
    variance: jnp.ndarray
    n_nonfinite: jnp.ndarray


def clip_around_median(values: jnp.ndarray, scale: float) -> jnp.ndarray:
    """Clip to median +- scale x (mean absolute deviation from the median); NaNs ignored."""
    median = jnp.nanmedian(values)
    spread = jnp.nanmean(jnp.abs(values - median))
    return jnp.clip(values, median - scale * spread, median + scale * spread)


# Walkers per local-energy chunk times N^3 (the size of one walker's forward-Laplacian
# intermediates: N electrons' features, each with a 3N-coordinate Jacobian, over N partners)
# that kept the working set fastest on a 2-core CPU (256 walkers, small preset; ms for
# chunk 8 / 16 / 32 / 64 / all: LiH 21.5 / 21.1 / 18.5 / 18.1 / 23.8, H6 74 / 65 / 58 / 68 /
# 110, H8 126 / 117 / 118 / 148 / 279, H10 244 / 251 / 293 / 336 / 535).
CHUNK_WALKERS_TIMES_N_CUBED = 7000


def local_energy_chunk_for(n_electrons: int) -> int:
    """Default walkers per local-energy chunk: CHUNK_WALKERS_TIMES_N_CUBED / N^3 rounded to
    a power of two, at least 4 (2 electrons: 1024, 6: 32, 8: 16, 10: 8)."""
    target = CHUNK_WALKERS_TIMES_N_CUBED / n_electrons**3
    return max(4, 2 ** round(math.log2(target)))


def local_parts(ansatz: Ansatz, params: dict, orbitals, geometry) -> LocalParts:
    """log|psi| of one walker of ``geometry`` as LocalParts: the ansatz's electron and pair
    features, then the rest."""
    return LocalParts(
        electron=lambda x: ansatz.electron_features(params, orbitals, geometry, x),
        pair=lambda distance_sq, same_spin: ansatz.pair_features(params, distance_sq,
                                                                 same_spin),
        combine=lambda direct, sums, contract, weigh: ansatz.log_psi_from_features(
            params, orbitals, geometry, direct, sums, contract, weigh)[1],
        n_up=geometry.n_up)


def make_batch_local_energy(ansatz: Ansatz, laplacian: str = "forward",
                            chunk_size: int | None = 0) -> Callable:
    """E_L for walkers [B, N, 3]: (params, geometry, electrons) -> [B]; GNN runs once.

    ``chunk_size`` walkers at a time (0: all at once; None: ``local_energy_chunk_for(N)``).
    """
    local_energy = make_local_energy(functools.partial(local_parts, ansatz), laplacian)

    def batch_local_energy(params, geometry, electrons):
        orbitals = ansatz.orbitals(params, geometry)
        per_walker = lambda x: local_energy(params, orbitals, geometry, x)  # noqa: E731
        chunk = local_energy_chunk_for(electrons.shape[1]) if chunk_size is None else chunk_size
        if chunk and chunk < electrons.shape[0]:
            return jax.lax.map(per_walker, electrons, batch_size=chunk)
        return jax.vmap(per_walker)(electrons)

    return batch_local_energy


def centred_local_energies(local: jnp.ndarray, clip_scale: float) -> jnp.ndarray:
    """Local energies [G, B] (hartree, NaN where not finite) clipped around each geometry's
    median (``clip_around_median``) and centred on each geometry's mean: the energy
    gradient's weights. Zero (not NaN) where not finite, so those walkers take no part and
    a transposed product never sees NaN."""
    clipped = jax.vmap(clip_around_median, in_axes=(0, None))(local, clip_scale)
    return jnp.where(jnp.isfinite(local),
                     clipped - jnp.nanmean(clipped, axis=1, keepdims=True), 0.0)


def make_energy_loss(ansatz: Ansatz, clip_scale: float = 5.0) -> Callable:
    """loss(params, batch) -> (energy, EnergyAux) for G geometries of equal shapes, trained
    together: batch = {"electrons" [G, B, N, 3] bohr, "geometry" (GeometryInput with a
    leading axis G), "local_energies" [G, B] hartree}. The energy is the mean over the
    geometries of each one's mean local energy; each geometry's gradient term is centred
    on its own mean.

    The local energies come with the batch, computed at ``params`` just before the step
    (``make_batch_local_energy``), instead of inside the loss: KFAC evaluates the loss twice
    per step (value and gradient, then the curvature), and the Laplacian is the expensive
    part. The gradient only needs log|psi|.
    """

    @jax.custom_jvp
    def energy(params, batch):
        local = batch["local_energies"]
        finite = jnp.isfinite(local)
        local = jnp.where(finite, local, jnp.nan)
        aux = EnergyAux(local, jnp.nanvar(local, axis=1),
                        jnp.sum(~finite, axis=1).astype(local.dtype))
        return jnp.mean(jnp.nanmean(local, axis=1)), aux

    @energy.defjvp
    def energy_jvp(primals, tangents):
        params, batch = primals
        loss, aux = energy(params, batch)
        finite = jnp.isfinite(aux.local_energies)
        centred = centred_local_energies(aux.local_energies, clip_scale)
        n_geometries = centred.shape[0]
        weights = centred / (n_geometries * jnp.maximum(jnp.sum(finite, axis=1, keepdims=True), 1))
        log_abs_value, log_abs_tangent = jax.jvp(
            lambda p: walker_major_log_abs(ansatz, p, batch["geometry"], batch["electrons"]),
            (params,), (tangents[0],))
        # kfac-jax builds its Fisher factors for this output with JAX's default float dtype
        # (float64 whenever x64 is on, even in a float32 run), so the registered output
        # takes that dtype; the cast is the identity when the two agree.
        kfac_jax.register_normal_predictive_distribution(
            log_abs_value[:, None].astype(jnp.result_type(float)))
        loss_tangent = 2.0 * jnp.sum(weights.reshape(-1) * log_abs_tangent)
        return (loss, aux), (loss_tangent, jax.tree_util.tree_map(jnp.zeros_like, aux))

    return energy


def finite_stand_ins(electrons: jnp.ndarray, local_energies: jnp.ndarray) -> jnp.ndarray:
    """Walkers [G, B, N, 3] for the loss's batch: a walker without a finite local energy
    [G, B] may sit at non-finite positions, and its zero weight in the gradient does not stop
    NaN (0 x NaN), so it is replaced by its geometry's first walker with a finite one.

    Done outside the loss: inside it, the replacement hides the dense layers from KFAC's
    graph matcher (every block then falls back to a diagonal one).
    """
    finite = jnp.isfinite(local_energies)
    first = electrons[jnp.arange(electrons.shape[0]), jnp.argmax(finite, axis=1)]
    return jnp.where(finite[..., None, None], electrons, first[:, None])


def walker_major_log_abs(ansatz: Ansatz, params: dict, geometry, electrons: jnp.ndarray
                         ) -> jnp.ndarray:
    """log|psi| [G * B] of walkers [G, B, N, 3] of G stacked geometries, computed with the
    walker axis leading (every walker gets its geometry's orbitals): KFAC's Kronecker
    factors need the layers' inputs as [G * B, ...], not [G, B, ...]. The GNN still runs
    once per geometry. The copies cost time (H6, fwf bench: 4.6 steps/s with them at G = 1,
    5.5 without), so G = 1 shares its one geometry's orbitals instead."""
    n_geometries, n_walkers = electrons.shape[:2]
    if n_geometries == 1:  # one geometry: its orbitals are shared, not copied per walker
        single = jax.tree_util.tree_map(lambda a: a[0], geometry)
        return ansatz.batch_log_psi(params, single, electrons[0])[1]
    orbitals = jax.vmap(ansatz.orbitals, in_axes=(None, 0))(params, geometry)
    per_walker = jax.tree_util.tree_map(lambda a: jnp.repeat(a, n_walkers, axis=0),
                                        (orbitals, geometry))
    flat = electrons.reshape((n_geometries * n_walkers,) + electrons.shape[2:])
    return jax.vmap(lambda o, g, x: ansatz.log_psi(params, o, g, x)[1])(*per_walker, flat)
