"""Rows of fetched optimizer-step metrics and the rule for which rows are logged."""

import math

import numpy as np

from foundation_wf.train.compiled import STEP_METRICS
from foundation_wf.train.step_metrics import (DispatchedStep, fetched_rows, fetch_interval,
                                              is_logged, local_energy_spread)

NAMES, COMPOUNDS = ["H2_d1.4", "H4_d1.8", "LiH_R3.0"], ["H2", "H4", "LiH"]


def metrics(energy, variance, skipped=0.0):
    values = dict(energy=energy, variance=variance, acceptance=0.5, step_size=0.2,
                  skipped=skipped, nonfinite_walkers=3.0)
    return [values[name] for name in STEP_METRICS]


def test_rows_name_their_geometries_and_drop_non_finite_values():
    pending = [DispatchedStep(7, (2, 0), (4, 9),
                              np.array([metrics(-8.0, 0.04), metrics(np.nan, np.inf, 1.0)]))]
    [rows] = fetched_rows(pending, NAMES, COMPOUNDS)
    assert [(r["geometry"], r["compound"], r["geometry_steps"]) for r in rows] == [
        ("LiH_R3.0", "LiH", 4), ("H2_d1.4", "H2", 9)]
    assert rows[0]["energy"] == -8.0 and rows[0]["skipped"] is False
    assert rows[1]["energy"] is None and rows[1]["variance"] is None and rows[1]["skipped"]
    assert all(r["step"] == 7 and r["nonfinite_walkers"] == 3 for r in rows)
    assert math.isclose(local_energy_spread(rows[0]), 0.2)
    assert math.isnan(local_energy_spread(rows[1]))


def test_every_geometry_is_logged_even_when_the_cycle_shares_a_factor_with_log_every():
    # Two geometries alternate and log_every is 2: counting run steps would log only one.
    rows = [{"step": step, "geometry_steps": step // 2 + 1, "skipped": False,
             "geometry": NAMES[step % 2]} for step in range(12)]
    logged = [r for r in rows if is_logged(r, log_every=2, last_step=99)]
    assert {r["geometry"] for r in logged} == set(NAMES[:2])
    assert [r["geometry_steps"] for r in logged] == [1, 1, 3, 3, 5, 5]


def test_last_and_skipped_steps_are_always_logged():
    row = {"step": 5, "geometry_steps": 2, "skipped": False}
    assert not is_logged(row, log_every=10, last_step=99)
    assert is_logged(row, log_every=10, last_step=5)
    assert is_logged({**row, "skipped": True}, log_every=10, last_step=99)


def test_the_spread_scheduler_fetches_every_step():
    assert fetch_interval("spread", 20) == 1
    assert fetch_interval("fair", 20) == 20
