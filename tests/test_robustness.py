"""A run never lies: bad settings, bad files, a locked folder, a diverging optimisation and a
corrupt HF cache end in one-line errors (or recover), and nothing already saved is lost.

Resume with changed settings, kill -9 and a corrupt checkpoint are tested in
test_checkpoints.py, a diverging run in test_training.py (on the run folders and compiled
functions of those modules).
"""

import json
import math
import os
import pathlib
import re
import subprocess
import sys

import numpy as np
import pytest
import yaml

from conftest import TINY_RUN
from foundation_wf import jsonfile
from foundation_wf.cli.main import main
from foundation_wf.hf import DescriptorCache, DescriptorSettings, geometry_hf
from foundation_wf.systems import Molecule, MoleculeError
from foundation_wf.train.config import RunConfig, build, load_config
from foundation_wf.train.divergence import DivergenceConfig, DivergenceMonitor
from foundation_wf.train.run_folder import RunFolderLock, settings_differences
from foundation_wf.train.state import checked_records
from foundation_wf.vmc.stats import reblock

H2_RUN = dict(TINY_RUN, dataset="reference", geometries=["H2_R1.4"])
REPOSITORY = pathlib.Path(__file__).resolve().parents[1]


def write_recipe(folder, **changes):
    recipe = folder / "recipe.yaml"
    recipe.write_text(yaml.safe_dump({**H2_RUN, "output": str(folder / "run"), **changes}))
    return recipe


def one_line_error(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "Traceback" not in err, err
    return err


@pytest.mark.parametrize("override, message", [
    ("optim.learning_rate=.nan", "optim.learning_rate must be a finite number"),
    ("optim.learning_rate=-1", "optim.learning_rate must be a finite number > 0"),
    ("mcmc.steps_per_update=0", "mcmc.steps_per_update must be >= 1"),
    ("mcmc.target_acceptance=5", "mcmc.target_acceptance must be between 0 and 1"),
    ("mcmc.initial_step_size=-1", "mcmc.initial_step_size must be > 0"),
    ("mcmc.burn_in=-5", "mcmc.burn_in must be >= 0"),
    ("mcmc.proposal=gaussian", "mcmc.proposal must be one of"),
    ("pretrain.steps=-5", "pretrain.steps must be >= 0"),
    ("evaluation.steps=1", "evaluation.steps must be >= 4"),
    ("seed=1180591620717411303424", "seed must be an integer in [0, 2**63)"),
    ("divergence.learning_rate_factor=2", "divergence.learning_rate_factor must be between"),
    ("laplacian=exact", "laplacian must be one of"),
    ("scheduler.compound_weights={H2: 0}", "scheduler.compound_weights.H2 must be > 0"),
])
def test_bad_settings_are_refused_in_one_line_before_any_work(tmp_path, capsys, override,
                                                              message):
    recipe = write_recipe(tmp_path)
    assert main(["pretrain", str(recipe), override]) == 2
    err = one_line_error(capsys)
    assert message in err and str(recipe) in err
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("steps", ["0", "1"])
def test_evaluation_without_enough_sweeps_for_an_error_bar_is_refused(tmp_path, capsys, steps):
    assert main(["evaluate", "--checkpoint", str(tmp_path / "none"), "reference",
                 "--steps", steps]) == 2
    assert f"--steps must be >= 4 (evaluation sweeps, enough for an error bar), got {steps}" in (
        one_line_error(capsys))


def test_floats_in_yaml_1_1_exponent_form_are_accepted(tmp_path):
    recipe = write_recipe(tmp_path, optim={"learning_rate": "3e-3"})
    assert build(RunConfig, yaml.safe_load(recipe.read_text())).optim.learning_rate == 3e-3


@pytest.mark.parametrize("content, message", [
    (b"dataset: reference\n  walkers: [1\n", "line 2, column 10: invalid YAML"),
    (b"dataset: !!python/object:os.system {}\n", "could not determine a constructor"),
    (b"\xff\xfe\x00binary", "not a UTF-8 text file"),
])
def test_unreadable_recipes_are_named_in_one_line(tmp_path, capsys, content, message):
    recipe = tmp_path / "recipe.yaml"
    recipe.write_bytes(content)
    assert main(["pretrain", str(recipe)]) == 2
    err = one_line_error(capsys)
    assert message in err and str(recipe) in err


GOOD_ROW = {"name": "H2_a", "symbols": ["H", "H"], "coordinates_bohr": [[0, 0, 0], [0, 0, 1.4]]}


@pytest.mark.parametrize("change, message", [
    ({"coordinates_bohr": [0, 0, 0, 0, 0, 1.4]}, "field 'coordinates_bohr' must be a list of"),
    ({"coordinates_bohr": [[0, 0, 0], [0, 0]]}, "field 'coordinates_bohr' must be a list of"),
    ({"charge": 0.5}, "field 'charge' must be an integer, got 0.5"),
    ({"spin": "two"}, "field 'spin' must be an integer, got 'two'"),
    ({"symbols": "HH"}, "field 'symbols' must be a list of element symbols"),
    ({"name": "x" * 10_000_000}, "field 'name' must have 1 to 80 characters"),
    ({"name": "H2/../../etc"}, "field 'name' may hold only"),
    ({"reference_energy_Ha": "low"}, "field 'reference_energy_Ha' must be a finite number"),
    ({"coordinates_bohr": [[0, 0, 0], [0, 0, 1e300]]},
     "row 2: molecule .H2_a.: coordinates must lie within"),
])
def test_bad_dataset_rows_are_named_by_file_line_and_field(tmp_path, capsys, change, message):
    path = tmp_path / "geometries.jsonl"
    path.write_text(json.dumps(GOOD_ROW) + "\n" + json.dumps({**GOOD_ROW, **change}) + "\n")
    assert main(["dataset", "show", str(path)]) == 2
    err = one_line_error(capsys)
    assert re.search(message, err) and str(path) in err
    if "row 2" not in message:  # the schema check names the line, the molecule check the row
        assert f"{path}:2:" in err


@pytest.mark.parametrize("content, message", [
    (b"", "no geometries"),
    (b'{"name": "\xff"}\n', ":1: not UTF-8 text"),
    (b'{"name": \n', ":1: invalid JSON"),
])
def test_empty_and_undecodable_dataset_files_are_named(tmp_path, capsys, content, message):
    path = tmp_path / "geometries.jsonl"
    path.write_bytes(content)
    assert main(["dataset", "show", str(path)]) == 2
    assert message in one_line_error(capsys)


def test_far_away_coordinates_are_refused():
    with pytest.raises(MoleculeError, match="within"):
        Molecule.from_symbols(["H", "H"], [[0, 0, 1e300], [0, 0, 0]], unit="bohr")


def test_one_sample_has_an_unknown_error_bar_never_zero():
    assert math.isnan(reblock([1.0]).error)
    assert reblock([1.0, 1.1]).error > 0


def test_json_outputs_write_null_for_non_finite_numbers(tmp_path):
    jsonfile.write(tmp_path / "x.json", {"energy": math.nan, "rows": [math.inf, 1.0]})
    assert json.loads((tmp_path / "x.json").read_text()) == {"energy": None,
                                                            "rows": [None, 1.0]}


def test_a_locked_run_folder_is_refused_naming_the_holder(tmp_path):
    recipe = write_recipe(tmp_path)
    lock = RunFolderLock(tmp_path / "run")
    try:
        before = sorted(p.name for p in (tmp_path / "run").iterdir())
        result = subprocess.run([sys.executable, "-m", "foundation_wf.cli.main", "pretrain",
                                 str(recipe)], capture_output=True, text=True, timeout=300)
    finally:
        lock.release()
    assert result.returncode == 2
    assert f"is in use by process {os.getpid()}" in result.stderr
    assert result.stderr.strip().count("\n") == 0
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == before


def test_a_corrupt_hf_cache_entry_is_named_deleted_and_recomputed(tmp_path, capsys):
    cache = DescriptorCache(tmp_path)
    molecule = Molecule.from_symbols(["H", "H"], [[0, 0, 0], [0, 0, 1.4]], unit="bohr")
    settings = DescriptorSettings()
    good = geometry_hf(molecule, settings, cache)
    path = cache.path(molecule, settings)
    path.write_bytes(path.read_bytes()[:100])  # truncated
    again = geometry_hf(molecule, settings, cache)
    assert f"HF cache entry {path} is unreadable" in capsys.readouterr().err
    assert again.energy == good.energy
    np.testing.assert_array_equal(again.descriptors[0], good.descriptors[0])
    assert cache.load(molecule, settings) is not None  # rewritten whole


def test_each_recovery_of_an_incident_goes_one_checkpoint_further_back():
    monitor = DivergenceMonitor(DivergenceConfig(max_skipped=2, retries=3))
    assert [monitor.observe(skipped) for skipped in (True, False, True, True)] == [
        False, False, False, True]
    steps = [0, 100, 200]
    for expected in (200, 100, 0, None):
        chosen = monitor.choose_checkpoint(steps)
        assert chosen == expected
        if chosen is not None:
            monitor.recovered(chosen)
    monitor = DivergenceMonitor(DivergenceConfig(retries=1))
    monitor.recovered(monitor.choose_checkpoint(steps))
    monitor.checkpoint_saved(300)  # progress after the recovery ends the incident
    assert monitor.choose_checkpoint([*steps, 300]) == 300


def test_resume_accepts_a_setting_added_since_at_its_default_value():
    saved = {"steps": 10, "optim": {"learning_rate": 0.02}}
    defaults = {"steps": 1000, "optim": {"learning_rate": 0.05, "warmup_steps": 0}}
    same = {"steps": 20, "optim": {"learning_rate": 0.02, "warmup_steps": 0}}
    assert settings_differences(saved, same, defaults) == ([], ["steps: 10 -> 20"])
    changed = {"steps": 10, "optim": {"learning_rate": 0.02, "warmup_steps": 50}}
    assert settings_differences(saved, changed, defaults) == (
        ["optim.warmup_steps: 0 -> 50"], [])


RECIPES = sorted(str(p.relative_to(REPOSITORY)) for folder in ("pretrain", "finetune")
                 for p in (REPOSITORY / folder).glob("*.yaml"))


@pytest.mark.parametrize("recipe", RECIPES)
def test_every_shipped_recipe_loads_with_its_geometries_and_elements(recipe):
    """What a user runs first: each recipe's settings pass their checks, and its dataset
    holds the geometries it names, in elements and a basis its descriptors cover (the
    Trainer's own check; no computation)."""
    config = load_config(REPOSITORY / recipe, [])
    assert checked_records(config.dataset, config.geometries, config.descriptors)
