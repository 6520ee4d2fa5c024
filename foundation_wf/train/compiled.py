"""The jitted functions of a run, built once per (ansatz, settings) and shared by every
Trainer in the process; jit then caches compiled code per shape (n_up, n_down, n_atoms)."""

from __future__ import annotations

import dataclasses
import functools
from typing import Callable

import jax
import jax.numpy as jnp
import optax

from foundation_wf.ansatz.model import Ansatz
from foundation_wf.vmc import mcmc
from foundation_wf.vmc.hf_pretrain import hf_log_abs, make_pretrain_loss
from foundation_wf.vmc.loss import (centred_local_energies, finite_stand_ins,
                                    make_batch_local_energy, make_energy_loss)
from foundation_wf.vmc.optimizers import OptimizerConfig, VMCOptimizer, make_optimizer
from foundation_wf.vmc.spring import make_walker_jacobian


@dataclasses.dataclass(frozen=True)
class RunFunctions:
    """network_sweep(params, geometry, walkers, key), hf_sweep(target, geometry, walkers, key),
    log_abs(params, geometry, x [B,N,3]) -> [B], hf_log_abs(target, geometry, x) -> [B],
    local_energy(params, geometry, x) -> [B] (hartree), loss(params, batch) -> (E, aux) with
    the batch's local energies precomputed (see ``vmc.loss.make_energy_loss``),
    walker_jacobian(params, geometry, x [G,B,N,3]) -> [G,B,P] and centred_energies(local
    [G,B]) -> [G,B], SPRING's inputs (``vmc.spring``)."""

    network_sweep: Callable
    hf_sweep: Callable
    log_abs: Callable
    hf_log_abs: Callable
    local_energy: Callable
    loss: Callable
    walker_jacobian: Callable
    centred_energies: Callable


@functools.lru_cache(maxsize=8)
def run_functions(ansatz: Ansatz, n_moves: int, target_acceptance: float, laplacian: str,
                  chunk_size: int, clip_scale: float, proposal: str) -> RunFunctions:
    """The compiled functions of a run; ``proposal`` is one of ``mcmc.PROPOSALS``."""
    def length_scales(geometry):  # None: uniform proposal widths
        if proposal == "nuclear":
            return mcmc.nuclear_length_scales(geometry.coords, geometry.charges)
        return None

    def network_sweep(params, geometry, walkers, key):
        # The orbital GNN depends on the geometry only: once per sweep, not once per move.
        orbitals = ansatz.orbitals(params, geometry)
        log_abs = lambda x: ansatz.walkers_log_psi(params, orbitals, geometry, x)[1]  # noqa: E731
        # The parameters may have changed since this geometry's walkers last moved (other
        # geometries were trained meanwhile): their cached log|psi| must be recomputed, or
        # Metropolis-Hastings compares against stale values and samples the wrong density.
        walkers = walkers.replace(
            log_abs=log_abs(walkers.electrons).astype(walkers.log_abs.dtype))
        swept = mcmc.mh_sweep(log_abs, walkers, key, n_moves, length_scales(geometry))
        return mcmc.adapt_step_size(swept, target_acceptance)

    def hf_sweep(target, geometry, walkers, key):
        log_abs = lambda x: hf_log_abs(target, geometry.coords, x)  # noqa: E731
        swept = mcmc.mh_sweep(log_abs, walkers, key, n_moves, length_scales(geometry))
        return mcmc.adapt_step_size(swept, target_acceptance)

    return RunFunctions(
        network_sweep=jax.jit(network_sweep),
        hf_sweep=jax.jit(hf_sweep),
        log_abs=jax.jit(lambda p, g, x: ansatz.batch_log_psi(p, g, x)[1]),
        hf_log_abs=jax.jit(lambda t, g, x: hf_log_abs(t, g.coords, x)),
        local_energy=jax.jit(make_batch_local_energy(ansatz, laplacian, chunk_size)),
        loss=make_energy_loss(ansatz, clip_scale),
        walker_jacobian=make_walker_jacobian(ansatz),
        centred_energies=functools.partial(centred_local_energies, clip_scale=clip_scale),
    )


def optimizer_for(config: OptimizerConfig, functions: RunFunctions) -> VMCOptimizer:
    """One optimizer (and its compiled step) per update rule and run functions: configs that
    differ only in their learning-rate schedule share it (the rate is a step argument)."""
    return _optimizer(config.update_rule(), functions)


@functools.lru_cache(maxsize=8)
def _optimizer(update_rule: OptimizerConfig, functions: RunFunctions) -> VMCOptimizer:
    return make_optimizer(update_rule, functions.loss, functions.walker_jacobian,
                          functions.centred_energies)


# The metrics of one training step per geometry, the columns of ``training_step``'s
# metrics matrix.
STEP_METRICS = ("energy", "variance", "acceptance", "step_size", "skipped",
                "nonfinite_walkers")


@functools.lru_cache(maxsize=8)
def training_step(functions: RunFunctions, optimizer_step: Callable) -> Callable:
    """One whole optimizer step on G geometries of equal shapes in one compiled call, with
    the parameter, optimizer and walker buffers donated: (params, opt_state, walkers,
    geometry, key, learning_rate) -> (params, opt_state, walkers, metrics [G,
    len(STEP_METRICS)]), where walkers and geometry carry a leading axis G (walkers
    [G, B, N, 3]) and learning_rate is a scalar array (any value, one compilation).

    Each geometry's walkers are swept (key fold_in(fold_in(key, 0), g)), their local energies
    computed once, and ``optimizer_step(params, opt_state, key, batch, learning_rate)`` (key
    fold_in(key, 1)) applied to the mean energy. Where the energy or any updated parameter
    is not finite, the old parameters and optimizer state are kept (metric "skipped" = 1):
    the guard runs on the device, so nothing needs to reach the host until the metrics are
    fetched.
    """
    def sweep_and_local_energy(params, geometry, walkers, key):
        walkers = functions.network_sweep(params, geometry, walkers, key)
        return walkers, functions.local_energy(params, geometry, walkers.electrons)

    def vmc_step(params, opt_state, walkers, geometry, key, learning_rate):
        n_geometries = walkers.electrons.shape[0]
        sweep_keys = jax.vmap(lambda g: jax.random.fold_in(jax.random.fold_in(key, 0), g))(
            jnp.arange(n_geometries))
        if n_geometries == 1:  # unbatched: vmap over one geometry compiles to slower code
            first = lambda tree: jax.tree_util.tree_map(lambda a: a[0], tree)  # noqa: E731
            walkers, local = jax.tree_util.tree_map(
                lambda a: a[None],
                sweep_and_local_energy(params, first(geometry), first(walkers), sweep_keys[0]))
        else:
            walkers, local = jax.vmap(sweep_and_local_energy, in_axes=(None, 0, 0, 0))(
                params, geometry, walkers, sweep_keys)
        batch = {"electrons": finite_stand_ins(walkers.electrons, local), "geometry": geometry,
                 "local_energies": local}
        new_params, new_state, energy, aux = optimizer_step(
            params, opt_state, jax.random.fold_in(key, 1), batch, learning_rate)
        finite = jnp.isfinite(energy) & jnp.all(jnp.stack(
            [jnp.all(jnp.isfinite(leaf)) for leaf in jax.tree_util.tree_leaves(new_params)]))
        keep = lambda new, old: jnp.where(finite, new, old)  # noqa: E731
        params = jax.tree_util.tree_map(keep, new_params, params)
        opt_state = jax.tree_util.tree_map(keep, new_state, opt_state)
        dtype = walkers.log_abs.dtype
        columns = (jnp.nanmean(aux.local_energies, axis=1), aux.variance, walkers.acceptance,
                   walkers.step_size, jnp.broadcast_to(~finite, (n_geometries,)),
                   aux.n_nonfinite)
        metrics = jnp.stack([c.astype(dtype) for c in columns], axis=1)
        return params, opt_state, walkers, metrics

    return jax.jit(vmc_step, donate_argnums=(0, 1, 2))


@functools.lru_cache(maxsize=8)
def hf_pretrain_step(ansatz: Ansatz, learning_rate: float):
    """(optax optimizer, jitted step(params, opt_state, geometry, target, electrons))."""
    optimizer = optax.adam(learning_rate)
    loss_fn = make_pretrain_loss(ansatz)

    @jax.jit
    def step(params, opt_state, geometry, target, electrons):
        loss, grads = jax.value_and_grad(loss_fn)(params, geometry, target, electrons)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, loss

    return optimizer, step


@functools.lru_cache(maxsize=16)
def repeated_sweeps(sweep: Callable, n_sweeps: int) -> Callable:
    """``n_sweeps`` sweeps in one compiled call (a device loop): (first, geometry, walkers,
    key) -> walkers, where ``sweep(first, geometry, walkers, key)`` is ``network_sweep``
    (first = params) or ``hf_sweep`` (first = HF target); sweep i uses fold_in(key, i)."""

    def run(first, geometry, walkers, key):
        body = lambda i, w: sweep(first, geometry, w, jax.random.fold_in(key, i))  # noqa: E731
        return jax.lax.fori_loop(0, n_sweeps, body, walkers)

    return jax.jit(run)


@functools.lru_cache(maxsize=8)
def evaluation_sweeps(network_sweep: Callable, local_energy: Callable,
                      n_sweeps: int) -> Callable:
    """(params, geometry, walkers, key) -> (walkers, means [n_sweeps], walker_means [B]) in
    one compiled call: each sweep (key fold_in(key, i)) moves the walkers, then the mean
    local energy (Ha) of the walkers with a finite one is recorded (NaN when none is), and
    each walker's finite local energies are summed; walker_means is each walker's average
    over the sweeps (NaN for a walker without a finite one), all on the device."""

    def run(params, geometry, walkers, key):
        def body(carry, sweep):
            walkers, sums, counts = carry
            walkers = network_sweep(params, geometry, walkers, jax.random.fold_in(key, sweep))
            local = local_energy(params, geometry, walkers.electrons)
            finite = jnp.isfinite(local)
            carry = (walkers, sums + jnp.where(finite, local, 0.0), counts + finite)
            return carry, jnp.nanmean(jnp.where(finite, local, jnp.nan))

        zeros = jnp.zeros(walkers.log_abs.shape, walkers.log_abs.dtype)
        (walkers, sums, counts), means = jax.lax.scan(
            body, (walkers, zeros, zeros), jnp.arange(n_sweeps))
        return walkers, means, jnp.where(counts > 0, sums / counts, jnp.nan)

    return jax.jit(run)


def clear_caches() -> None:
    """Forget every function cached above and JAX's compiled executables (each XLA:CPU
    executable keeps its code mapped into the process until then)."""
    for cached in (run_functions, _optimizer, training_step, hf_pretrain_step,
                   repeated_sweeps, evaluation_sweeps):
        cached.cache_clear()
    jax.clear_caches()
