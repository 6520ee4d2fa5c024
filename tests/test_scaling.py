"""The scaling study end to end on tiny runs: points on all three axes, then a repeat that
reuses every finished run and evaluation (real PySCF and JAX)."""

import json

import pytest
import yaml

from conftest import TINY_RUN
from foundation_wf.analysis.scaling import study_configs
from foundation_wf.cli.main import main
from foundation_wf.train.config import ConfigError, RunConfig, build

RECIPE = dict(TINY_RUN, dataset="hydrogen_chains", geometries=["H2_d1.600", "H4_d2.000"],
              walkers=16, pretrain={"steps": 2}, mcmc={"burn_in": 4},
              evaluation={"steps": 4}, steps=4)


def test_study_configs_share_the_largest_budget_and_select_compounds(tmp_path):
    base = build(RunConfig, {**RECIPE, "output": str(tmp_path)})
    configs = study_configs(base, tmp_path, [2, 4], ["tiny", "small"], [1, 2])
    assert sorted(configs) == ["compounds_1", "preset_small", "steps"]
    assert {c.steps for c in configs.values()} == {4}
    assert configs["steps"].checkpoint.every == 2 and configs["steps"].checkpoint.keep == 3
    assert configs["compounds_1"].geometries == ("H2_d1.600",)
    with pytest.raises(ConfigError, match="compound count 3 is outside 1..2"):
        study_configs(base, tmp_path, [4], ["tiny"], [3])


@pytest.mark.slow
def test_scaling_command_writes_three_axes_and_reuses_finished_points(tmp_path, capsys):
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(yaml.safe_dump({**RECIPE, "output": str(tmp_path / "study")}))
    command = ["scaling", str(recipe), "--heldout", "reference", "--geometries", "H2_R1.4",
               "--budgets", "2", "4", "--presets", "tiny", "--compounds", "1", "2",
               "--output", str(tmp_path / "study")]
    assert main(command) == 0
    points = json.loads((tmp_path / "study" / "scaling.json").read_text())["points"]
    assert [(p["axis"], p["value"]) for p in points] == [
        ("steps", 2), ("steps", 4), ("preset", "tiny"), ("compounds", 1), ("compounds", 2)]
    # A zero-shot energy of H2 is variational: above the exact -1.1745 Ha, within reason.
    assert all(-1.2 < p["energy"] < 0.0 for p in points)
    assert (tmp_path / "study" / "scaling.png").stat().st_size > 0
    markers = sorted((tmp_path / "study").rglob("*.json"))
    stamps = {m: m.stat().st_mtime_ns for m in markers if m.name != "scaling.json"}
    capsys.readouterr()
    assert main(command) == 0
    assert "Burn-in" not in capsys.readouterr().err  # nothing trained or evaluated again
    assert {m: m.stat().st_mtime_ns for m in stamps} == stamps
