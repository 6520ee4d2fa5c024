"""Pretraining across geometries: exact resume, SIGKILL during saves, refusal of mismatched
checkpoints, 2-device walkers (real Orbax, real subprocesses)."""

import json
import os
import pathlib
import signal
import subprocess
import sys
import time

import jax
import numpy as np
import pytest
import yaml

from conftest import TINY_RUN
from foundation_wf.train.checkpoint import CheckpointMismatch
from foundation_wf.train.config import RunConfig, build
from foundation_wf.train.run_folder import RunFolderError
from foundation_wf.train.scheduler import GeometryScheduler
from foundation_wf.train.trainer import Trainer

# Two compounds with different electron counts in one run; the two H2 geometries are
# trained together in each H2 step.
BASE = dict(TINY_RUN, dataset="hydrogen_chains",
            geometries=["H2_d1.600", "H2_d2.400", "H4_d2.000"], pretrain={"steps": 5},
            checkpoint={"every": 3}, scheduler={"geometries_per_step": 2})


def run(folder, steps, **changes):
    trainer = Trainer(build(RunConfig, {**BASE, "output": str(folder), "steps": steps,
                                        **changes}))
    trainer.run()
    return trainer


def metrics_rows(folder: pathlib.Path) -> list[dict]:
    return [json.loads(line) for line in (folder / "metrics.jsonl").read_text().splitlines()]


def assert_every_step_once(folder: pathlib.Path) -> None:
    rows = metrics_rows(folder)
    for phase in ("hf_pretrain", "vmc"):  # a vmc step has one row per geometry trained
        steps = [(r["step"], r["geometry"]) for r in rows if r["phase"] == phase]
        assert len(steps) == len(set(steps)), (phase, steps)
    csv_lines = (folder / "metrics.csv").read_text().splitlines()
    assert len(csv_lines) == len(rows) + 1  # header


def corrupt(checkpoint_folder: pathlib.Path) -> None:
    """Truncate every data file of a checkpoint's state item to half its size."""
    for path in (checkpoint_folder / "state").rglob("*"):
        if path.is_file() and path.parent.name == "d":
            path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def test_resume_continues_exactly_also_past_a_corrupt_checkpoint(tmp_path, capsys, caplog):
    with jax.log_compiles():
        straight = run(tmp_path / "straight", 6)
        run(tmp_path / "resumed", 3)
        run(tmp_path / "resumed", 4)  # resumes from step 3: checkpoints 0, 3, 4
        corrupt(tmp_path / "resumed" / "checkpoints" / "4")
        capsys.readouterr()
        resumed = run(tmp_path / "resumed", 6)
    err = capsys.readouterr().err
    assert "checkpoints/4 is unreadable" in err and "trying the previous one" in err
    assert (tmp_path / "resumed" / "unreadable_checkpoints" / "4").is_dir()
    assert resumed.step == straight.step == 6
    assert_every_step_once(tmp_path / "resumed")
    for a, b in zip(jax.tree_util.tree_leaves(straight.params),
                    jax.tree_util.tree_leaves(resumed.params)):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    for s, r in zip(straight.states, resumed.states):
        np.testing.assert_array_equal(np.asarray(s.walkers.electrons),
                                      np.asarray(r.walkers.electrons))
    # One compiled training step per compound (H2 pair, H4) for all four runs: restored
    # walkers and parameters are placed as a fresh run's, so a resume does not recompile.
    assert resumed.train_step is straight.train_step
    compiles = [r.getMessage() for r in caplog.records]
    assert sum(m.startswith("Compiling jit(vmc_step)") for m in compiles) == 2
    # Both compounds were trained.
    rows = [json.loads(line) for line in
            (tmp_path / "straight" / "metrics.jsonl").read_text().splitlines()]
    assert {r["compound"] for r in rows if r["phase"] == "vmc"} == {"H2", "H4"}


def test_mismatched_checkpoint_is_refused_naming_the_field(tmp_path):
    run(tmp_path, 1)
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.is_file()}
    with pytest.raises(RunFolderError, match=r"other settings \(optim.learning_rate: 0.05 -> "
                                             r"0.1; optim.name: 'kfac' -> 'adam'\)"):
        Trainer(build(RunConfig, {**BASE, "output": str(tmp_path),
                                  "optim": {"name": "adam", "learning_rate": 0.1}}))
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.is_file()} == before
    with pytest.raises(CheckpointMismatch, match="model.preset='tiny', this run has 'small'"):
        Trainer(build(RunConfig, {**BASE, "output": str(tmp_path), "model": "small"}))
    with pytest.raises(CheckpointMismatch, match="descriptors.elements"):
        Trainer(build(RunConfig, {**BASE, "output": str(tmp_path),
                                  "descriptors": {"elements": ["H", "He"]}}))
    with pytest.raises(CheckpointMismatch, match="descriptors.basis"):
        Trainer(build(RunConfig, {**BASE, "output": str(tmp_path),
                                  "descriptors": {"basis": "sto-3g"}}))
    with pytest.raises(CheckpointMismatch,
                       match="descriptors.reference='unrestricted', this run has 'restricted'"):
        Trainer(build(RunConfig, {**BASE, "output": str(tmp_path),
                                  "descriptors": {"reference": "restricted"}}))


def test_scheduler_round_robin_then_spread_with_age_limit():
    scheduler = GeometryScheduler(["A", "A", "B"], max_age=4, policy="spread")
    picks = []
    spreads = {0: 0.1, 1: 0.5, 2: 0.2}
    for step in range(10):
        index = scheduler.pick(step)
        picks.append(index)
        scheduler.record(index, step)
        scheduler.observe(index, spreads[index])
    assert picks[:3] == [0, 1, 2]  # round robin first
    assert picks[3] == 1  # largest spread next
    for g in range(3):  # nobody waits longer than max_age
        steps = [i for i, p in enumerate(picks) if p == g]
        assert max(np.diff(steps)) <= 4 + 1


def test_fair_scheduler_gives_each_compound_and_geometry_an_equal_share():
    compounds = ["H2"] * 2 + ["H4"] * 3 + ["H6"] * 1
    scheduler = GeometryScheduler(compounds, max_age=6)
    for step in range(36):
        scheduler.record(scheduler.pick(step), step)
    per_compound = {c: sum(n for g, n in zip(compounds, scheduler.steps) if g == c)
                    for c in set(compounds)}
    assert per_compound == {"H2": 12, "H4": 12, "H6": 12}
    assert list(scheduler.steps) == [6, 6, 4, 4, 4, 12]


def test_compound_weights_set_the_fair_shares():
    compounds = ["H2"] * 2 + ["Li2"] * 2 + ["LiH"]
    scheduler = GeometryScheduler(compounds, max_age=5, compound_weights={"Li2": 3})
    for step in range(50):
        scheduler.record(scheduler.pick(step), step)
    assert list(scheduler.steps) == [5, 5, 15, 15, 10]
    with pytest.raises(ValueError, match="'Be2', which is not a compound"):
        GeometryScheduler(compounds, max_age=5, compound_weights={"Be2": 2})


def test_fair_groups_take_the_least_trained_geometries_of_one_compound():
    compounds = ["H2"] * 2 + ["H4"] * 3
    scheduler = GeometryScheduler(compounds, max_age=5)
    groups = []
    for step in range(6):
        group = scheduler.pick_group(step, 2)
        for index in group:
            scheduler.record(index, step)
        groups.append(group)
    # Compounds alternate (equal geometry-steps); within H4 the least trained go first.
    assert groups == [[0, 1], [2, 3], [0, 1], [2, 4], [0, 1], [3, 4]]
    assert list(scheduler.steps) == [3, 3, 2, 2, 2]


def write_recipe(folder: pathlib.Path, **changes) -> pathlib.Path:
    recipe = folder / "recipe.yaml"
    recipe.write_text(yaml.safe_dump({**BASE, "output": str(folder / "run"), **changes}))
    return recipe


def fwf(*args, env=None, **kwargs):
    return subprocess.Popen([sys.executable, "-m", "foundation_wf.cli.main", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env={**os.environ, **(env or {})}, **kwargs)


@pytest.mark.slow
def test_sigkill_during_saves_resumes_from_last_complete_checkpoint(tmp_path):
    recipe = write_recipe(tmp_path, steps=400, checkpoint={"every": 1, "keep": 2})
    process = fwf("pretrain", str(recipe))
    checkpoints = tmp_path / "run" / "checkpoints"
    deadline = time.time() + 240
    while time.time() < deadline:
        done = [p for p in checkpoints.glob("*") if p.name.isdigit()] if checkpoints.exists() else []
        if len(done) >= 2 and max(int(p.name) for p in done) >= 4:
            break
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert process.returncode == -signal.SIGKILL
    finished = sorted(int(p.name) for p in checkpoints.iterdir() if p.name.isdigit())
    assert finished, "no complete checkpoint before the kill"
    resumed = fwf("pretrain", str(recipe), f"steps={finished[-1] + 2}")
    output, _ = resumed.communicate(timeout=300)
    assert resumed.returncode == 0, output
    assert f"from step {finished[-1]}" in output
    assert_every_step_once(tmp_path / "run")


@pytest.mark.slow
def test_two_devices_match_one_and_restore_on_one(tmp_path):
    recipe = write_recipe(tmp_path, steps=30, geometries=["H2_d1.600"],
                          evaluation={"steps": 30})
    two = fwf("pretrain", str(recipe), f"output={tmp_path / 'two'}",
              env={"XLA_FLAGS": "--xla_force_host_platform_device_count=2"})
    one = fwf("pretrain", str(recipe), f"output={tmp_path / 'one'}")
    for process, count in ((two, 2), (one, 1)):
        output, _ = process.communicate(timeout=400)
        assert process.returncode == 0, output
        assert f"devices: {count} x cpu" in output
    results = {name: json.loads((tmp_path / name / "results.json").read_text())[0]
               for name in ("one", "two")}
    difference = abs(results["one"]["energy"] - results["two"]["energy"])
    combined = np.hypot(results["one"]["error"], results["two"]["error"])
    assert difference < 5 * combined + 5e-3
    # Zero-shot from a checkpoint on two devices: its weights (restored on one device) are
    # replicated on the walker mesh.
    evaluate = fwf("evaluate", "--checkpoint", str(tmp_path / "two"), "reference",
                   "--geometries", "H2_R1.4", "--walkers", "64", "--burn-in", "10",
                   "--steps", "10", "--output", str(tmp_path / "zero_shot"),
                   env={"XLA_FLAGS": "--xla_force_host_platform_device_count=2"})
    output, _ = evaluate.communicate(timeout=400)
    assert evaluate.returncode == 0, output
    assert "devices: 2 x cpu" in output and "H2_R1.4" in output
    # The 2-device checkpoint continues on this 1-device process.
    trainer = Trainer(build(RunConfig, {**yaml.safe_load(recipe.read_text()),
                                        "output": str(tmp_path / "two"), "steps": 32,
                                        "evaluation": {"steps": 0}}))
    trainer.run()
    assert trainer.step == 32
