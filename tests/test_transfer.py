"""Zero-shot evaluation and fine-tuning from a pretraining checkpoint."""

import csv
import dataclasses
import json

import jax
import numpy as np
import pytest
import yaml

from conftest import TINY_RUN
from foundation_wf.analysis.finetune_vs_scratch import paired_configs, train
from foundation_wf.cli.main import main
from foundation_wf.train import checkpoint
from foundation_wf.train.config import RunConfig, build
from foundation_wf.train.pretrained import inherit, load_pretrained
from foundation_wf.train.shipped import shipped_cards
from foundation_wf.train.trainer import Trainer


@pytest.fixture(scope="module")
def pretrained_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("pretrained")
    config = build(RunConfig, dict(TINY_RUN, dataset="hydrogen_chains", output=str(folder),
                                   geometries=["H2_d1.600", "H2_d2.400"], steps=4,
                                   pretrain={"steps": 5}, log_every=2,
                                   # Adam and one shape: these tests need a checkpoint, not
                                   # KFAC (about 70 s more to compile) or a second compound.
                                   optim={"name": "adam", "learning_rate": 0.01}))
    Trainer(config).run()
    return folder


def test_metrics_log_every_geometry_when_log_every_shares_the_schedulers_cycle(
        pretrained_run):
    """The fair scheduler alternates the two geometries; with log_every 2 a step-number
    cadence would log the first only. Each geometry logs its own 1st, 3rd, ... step, and
    the run's last."""
    rows = [json.loads(line) for line in open(pretrained_run / "metrics.jsonl")]
    logged = [(r["step"], r["geometry"], r["geometry_steps"]) for r in rows
              if r["phase"] == "vmc"]
    assert logged == [(0, "H2_d1.600", 1), (1, "H2_d2.400", 1), (3, "H2_d2.400", 2)]


def test_zero_shot_evaluation_writes_table_and_pes(pretrained_run, tmp_path, capsys):
    out = tmp_path / "zero_shot"
    assert main(["evaluate", "--checkpoint", str(pretrained_run), "reference", "--geometries",
                 "H2_R1.0", "H4_linear_d1.4", "--walkers", "64", "--burn-in", "10",
                 "--steps", "10", "--output", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "H4_linear_d1.4" in printed and "-2.251458" in printed
    rows = list(csv.DictReader(open(out / "results.csv")))
    assert [r["geometry"] for r in rows] == ["H2_R1.0", "H4_linear_d1.4"]
    for row in rows:
        energy, error = float(row["energy"]), float(row["error"])
        # Variational: never below the exact energy beyond the statistical error; a model
        # trained for a few steps is not yet below HF, but within 1 Ha of it.
        assert energy >= float(row["reference"]) - 3 * error
        assert abs(energy - float(row["hf_energy"])) < 1.0
    assert (out / "pes.png").exists()


def test_evaluate_refuses_elements_outside_the_checkpoint_set(pretrained_run, tmp_path, capsys):
    data = tmp_path / "nah.jsonl"
    data.write_text('{"name": "NaH", "symbols": ["Na", "H"], '
                    '"coordinates_bohr": [[0, 0, 0], [0, 0, 3.6]]}\n')
    assert main(["evaluate", "--checkpoint", str(pretrained_run), str(data),
                 "--output", str(tmp_path / "x")]) == 2
    assert "Na outside the configured element set" in capsys.readouterr().err


def test_finetune_starts_from_pretrained_weights(pretrained_run, tmp_path, capsys):
    recipe = tmp_path / "ft.yaml"
    recipe.write_text(yaml.safe_dump(dict(
        TINY_RUN, dataset="reference", geometries=["H2_R1.4"], output=str(tmp_path / "ft"),
        steps=2, pretrain={"steps": 0}, evaluation={"steps": 5},
        # The fixture's optimizer: its compiled step is reused (what is tested is where
        # the weights start, not KFAC).
        optim={"name": "adam", "learning_rate": 0.01})))
    assert main(["finetune", "--checkpoint", str(pretrained_run), str(recipe)]) == 0
    assert "H2_R1.4" in capsys.readouterr().out
    pretrained = load_pretrained(pretrained_run)
    first = checkpoint.restore(checkpoint.manager(tmp_path / "ft"),
                               {"params": pretrained.params}, step=0)["params"]
    for a, b in zip(jax.tree_util.tree_leaves(first),
                    jax.tree_util.tree_leaves(pretrained.params)):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    assert (tmp_path / "ft" / "pes.png").exists() and (tmp_path / "ft" / "results.csv").exists()


def test_finetune_refuses_a_different_model(pretrained_run, tmp_path, capsys):
    recipe = tmp_path / "ft.yaml"
    recipe.write_text(yaml.safe_dump({"dataset": "reference", "model": "small",
                                      "output": str(tmp_path / "ft")}))
    assert main(["finetune", "--checkpoint", str(pretrained_run), str(recipe)]) == 2
    assert "model='tiny', the recipe sets 'small'" in capsys.readouterr().err


def test_plot_runs_compares_energy_curves(pretrained_run, tmp_path, capsys):
    output = tmp_path / "compare.png"
    assert main(["plot-runs", str(pretrained_run), "--geometry", "H2_d1.600",
                 "--reference", "-1.17", "--output", str(output)]) == 0
    assert output.stat().st_size > 0
    assert main(["plot-runs", str(pretrained_run), "--geometry", "H9",
                 "--output", str(output)]) == 2
    assert "no VMC steps on geometry 'H9'" in capsys.readouterr().err


@pytest.mark.slow
def test_compare_finetune_evaluates_both_runs_at_equal_budgets(pretrained_run, tmp_path,
                                                               capsys):
    recipe = tmp_path / "ft.yaml"
    recipe.write_text(yaml.safe_dump(dict(
        TINY_RUN, dataset="reference", geometries=["H2_R1.4"], output=str(tmp_path / "ft"),
        steps=4, pretrain={"steps": 0}, evaluation={"steps": 6},
        optim={"learning_rate": 0.02})))  # offset 0: one compiled KFAC step for both
    out = tmp_path / "vs"
    command = ["compare-finetune", "--checkpoint", str(pretrained_run), str(recipe),
               "--budgets", "0", "2", "4", "--scratch-pretrain-steps", "3",
               "--output", str(out)]
    assert main(command) == 0
    assert "H2_R1.4" in capsys.readouterr().out
    rows = list(csv.DictReader(open(out / "comparison.csv")))
    assert [int(r["step"]) for r in rows] == [0, 2, 4]
    # Step 0 of the fine-tuned run is the checkpoint itself: its evaluation is exactly the
    # zero-shot evaluation with the same walkers, burn-in, sweeps and seed.
    assert main(["evaluate", "--checkpoint", str(pretrained_run), "reference", "--geometries",
                 "H2_R1.4", "--walkers", "64", "--burn-in", "10", "--steps", "6",
                 "--output", str(tmp_path / "zero_shot")]) == 0
    zero_shot = list(csv.DictReader(open(tmp_path / "zero_shot" / "results.csv")))[0]
    assert float(rows[0]["finetune_energy"]) == pytest.approx(float(zero_shot["energy"]),
                                                              rel=1e-12)
    assert float(rows[0]["scratch_energy"]) != pytest.approx(float(rows[0]["finetune_energy"]))
    for run in ("finetune", "scratch"):  # the budget-0 time is the burn-in (and HF pretraining)
        times = [float(r[f"{run}_wall_time"]) for r in rows]
        assert 0 < times[0] and times == sorted(times)
    assert (out / "comparison.png").stat().st_size > 0
    # Repeating the command reuses the finished runs and evaluations.
    logs = {run: (out / run / "metrics.jsonl").read_text() for run in ("finetune", "scratch")}
    assert main(command) == 0
    assert logs == {run: (out / run / "metrics.jsonl").read_text()
                    for run in ("finetune", "scratch")}
    assert list(csv.DictReader(open(out / "comparison.csv"))) == rows
    capsys.readouterr()
    assert main([*command[:-4], "--budgets", "9", "--output", str(out)]) == 2
    assert "budget 9 is outside 0..steps=4" in capsys.readouterr().err


def test_paired_runs_differ_only_where_a_scratch_run_must(tmp_path):
    base = build(RunConfig, dict(TINY_RUN, dataset="reference", geometries=["H2_R1.4"],
                                 steps=300, pretrain={"steps": 0}, evaluation={"steps": 50},
                                 optim={"learning_rate": 0.02, "schedule_offset": 500}))
    pair = paired_configs(base, tmp_path, [0, 100, 150, 300], scratch_pretrain_steps=1000)
    finetune, scratch = pair["finetune"], pair["scratch"]
    assert (finetune.optim.schedule_offset, scratch.optim.schedule_offset) == (500, 0)
    assert (finetune.pretrain.steps, scratch.pretrain.steps) == (0, 1000)
    assert finetune.checkpoint.every == 50 and finetune.checkpoint.keep >= 300 // 50 + 1
    assert finetune.evaluation.steps == 0  # budgets are evaluated separately
    same = dict(output="x", optim=base.optim, pretrain=base.pretrain)
    assert (dataclasses.replace(finetune, **same) == dataclasses.replace(scratch, **same))
    with pytest.raises(ValueError, match="budget 400 is outside 0..steps=300"):
        paired_configs(base, tmp_path, [0, 400], scratch_pretrain_steps=1000)
    # A fine-tuning folder started from another checkpoint is never resumed.
    (tmp_path / "finetune").mkdir()
    (tmp_path / "finetune" / "origin.json").write_text('"/runs/old@1200"')
    with pytest.raises(ValueError, match="was started from '/runs/old@1200'"):
        train(finetune, None, "/runs/new@1200")


def test_exported_model_is_used_by_name(pretrained_run, tmp_path, monkeypatch, capsys):
    from foundation_wf.train import shipped

    monkeypatch.setattr(shipped, "MODELS_DIR", tmp_path / "models")
    assert main(["model", "export", str(pretrained_run), "chains", "--description",
                 "tiny test model"]) == 0
    folder = tmp_path / "models" / "chains"
    step_folder = folder / "checkpoints" / "4"
    assert (step_folder / "params").is_dir() and not (step_folder / "state").exists()
    card = shipped.shipped_cards()[0]
    assert (card.name, card.step, card.walker_steps, card.compounds, card.preset) == (
        "chains", 4, 4 * 64, ["H2"], "tiny")
    capsys.readouterr()
    assert main(["model", "list"]) == 0
    assert "chains: tiny test model" in capsys.readouterr().out
    by_name, from_run = load_pretrained("chains"), load_pretrained(pretrained_run)
    assert by_name.step == 4 and by_name.meta == from_run.meta
    for a, b in zip(jax.tree_util.tree_leaves(by_name.params),
                    jax.tree_util.tree_leaves(from_run.params)):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    assert main(["model", "export", str(pretrained_run), "chains", "--description", "x"]) == 2
    assert "exists" in capsys.readouterr().err


def test_checkpoint_of_another_format_version_is_refused(pretrained_run, tmp_path):
    pretrained = load_pretrained(pretrained_run)
    old = dict(pretrained.meta, format_version=0)
    checkpoint.save_params(checkpoint.folder_manager(tmp_path / "old"), 4, pretrained.params, old)
    with pytest.raises(checkpoint.CheckpointMismatch, match="format version 0, this version"):
        load_pretrained(tmp_path / "old")


def test_checkpoint_from_before_a_model_field_keeps_its_ansatz(pretrained_run, tmp_path):
    """A checkpoint that does not record ModelConfig.neighbour_mean (written before it
    existed) is read with neighbour sums, and a fine-tuning recipe inherits that
    configuration rather than the preset of today; a recipe asking for another model is
    refused."""
    pretrained = load_pretrained(pretrained_run)
    model = dict(pretrained.meta["model"])
    model["config"] = {k: v for k, v in model["config"].items() if k != "neighbour_mean"}
    checkpoint.save_params(checkpoint.folder_manager(tmp_path / "old"), 4, pretrained.params,
                           dict(pretrained.meta, model=model))
    old = load_pretrained(tmp_path / "old")
    assert old.model_config == dataclasses.replace(pretrained.model_config,
                                                   neighbour_mean=False)
    config = build(RunConfig, inherit({"dataset": "reference", "model": old.preset}, old))
    assert config.model == old.model_config
    with pytest.raises(checkpoint.CheckpointMismatch, match="the recipe sets 'large'"):
        inherit({"dataset": "reference", "model": "large"}, old)


def test_api_energy_of_a_geometry_given_by_coordinates(pretrained_run):
    from foundation_wf import api

    model = api.load_model(pretrained_run)
    result = api.energy(model, ["H", "H"], [[0, 0, 0], [0, 0, 1.4]], walkers=64, burn_in=10,
                        sweeps=10)
    exact = -1.17447571422  # H2 at R = 1.4 bohr (datasets/reference)
    assert result.energy >= exact - 3 * result.error and 0 < result.error < 0.05
    assert abs(result.energy - result.hf_energy) < 1.0 and result.finetune_steps == 0
    assert result.energy_per_atom == pytest.approx(result.energy / 2)


@pytest.mark.parametrize("card", shipped_cards(), ids=lambda card: card.name)
def test_shipped_model_is_accurate_zero_shot_on_its_check_geometry(card, tmp_path):
    """Every model in models/ loads by name and evaluates a held-out geometry with a
    reference: variational, far below HF, and within the error its card states."""
    out = tmp_path / "check"
    assert main(["evaluate", "--checkpoint", card.name, card.check["dataset"], "--geometries",
                 card.check["geometry"], "--walkers", "128", "--burn-in", "30", "--steps", "40",
                 "--output", str(out)]) == 0
    row = json.loads((out / "results.json").read_text())[0]
    assert row["energy"] >= row["reference"] - 3 * row["error"]
    assert row["energy"] < row["hf_energy"] - 0.05
    assert row["energy"] - row["reference"] < card.check["max_error_Ha"] + 3 * row["error"]
