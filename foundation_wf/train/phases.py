"""The phases of a VMC run before the optimization, as functions of their inputs.

``Trainer`` chains them (HF sampling -> HF fit -> burn-in); ``fwf landscape`` and
``fwf phase-demo`` call the ones they need instead of rebuilding them. Each takes an explicit
``jax.random`` key and returns new walkers or parameters; nothing here writes files.
"""

from __future__ import annotations

from typing import Callable, Sequence

import jax

from foundation_wf.ansatz.geometry import GeometryInput
from foundation_wf.ansatz.model import Ansatz
from foundation_wf.train import compiled, devices
from foundation_wf.train.config import RunConfig
from foundation_wf.train.loggers import progress
from foundation_wf.train.state import GeometryState
from foundation_wf.vmc import mcmc


def run_functions_for(ansatz: Ansatz, config: RunConfig) -> compiled.RunFunctions:
    """The compiled sweep, log|psi| and local-energy functions with a run's settings."""
    return compiled.run_functions(ansatz, config.mcmc.steps_per_update,
                                  config.mcmc.target_acceptance, config.laplacian,
                                  config.local_energy_chunk, config.clip_scale,
                                  config.mcmc.proposal)


def _placed(electrons: jax.Array, sharding) -> jax.Array:
    return electrons if sharding is None else devices.shard(electrons, sharding)


def hf_sampled_walkers(functions: compiled.RunFunctions, state: GeometryState,
                       n_walkers: int, step_size: float, sweeps: int, key: jax.Array,
                       sharding=None) -> mcmc.WalkerState:
    """``n_walkers`` walkers [B, N, 3] (bohr) equilibrated in |psi_HF|^2 of one geometry:
    electrons start around their atoms (key fold_in(key, 0)) and take ``sweeps`` sweeps
    (fold_in(key, 1)); sharded over ``sharding``'s devices when one is given."""
    electrons = mcmc.initial_electrons(jax.random.fold_in(key, 0), state.record.molecule,
                                       n_walkers, dtype=state.geometry.coords.dtype)
    start = mcmc.init_walkers(
        lambda x: functions.hf_log_abs(state.target, state.geometry, x),
        _placed(electrons, sharding), step_size)
    return compiled.repeated_sweeps(functions.hf_sweep, sweeps)(
        state.target, state.geometry, start, jax.random.fold_in(key, 1))


def equilibrated_walkers(functions: compiled.RunFunctions, params: dict,
                         geometry: GeometryInput, electrons: jax.Array, step_size: float,
                         sweeps: int, key: jax.Array, sharding=None) -> mcmc.WalkerState:
    """Walkers from positions ``electrons`` [B, N, 3] (bohr) moved by ``sweeps`` sweeps in
    |psi_params|^2 (one device loop; sweep i uses fold_in(key, i))."""
    start = mcmc.init_walkers(lambda x: functions.log_abs(params, geometry, x),
                              _placed(electrons, sharding), step_size)
    return compiled.repeated_sweeps(functions.network_sweep, sweeps)(
        params, geometry, start, key)


def fit_to_hf(ansatz: Ansatz, functions: compiled.RunFunctions, params: dict,
              states: Sequence[GeometryState], walkers: Sequence[mcmc.WalkerState],
              steps: int, learning_rate: float, key: jax.Array, log_every: int = 1,
              report: Callable[[int, int, float], None] | None = None,
              desc: str = "HF pretraining") -> tuple[dict, list[mcmc.WalkerState]]:
    """Supervised fit of the network orbitals to the HF orbitals (Adam), one geometry per
    step in round robin; each step first moves that geometry's walkers by one sweep in
    |psi_HF|^2 (key fold_in(key, step)). Every ``log_every``-th and the last step's loss is
    fetched, shown on the progress bar and passed to ``report(step, geometry index,
    loss)``. Returns the fitted parameters and the walkers."""
    walkers = list(walkers)
    if steps == 0:
        return params, walkers
    optimizer, update = compiled.hf_pretrain_step(ansatz, learning_rate)
    opt_state = optimizer.init(params)
    bar = progress(range(steps), desc=desc, unit="step")
    for step in bar:
        index = step % len(states)
        state = states[index]
        walkers[index] = functions.hf_sweep(state.target, state.geometry, walkers[index],
                                            jax.random.fold_in(key, step))
        params, opt_state, loss = update(params, opt_state, state.geometry, state.target,
                                         walkers[index].electrons)
        if step % log_every == 0 or step == steps - 1:
            loss = float(loss)
            bar.set_postfix(geom=state.name, loss=f"{loss:.3e}", refresh=False)
            if report is not None:
                report(step, index, loss)
    bar.close()
    return params, walkers
