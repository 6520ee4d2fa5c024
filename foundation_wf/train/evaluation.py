"""Energies of fixed parameters: evaluation sweeps over geometries, reblocked."""

from __future__ import annotations

import math
from typing import Sequence

import jax
import numpy as np

from foundation_wf.train import compiled
from foundation_wf.train.loggers import progress
from foundation_wf.train.state import GeometryState
from foundation_wf.vmc import mcmc
from foundation_wf.vmc.stats import Stats, reblock, widened_by_walker_spread


def evaluated_energies(functions: compiled.RunFunctions, params: dict,
                       states: Sequence[GeometryState], n_sweeps: int, key: jax.Array
                       ) -> tuple[dict[str, Stats], list[mcmc.WalkerState]]:
    """Each geometry's energy (hartree) with ``params`` unchanged: ``n_sweeps`` sweeps from
    its equilibrated walkers, the mean local energy of each sweep and each walker's average
    recorded on the device (one compiled loop and one transfer per geometry, key
    fold_in(key, index)); the error bar is the larger of the reblocked one and the spread of
    the walkers' averages (``stats.widened_by_walker_spread``). Returns {name: Stats} and
    the moved walkers, in the order of ``states``."""
    run = compiled.evaluation_sweeps(functions.network_sweep, functions.local_energy, n_sweeps)
    results, walkers = {}, []
    bar = progress(total=n_sweeps * len(states), desc="Evaluation", unit="sweep")
    for index, state in enumerate(states):
        moved, means, walker_means = run(params, state.geometry, state.walkers,
                                         jax.random.fold_in(key, index))
        stats = reblock([m for m in np.asarray(means) if math.isfinite(m)])
        results[state.name] = widened_by_walker_spread(stats, np.asarray(walker_means))
        walkers.append(moved)
        bar.update(n_sweeps)
    bar.close()
    return results, walkers
