"""SPRING (vmc.spring): its step solves the damped least-squares problem it is defined by,
its per-walker Jacobian is that of log|psi| (the orbital GNN's share included), and it trains
H2 end to end (float64, real PySCF and JAX)."""

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.flatten_util import ravel_pytree

from conftest import TINY_RUN, perturbed
from foundation_wf import Molecule
from foundation_wf.ansatz import geometry_input, make_ansatz
from foundation_wf.hf import DescriptorSettings, geometry_hf
from foundation_wf.train.config import RunConfig, build
from foundation_wf.train.trainer import Trainer
from foundation_wf.vmc.loss import EnergyAux, walker_major_log_abs
from foundation_wf.vmc.optimizers import OptimizerConfig
from foundation_wf.vmc.spring import make_spring, make_walker_jacobian, spring_direction


@pytest.mark.parametrize("momentum", [0.0, 0.9])
def test_step_is_the_damped_least_squares_solution(momentum):
    """delta minimises |O delta - eps|^2 + damping |delta - momentum phi|^2, so it solves
    (O^T O + damping) delta = O^T eps + damping momentum phi, with O and eps centred per
    geometry and scaled by 1/sqrt(B); a walker without a finite energy takes no part."""
    rng = np.random.default_rng(0)
    jacobian = jnp.asarray(rng.standard_normal((2, 6, 15)))  # G=2 geometries, B=6, P=15
    finite = jnp.ones((2, 6), bool).at[1, 2].set(False)
    local = rng.standard_normal((2, 6))
    centred = np.where(finite, local - np.sum(np.where(finite, local, 0), 1, keepdims=True)
                       / np.sum(finite, 1, keepdims=True), 0.0)
    previous = jnp.asarray(rng.standard_normal(15))
    damping = 1e-2
    delta, along = spring_direction(jacobian, jnp.asarray(centred), finite, previous,
                                    damping, momentum)

    count = int(np.sum(finite))
    rows = []
    for g in range(2):
        kept = np.asarray(jacobian[g])[np.asarray(finite[g])]
        rows.append(kept - kept.mean(0))
    o = np.concatenate(rows) / np.sqrt(count)
    eps = np.asarray(centred)[np.asarray(finite)] / np.sqrt(count)
    expected = np.linalg.solve(o.T @ o + damping * np.eye(15),
                               o.T @ eps + damping * momentum * np.asarray(previous))
    np.testing.assert_allclose(delta, expected, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(along, expected @ (o.T @ eps), rtol=1e-9)


@pytest.mark.parametrize("spring_norm", ["euclidean", "fisher"])
def test_step_is_scaled_down_to_its_norm_bound(spring_norm):
    """With a bound smaller than the free step, the parameters move along the SPRING
    direction by exactly the bound: lr^2 |delta|^2 = C (euclidean) or lr^2 <delta, O^T eps>
    = C (fisher); with a loose bound, by the full step."""
    rng = np.random.default_rng(3)
    jacobian = jnp.asarray(rng.standard_normal((1, 8, 12)))
    local = jnp.asarray(rng.standard_normal((1, 8)))
    centred = local - jnp.mean(local)
    params = {"w": jnp.asarray(rng.standard_normal(12))}
    previous = jnp.asarray(rng.standard_normal(12))
    rate, damping, momentum = 0.3, 1e-2, 0.9

    def loss(params, batch):
        aux = EnergyAux(local_energies=local, variance=jnp.var(local, axis=1),
                        n_nonfinite=jnp.zeros(1, int))
        return jnp.mean(local), aux

    delta, along = spring_direction(jacobian, centred, jnp.ones((1, 8), bool), previous,
                                    damping, momentum)
    free = rate**2 * (float(delta @ delta) if spring_norm == "euclidean" else float(along))
    for bound, scale in ((free / 4, 0.5), (free * 4, 1.0)):
        config = OptimizerConfig(name="spring", damping=damping, momentum=momentum,
                                 norm_constraint=bound, spring_norm=spring_norm)
        _, step = make_spring(config, loss, lambda *args: jacobian, lambda e: e - jnp.mean(e))
        moved, phi, _, _ = step(params, previous, jax.random.PRNGKey(0),
                               {"geometry": None, "electrons": None}, rate)
        np.testing.assert_allclose(params["w"] - moved["w"], rate * scale * delta, rtol=1e-9)
        np.testing.assert_allclose(phi, scale * delta, rtol=1e-9)


def test_walker_jacobian_is_the_gradient_of_each_walkers_log_psi():
    """Against jax.jacrev of the loss's own walker-major log|psi|, for two stacked
    geometries: every parameter's column, the orbital GNN's included."""
    settings = DescriptorSettings()
    ansatz = make_ansatz("tiny", settings)
    molecules = [Molecule.from_symbols(["H", "H"], [[0, 0, 0], [0, 0, r]], unit="bohr")
                 for r in (1.2, 1.6)]
    geometries = [geometry_input(m, geometry_hf(m, settings), settings, jnp.float64)
                  for m in molecules]
    stacked = jax.tree_util.tree_map(lambda *a: jnp.stack(a), *geometries)
    params = perturbed(ansatz.init(jax.random.PRNGKey(0), geometries[0]), 1, 0.2)
    electrons = jnp.asarray(np.random.default_rng(2).normal(size=(2, 3, 2, 3)))
    flat, unravel = ravel_pytree(params)
    expected = jax.jacrev(
        lambda f: walker_major_log_abs(ansatz, unravel(f), stacked, electrons))(flat)
    jacobian = jax.jit(make_walker_jacobian(ansatz))(params, stacked, electrons)
    np.testing.assert_allclose(jacobian.reshape(6, -1), expected, rtol=1e-8, atol=1e-10)


def test_spring_trains_h2_below_its_start_and_above_the_exact_energy(tmp_path):
    config = build(RunConfig, dict(
        TINY_RUN, dataset="reference", geometries=["H2_R1.4"], steps=60,
        pretrain={"steps": 40}, evaluation={"steps": 20}, output=str(tmp_path / "run"),
        optim={"name": "spring", "learning_rate": 0.02, "momentum": 0.9}))
    results = Trainer(config).run()
    energies = [row["energy"] for row in _vmc_rows(tmp_path / "run")]
    assert len(energies) == 60 and np.all(np.isfinite(energies))
    assert np.mean(energies[-15:]) < np.mean(energies[:5])
    stats = results["H2_R1.4"]
    assert stats.mean > -1.17447571422 - 3 * stats.error  # exact H2 at R = 1.4 bohr


def _vmc_rows(folder):
    lines = (folder / "metrics.jsonl").read_text().splitlines()
    return [row for row in map(json.loads, lines) if row["phase"] == "vmc"]
