"""The VMC driver end to end on H2 with a tiny model (a few steps, real PySCF and JAX)."""

import json

import jax
import numpy as np
import pytest
import yaml

from conftest import TINY_RUN
from foundation_wf.ansatz import model_preset
from foundation_wf.cli.main import build_parser, main, parse_arguments
from foundation_wf.train import compiled, phases
from foundation_wf.train.config import ConfigError, RunConfig, build, load_config
from foundation_wf.train.trainer import Trainer
from foundation_wf.vmc.optimizers import OptimizerConfig, make_optimizer

FAST = dict(TINY_RUN, dataset="reference", geometries=["H2_R1.4"], steps=60,
            pretrain={"steps": 40}, evaluation={"steps": 20})


@pytest.fixture(scope="module")
def h2_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("h2run")
    trainer = Trainer(build(RunConfig, {**FAST, "output": str(folder)}))
    results = trainer.run()
    return trainer, results, folder


def test_run_writes_folder_and_finite_energies(h2_run):
    trainer, results, folder = h2_run
    for name in ("config.yaml", "metrics.jsonl", "metrics.csv", "results.json", "energy.png"):
        assert (folder / name).exists(), name
    rows = [json.loads(line) for line in (folder / "metrics.jsonl").read_text().splitlines()]
    vmc = [r for r in rows if r["phase"] == "vmc"]
    assert len(vmc) == 60 and all(np.isfinite(r["energy"]) for r in vmc)
    assert all(0.2 < r["acceptance"] < 0.8 for r in vmc[10:])
    stats = results["H2_R1.4"]
    assert np.isfinite(stats.mean) and 0 < stats.error < 0.05


def test_energy_decreases_from_hf_pretraining_start(h2_run):
    trainer, results, folder = h2_run
    rows = [json.loads(line) for line in (folder / "metrics.jsonl").read_text().splitlines()]
    energies = [r["energy"] for r in rows if r["phase"] == "vmc"]
    assert np.mean(energies[-15:]) < np.mean(energies[:5])
    hf = trainer.states[0].hf.energy
    # Variational: no lower than the exact energy beyond the error bar.
    assert results["H2_R1.4"].mean > -1.17447571422 - 3 * results["H2_R1.4"].error
    assert results["H2_R1.4"].mean < hf + 0.05


def test_every_parameter_has_a_kfac_block(h2_run):
    trainer = h2_run[0]
    optimizer = make_optimizer(OptimizerConfig(), trainer.loss)
    params = jax.tree_util.tree_map(np.array, trainer.params)
    optimizer.init(params, jax.random.PRNGKey(0), trainer.template_batch((0,)))
    estimator = optimizer.kfac._estimator
    block_of = estimator.params_block_index
    flat = jax.tree_util.tree_leaves_with_path(block_of)
    assert len(flat) == len(jax.tree_util.tree_leaves(params))
    kinds = {jax.tree_util.keystr(path): type(estimator.blocks[index]).__name__
             for path, index in flat}
    assert all(isinstance(index, int) for _, index in flat)
    # Per-walker dense layers get Kronecker-factored blocks, whether KFAC's matcher finds
    # them (nn.Dense) or they register themselves (ansatz.layers); the per-geometry GNN is
    # diagonal.
    for layer in ("electron_nucleus", "filter_0", "value_0", "one_0"):
        assert "KroneckerFactored" in kinds[f"['params']['embedding']['{layer}']['kernel']"]
    assert "KroneckerFactored" in kinds["['params']['jastrow_hidden']['kernel']"]
    assert kinds["['params']['gnn']['node_in']['kernel']"] == "NaiveDiagonal"


@pytest.mark.slow
def test_float32_run_trains_in_a_process_with_x64_on(tmp_path):
    """The suite runs with x64 on, as a process does after any float64 job; a float32 run
    there must still take KFAC steps (kfac-jax makes its Fisher factors in the default
    float dtype, float64) and keep float32 parameters."""
    assert jax.config.jax_enable_x64
    config = {**FAST, "precision": "float32", "steps": 5, "pretrain": {"steps": 2},
              "output": str(tmp_path / "run")}
    trainer = Trainer(build(RunConfig, config))
    results = trainer.run()
    dtypes = {leaf.dtype for leaf in jax.tree_util.tree_leaves(trainer.params)}
    assert dtypes == {np.dtype(np.float32)}
    stats, reference = results["H2_R1.4"], trainer.states[0].record.reference_energy
    assert np.isfinite(stats.mean) and stats.mean > reference - 3 * stats.error


def test_config_errors_name_the_key(tmp_path):
    recipe = tmp_path / "r.yaml"
    recipe.write_text("dataset: reference\nwalkers: 64\n")
    with pytest.raises(ConfigError, match="unknown config key optim.lr"):
        load_config(recipe, ["optim.lr=0.1"])
    with pytest.raises(ConfigError, match="walkers must be int"):
        load_config(recipe, ["walkers=many"])
    with pytest.raises(ValueError, match="geometry 'Xe' is not in the dataset"):
        Trainer(load_config(recipe, ["geometries=[Xe]", f"output={tmp_path}/x"]))


def test_cli_train_reports_error_before_work(tmp_path, capsys):
    recipe = tmp_path / "r.yaml"
    recipe.write_text("dataset: reference\nmodel: huge\n")
    assert main(["train", str(recipe), f"output={tmp_path}/run"]) == 2
    assert "unknown model preset 'huge'" in capsys.readouterr().err


def test_overrides_after_options_reach_the_recipe():
    """KEY=VALUE overrides may follow a subcommand's options (argparse alone rejects them
    there); anything else left over is still an error."""
    parser = build_parser()
    args = parse_arguments(parser, [
        "compare-finetune", "--checkpoint", "hchains", "finetune/h6_hchains.yaml", "steps=50",
        "--budgets", "0", "50", "--output", "runs/x", "optim.name=spring", "optim.momentum=0.9"])
    assert args.recipe == "finetune/h6_hchains.yaml" and args.budgets == [0, 50]
    assert args.overrides == ["steps=50", "optim.name=spring", "optim.momentum=0.9"]
    with pytest.raises(SystemExit):
        parse_arguments(parser, ["pretrain", "pretrain/h2.yaml", "--no-such-option"])
    with pytest.raises(SystemExit):
        parse_arguments(parser, ["model", "list", "walkers=8"])  # takes no overrides


def test_model_given_as_fields_instead_of_a_preset():
    config = build(RunConfig, {"dataset": "reference",
                               "model": {"embedding_width": 8, "neighbour_mean": False}})
    assert (config.model.embedding_width, config.model.neighbour_mean) == (8, False)
    assert config.model.gnn_width == model_preset("small").gnn_width
    with pytest.raises(ConfigError, match="unknown config key model.embedding_widht"):
        build(RunConfig, {"dataset": "reference", "model": {"embedding_widht": 8}})


def test_sweep_refreshes_stale_log_psi_after_parameter_changes(h2_run):
    """Walkers of a geometry that was not trained for a while carry log|psi| of old
    parameters; a sweep must start from values of the current ones (a stale, too large
    value would make Metropolis-Hastings reject every move)."""
    trainer = h2_run[0]
    state = trainer.states[0]
    functions = phases.run_functions_for(trainer.ansatz, trainer.config)
    stale = state.walkers.replace(log_abs=state.walkers.log_abs + 1e6)
    walkers = functions.network_sweep(trainer.params, state.geometry, stale,
                                      jax.random.PRNGKey(5))
    moved = np.any(np.asarray(walkers.electrons) != np.asarray(stale.electrons), axis=(1, 2))
    assert moved.mean() > 0.9
    fresh = functions.log_abs(trainer.params, state.geometry, walkers.electrons)
    np.testing.assert_allclose(walkers.log_abs, fresh, rtol=1e-10, atol=1e-10)


def test_a_diverging_run_stops_with_one_line_naming_step_and_geometry(tmp_path, capsys):
    """Adam at learning rate 1e6: the first update wrecks the network, every later step is
    skipped; the recovery restores step 0 with half the learning rate, which is not enough:
    the run must stop with exit 2, not write NaN results with exit 0. The halved rate is an
    argument of the same compiled step: the recovery builds no new one."""
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(yaml.safe_dump({
        **FAST, "output": str(tmp_path / "run"), "steps": 40, "pretrain": {"steps": 0},
        "optim": {"name": "adam", "learning_rate": 1e6}, "checkpoint": {"every": 50},
        "divergence": {"max_skipped": 2, "retries": 1}}))
    built = compiled.training_step.cache_info().misses
    assert main(["pretrain", str(recipe)]) == 2
    assert compiled.training_step.cache_info().misses - built <= 1
    err = capsys.readouterr().err.strip().splitlines()
    assert "training diverged at step" in err[-1] and "H2_R1.4" in err[-1]
    assert "after 1 recovery attempt(s)" in err[-1]
    assert sum("restored step 0, learning rate x 0.5" in line for line in err) == 1
    run = tmp_path / "run"
    assert not (run / "results.json").exists()
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["learning_rate_scale"] for r in rows if r["phase"] == "recovery"] == [0.5]
    vmc_steps = [r["step"] for r in rows if r["phase"] == "vmc"]
    assert len(vmc_steps) == len(set(vmc_steps))  # each step once, the last attempt's


@pytest.mark.slow  # about 110 s, nearly all compilation of the bench's parts
def test_bench_times_the_training_loop_and_reports_cpu_use(capsys):
    assert main(["bench", "--dataset", "reference", "--geometry", "H2_R1.4", "--preset",
                 "tiny", "--walkers", "32", "--steps", "3", "--precision", "float64"]) == 0
    out = capsys.readouterr().out
    assert "system H2_R1.4 (2 electrons, 2 atoms)" in out
    steps_line = next(line for line in out.splitlines() if line.startswith("kfac step"))
    assert float(steps_line.split(": ")[1].split(" steps/s")[0]) > 0
    assert "CPU" in steps_line and "forward Laplacian" in out and "loop Laplacian" in out
