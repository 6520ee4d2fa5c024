"""Optimizer comparison and loss-landscape tools on tiny real runs."""

import csv
import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import yaml

from conftest import TINY_RUN
from foundation_wf.analysis.landscape import (
    landscape_grid, make_point_energy, normalized_direction,
)
from foundation_wf.ansatz import geometry_input, make_ansatz
from foundation_wf.cli.main import main
from foundation_wf.data.generators import hydrogen_chain
from foundation_wf.hf import DescriptorSettings, geometry_hf
from foundation_wf.train.config import RunConfig, build
from foundation_wf.train.trainer import Trainer
from foundation_wf.vmc.loss import make_batch_local_energy

SETTINGS = DescriptorSettings()
ANSATZ = make_ansatz("tiny", SETTINGS)
H2 = hydrogen_chain(2, 1.4)
H2_GEOMETRY = geometry_input(H2, geometry_hf(H2, SETTINGS), SETTINGS, jnp.float64)


def he_recipe(tmp_path, **changes):
    recipe = tmp_path / "he.yaml"
    recipe.write_text(yaml.safe_dump({
        **TINY_RUN, "dataset": "reference", "geometries": ["He"],
        "output": str(tmp_path / "he"), "steps": 4, "pretrain": {"steps": 3},
        "evaluation": {"steps": 6}, **changes}))
    return recipe


@pytest.mark.slow
def test_compare_optimizers_runs_all_four_and_writes_the_table(tmp_path, capsys):
    out = tmp_path / "cmp"
    args = ["compare-optimizers", str(he_recipe(tmp_path)), "--output", str(out), "--window",
            "2", "--rates", "kfac=0.02", "--rates", "adam=0.001,0.01", "--rates",
            "rmsprop=0.001", "--rates", "sgd=0.01"]
    assert main(args) == 0
    printed = capsys.readouterr().out
    for name in ("kfac", "adam", "rmsprop", "sgd"):
        assert name in printed
    rows = list(csv.DictReader(open(out / "comparison.csv")))
    assert [(r["optimizer"], float(r["learning_rate"])) for r in rows] == [
        ("kfac", 0.02), ("adam", 0.001), ("adam", 0.01), ("rmsprop", 0.001), ("sgd", 0.01)]
    assert all(np.isfinite(float(r["energy"])) and float(r["error"]) >= 0 for r in rows)
    adam = [r for r in rows if r["optimizer"] == "adam"]
    best = min(adam, key=lambda r: float(r["energy"]))
    assert [r["best"] for r in adam] == [str(r is best) for r in adam]
    assert (out / "comparison.png").stat().st_size > 0
    # Each trial trained with its own optimizer and learning rate, everything else equal.
    configs = [yaml.safe_load(open(out / f"{o}_lr{lr:g}" / "config.yaml"))
               for o, lr in [("kfac", 0.02), ("sgd", 0.01)]]
    assert configs[1]["optim"]["name"] == "sgd" and configs[1]["optim"]["learning_rate"] == 0.01
    assert configs[0]["seed"] == configs[1]["seed"] and configs[0]["steps"] == 4
    # Repeating the command reads the finished trials back instead of training again.
    trial = out / "kfac_lr0.02"
    before = json.loads((trial / "trial.json").read_text())
    assert before["result"]["optimization_time"] > 0
    assert main(args) == 0
    assert "--- kfac" in capsys.readouterr().out
    assert json.loads((trial / "trial.json").read_text()) == before
    # A longer evaluation re-evaluates the finished trials from their checkpoints only.
    steps_logged = (trial / "metrics.jsonl").read_text().count('"phase": "vmc"')
    assert main(args[:2] + ["evaluation.steps=12"] + args[2:]) == 0
    after = json.loads((trial / "trial.json").read_text())
    assert after["config"]["evaluation"]["steps"] == 12
    assert after["result"]["energy"] != before["result"]["energy"]
    assert (trial / "metrics.jsonl").read_text().count('"phase": "vmc"') == steps_logged


def test_compare_optimizers_refuses_bad_input(tmp_path, capsys):
    recipe = he_recipe(tmp_path, geometries=["He", "H2_R1.4"])
    assert main(["compare-optimizers", str(recipe)]) == 2
    assert "needs a recipe with one geometry" in capsys.readouterr().err
    assert main(["compare-optimizers", str(he_recipe(tmp_path)), "--rates", "adam=fast"]) == 2
    assert "learning rates must be numbers" in capsys.readouterr().err


def test_directions_are_normalised_per_block():
    params = ANSATZ.init(jax.random.PRNGKey(0), H2_GEOMETRY)
    params["params"]["jastrow_raw"] = jnp.zeros(2)  # a block of zeros gets no direction
    direction = normalized_direction(jax.random.PRNGKey(1), params)
    for p, d in zip(jax.tree_util.tree_leaves(params), jax.tree_util.tree_leaves(direction)):
        assert d.shape == p.shape
        np.testing.assert_allclose(jnp.linalg.norm(d.ravel()), jnp.linalg.norm(p.ravel()),
                                   rtol=1e-12)
    flat = lambda tree: jnp.concatenate([x.ravel() for x in jax.tree_util.tree_leaves(tree)])  # noqa: E731
    other = normalized_direction(jax.random.PRNGKey(2), params)
    assert jnp.linalg.norm(flat(direction)) > 0
    assert abs(jnp.vdot(flat(direction), flat(other))) < 0.5 * jnp.linalg.norm(flat(direction))**2


@pytest.mark.slow  # about 30 s
def test_landscape_centre_is_the_energy_of_the_trained_parameters_on_the_same_samples():
    params = ANSATZ.init(jax.random.PRNGKey(3), H2_GEOMETRY)
    d1 = normalized_direction(jax.random.PRNGKey(4), params)
    d2 = normalized_direction(jax.random.PRNGKey(5), params)
    sets = [jnp.asarray(H2.coords)[None] + jax.random.normal(jax.random.PRNGKey(10 + k),
                                                              (32, 2, 3)) for k in range(9)]
    _, log_abs = jax.jit(ANSATZ.batch_log_psi)(params, H2_GEOMETRY, sets[4])
    samples = lambda point: (sets[point], jax.jit(ANSATZ.batch_log_psi)(  # noqa: E731
        params, H2_GEOMETRY, sets[point])[1])
    grid = landscape_grid(make_point_energy(ANSATZ), params, d1, d2,
                          np.array([-0.05, 0.0, 0.05]), H2_GEOMETRY, samples)
    local = jax.jit(make_batch_local_energy(ANSATZ))(params, H2_GEOMETRY, sets[4])
    np.testing.assert_allclose(grid.centre, jnp.mean(local), rtol=1e-12)
    # Equal weights: the standard error is the plain sigma / sqrt(n).
    np.testing.assert_allclose(grid.error[1, 1], jnp.std(local) / np.sqrt(32), rtol=1e-10)
    assert np.all(grid.error > 0)
    assert grid.ess[1, 1] == pytest.approx(32)  # equal weights at the trained parameters
    assert np.all(grid.ess < 32 + 1e-9) and np.all(np.isfinite(grid.energy))
    assert not np.isclose(grid.energy[0, 0], grid.centre)


@pytest.mark.slow
def test_landscape_command_on_a_checkpoint(tmp_path, capsys):
    config = build(RunConfig, dict(TINY_RUN, dataset="reference", geometries=["He"],
                                   output=str(tmp_path / "run"), steps=2,
                                   pretrain={"steps": 2}))
    Trainer(config).run()
    out = tmp_path / "land"
    assert main(["landscape", "--checkpoint", str(tmp_path / "run"), "--samples", "16", "32",
                 "--grid", "3", "--burn-in", "2", "--sweeps-between", "1",
                 "--output", str(out)]) == 0
    assert "32 samples: E(0,0)" in capsys.readouterr().out
    data = np.load(out / "landscape.npz")
    assert data["energy_16"].shape == data["energy_32"].shape == (3, 3)
    # Each point is sampled from its own |psi|^2: all importance weights are equal.
    np.testing.assert_allclose(data["ess_32"], 32)
    assert data["error_32"].shape == (3, 3) and np.all(data["error_32"] > 0)
    summary = json.loads((out / "landscape.json").read_text())
    assert summary["geometry"] == "He" and [g["samples"] for g in summary["grids"]] == [16, 32]
    assert (out / "landscape.png").stat().st_size > 0
    assert main(["landscape", "--checkpoint", str(tmp_path / "run"), "--grid", "4"]) == 2
    assert "--grid must be odd" in capsys.readouterr().err
