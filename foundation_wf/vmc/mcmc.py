"""Metropolis-Hastings on |psi|^2 with all-electron Gaussian moves.

Two proposals: "uniform" moves every electron with the same width; "nuclear" scales each
electron's width with a length scale set by the nuclei around it
(``nuclear_length_scales``), so core electrons take small steps and valence or far-out
electrons large ones, the Hastings ratio correcting for the position-dependent widths.
"""

from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from foundation_wf.systems import Molecule


class WalkerState(struct.PyTreeNode):
    """MCMC state of one geometry.

    Attributes:
      electrons: walker positions, bohr, [B, N, 3] (up electrons first).
      log_abs: log|psi| at the walkers, [B].
      step_size: Gaussian proposal width, bohr (scalar).
      acceptance: acceptance ratio of the last sweep (scalar).
    """

    electrons: jnp.ndarray
    log_abs: jnp.ndarray
    step_size: jnp.ndarray
    acceptance: jnp.ndarray


def electron_sites(molecule: Molecule) -> tuple[np.ndarray, np.ndarray]:
    """Atom index of each up and each down electron's starting site.

    Each atom contributes Z sites with spins alternating across the molecule, so spins pair
    up on atoms; electrons beyond their spin's share (ions, high spin) take the other sites.
    """
    sites = np.repeat(np.arange(molecule.n_atoms), molecule.charges)
    first, second = sites[0::2], sites[1::2]
    up = np.concatenate([first, second, np.resize(sites, molecule.n_up)])[: molecule.n_up]
    down = np.concatenate([second, first, np.resize(sites, molecule.n_down)])[: molecule.n_down]
    return up.astype(np.int64), down.astype(np.int64)


def initial_electrons(key: jax.Array, molecule: Molecule, n_walkers: int,
                      width: float = 1.0, dtype=jnp.float32) -> jnp.ndarray:
    """Walkers [B, N, 3]: electrons around their starting atoms with Gaussian spread (bohr)."""
    up, down = electron_sites(molecule)
    centres = jnp.asarray(molecule.coords[np.concatenate([up, down])], dtype)
    noise = jax.random.normal(key, (n_walkers,) + centres.shape, dtype)
    return centres[None] + width * noise


PROPOSALS = ("uniform", "nuclear")
# The longest length scale, bohr, of a "nuclear" proposal: an electron far out steps at most
# this many times the step size.
MAX_LENGTH_SCALE = 3.0


def nuclear_length_scales(coords: jnp.ndarray, charges: jnp.ndarray) -> Callable:
    """electrons [B, N, 3] -> each electron's length scale [B, N] (bohr): min over nuclei I of
    max(|r - R_I|, 1 / Z_I), at most ``MAX_LENGTH_SCALE``. A core electron of an atom of
    charge Z gets about 1/Z, one near a proton 1 bohr, one far from every nucleus up to
    ``MAX_LENGTH_SCALE``. ``coords`` [A, 3] (bohr), ``charges`` [A]."""
    def scales(electrons):
        distances = jnp.linalg.norm(electrons[..., None, :] - coords, axis=-1)
        nearest = jnp.min(jnp.maximum(distances, 1.0 / charges), axis=-1)
        return jnp.minimum(nearest, MAX_LENGTH_SCALE).astype(electrons.dtype)
    return scales


def proposal_widths(electrons: jnp.ndarray, length_scales: Callable | None,
                    step_size: jnp.ndarray) -> jnp.ndarray:
    """Gaussian proposal width of each electron, bohr, [B, N]: ``step_size`` (bohr) for a
    uniform proposal (``length_scales`` None), else ``step_size`` times
    ``length_scales(electrons)`` (bohr; e.g. ``nuclear_length_scales``)."""
    if length_scales is None:
        return jnp.broadcast_to(step_size, electrons.shape[:-1]).astype(electrons.dtype)
    return step_size * length_scales(electrons)


def log_proposal_density(start: jnp.ndarray, end: jnp.ndarray,
                         widths: jnp.ndarray) -> jnp.ndarray:
    """log q(end | start) [B] up to a constant, for independent Gaussian moves of each
    electron with ``widths`` [B, N] (bohr) set at ``start``."""
    squared = jnp.sum((end - start) ** 2, axis=-1)
    return jnp.sum(-3.0 * jnp.log(widths) - squared / (2.0 * widths**2), axis=-1)


def init_walkers(batch_log_abs: Callable, electrons: jnp.ndarray,
                 step_size: float) -> WalkerState:
    """State from positions; ``batch_log_abs(electrons [B, N, 3]) -> [B]``."""
    dtype = electrons.dtype
    return WalkerState(electrons, batch_log_abs(electrons).astype(dtype), jnp.asarray(step_size, dtype),
                       jnp.asarray(0.5, dtype))


def mh_sweep(batch_log_abs: Callable, state: WalkerState, key: jax.Array,
             n_steps: int, length_scales: Callable | None = None) -> WalkerState:
    """``n_steps`` Metropolis-Hastings moves of every walker (one jit-able function); with
    ``length_scales`` (electrons [B, N, 3] -> [B, N], bohr) each electron's proposal width
    is ``state.step_size`` times its length scale (``proposal_widths``), else all widths
    are ``state.step_size``."""

    def step(i, carry):
        electrons, log_abs, accepted = carry
        move_key, accept_key = jax.random.split(jax.random.fold_in(key, i))
        widths = proposal_widths(electrons, length_scales, state.step_size)
        proposal = electrons + widths[..., None] * jax.random.normal(
            move_key, electrons.shape, electrons.dtype)
        log_abs_new = batch_log_abs(proposal).astype(log_abs.dtype)
        log_ratio = 2.0 * (log_abs_new - log_abs)
        if length_scales is not None:  # Hastings: the reverse move's widths differ
            reverse_widths = proposal_widths(proposal, length_scales, state.step_size)
            log_ratio += (log_proposal_density(proposal, electrons, reverse_widths)
                          - log_proposal_density(electrons, proposal, widths)
                          ).astype(log_ratio.dtype)
        uniform = jax.random.uniform(accept_key, log_abs.shape, log_abs.dtype)
        accept = jnp.log(uniform) < log_ratio
        electrons = jnp.where(accept[:, None, None], proposal, electrons)
        log_abs = jnp.where(accept, log_abs_new, log_abs)
        return electrons, log_abs, accepted + jnp.mean(accept.astype(log_abs.dtype))

    electrons, log_abs, accepted = jax.lax.fori_loop(
        0, n_steps, step, (state.electrons, state.log_abs, jnp.zeros((), state.log_abs.dtype)))
    return state.replace(electrons=electrons, log_abs=log_abs, acceptance=accepted / n_steps)


def adapt_step_size(state: WalkerState, target: float = 0.5, rate: float = 0.5,
                    bounds: tuple[float, float] = (1e-3, 5.0)) -> WalkerState:
    """Multiply the step size by exp(rate (acceptance - target)): drives acceptance to target."""
    new = state.step_size * jnp.exp(rate * (state.acceptance - target))
    return state.replace(step_size=jnp.clip(new, *bounds))
