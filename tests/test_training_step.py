"""The fused training step (sweep, local energies, optimizer update and non-finite guard in
one compiled call) on two stacked geometries, against the same operations called one by one
(float64, real PySCF and KFAC)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from conftest import TINY_RUN
from foundation_wf.train import compiled
from foundation_wf.train.config import RunConfig, build
from foundation_wf.train.state import stack
from foundation_wf.train.trainer import Trainer

GEOMETRIES = ("H2_d1.600", "H2_d2.400")


@pytest.fixture(scope="module")
def trainer(tmp_path_factory):
    trainer = Trainer(build(RunConfig, {
        **TINY_RUN, "dataset": "hydrogen_chains", "geometries": list(GEOMETRIES),
        "output": str(tmp_path_factory.mktemp("step")), "steps": 0,
        "pretrain": {"steps": 0}, "scheduler": {"geometries_per_step": 2}}))
    trainer.burn_in()
    trainer._init_optimizer()
    yield trainer
    trainer.close()


def copy(tree):
    return jax.tree_util.tree_map(jnp.array, tree)


def unfused_step(trainer, params, opt_state, walkers, geometry, key, learning_rate):
    """The reference: each geometry swept and its local energies computed by its own
    compiled call, then the optimizer's own step on the stacked batch."""
    functions = trainer._functions
    swept, local = [], []
    for g in range(len(GEOMETRIES)):
        one = jax.tree_util.tree_map(lambda a: a[g], (walkers, geometry))
        moved = functions.network_sweep(params, one[1], one[0],
                                        jax.random.fold_in(jax.random.fold_in(key, 0), g))
        swept.append(moved)
        local.append(functions.local_energy(params, one[1], moved.electrons))
    walkers = stack(swept)
    batch = {"electrons": walkers.electrons, "geometry": geometry,
             "local_energies": jnp.stack(local)}
    params, opt_state, energy, aux = trainer.optimizer.step(
        params, opt_state, jax.random.fold_in(key, 1), batch, learning_rate)
    return params, opt_state, walkers, energy


def test_fused_step_gives_the_parameters_of_the_unfused_reference(trainer):
    geometry = trainer.stacked_geometry((0, 1))
    walkers = stack([s.walkers for s in trainer.states])
    fused = (copy(trainer.params), copy(trainer.opt_state), copy(walkers))
    reference = (copy(trainer.params), copy(trainer.opt_state), copy(walkers))
    for step in range(3):
        key = jax.random.PRNGKey(step)
        rate = jnp.asarray(0.05 / (1 + step))  # a new rate each step, as a schedule gives
        *fused, metrics = trainer.train_step(*fused, geometry, key, rate)
        *reference, energy = unfused_step(trainer, *reference, geometry, key, rate)
        metrics = np.asarray(metrics)
        assert metrics.shape == (2, len(compiled.STEP_METRICS))
        assert not metrics[:, compiled.STEP_METRICS.index("skipped")].any()
        assert np.mean(metrics[:, 0]) == pytest.approx(float(energy), rel=1e-12)
    for a, b in zip(jax.tree_util.tree_leaves(fused[0]),
                    jax.tree_util.tree_leaves(reference[0])):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-9, atol=1e-12)
    np.testing.assert_array_equal(np.asarray(fused[2].electrons),
                                  np.asarray(reference[2].electrons))
    changed = [not np.array_equal(a, b) for a, b in zip(
        jax.tree_util.tree_leaves(fused[0]), jax.tree_util.tree_leaves(trainer.params))]
    assert any(changed)  # the steps did update the parameters


def test_nan_in_one_geometry_keeps_the_parameters_and_is_counted(trainer):
    geometry = trainer.stacked_geometry((0, 1))
    walkers = stack([s.walkers for s in trainer.states])
    n_walkers = walkers.electrons.shape[1]
    column = {name: i for i, name in enumerate(compiled.STEP_METRICS)}

    # One walker of geometry 1 at NaN: left out of energy and gradient, counted, applied.
    one_bad = copy(walkers).replace(electrons=walkers.electrons.at[1, 3].set(jnp.nan))
    params, _, _, metrics = trainer.train_step(copy(trainer.params), copy(trainer.opt_state),
                                               one_bad, geometry, jax.random.PRNGKey(7),
                                               jnp.asarray(trainer.learning_rate()))
    metrics = np.asarray(metrics)
    assert list(metrics[:, column["nonfinite_walkers"]]) == [0, 1]
    assert not metrics[:, column["skipped"]].any() and np.isfinite(metrics[:, 0]).all()
    assert all(np.isfinite(leaf).all() for leaf in jax.tree_util.tree_leaves(params))

    # Every walker of geometry 1 at NaN: no finite energy, the update is not applied.
    all_bad = copy(walkers).replace(electrons=walkers.electrons.at[1].set(jnp.nan))
    before = copy(trainer.params)
    params, _, _, metrics = trainer.train_step(copy(trainer.params), copy(trainer.opt_state),
                                               all_bad, geometry, jax.random.PRNGKey(8),
                                               jnp.asarray(trainer.learning_rate()))
    metrics = np.asarray(metrics)
    assert list(metrics[:, column["nonfinite_walkers"]]) == [0, n_walkers]
    assert metrics[:, column["skipped"]].all()
    for a, b in zip(jax.tree_util.tree_leaves(params), jax.tree_util.tree_leaves(before)):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
