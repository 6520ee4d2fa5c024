"""Metrics of dispatched optimizer steps: rows for the metrics files, and which are logged.

The training loop dispatches steps without waiting and fetches their metrics in blocks
(``fetch_interval``); each fetched step becomes one row per trained geometry.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Sequence

import jax
import numpy as np

from foundation_wf.train.compiled import STEP_METRICS


@dataclasses.dataclass(frozen=True)
class DispatchedStep:
    """An optimizer step whose metrics are still on the device.

    step: the step's number; indices: the geometries it trained; counts: how many steps each
    of them has had, this one included; metrics: [len(indices), len(STEP_METRICS)].
    """

    step: int
    indices: tuple[int, ...]
    counts: tuple[int, ...]
    metrics: jax.Array


def step_rows(step: DispatchedStep, values: np.ndarray, names: Sequence[str],
              compounds: Sequence[str]) -> list[dict]:
    """One metrics row per geometry of ``step`` from its fetched ``values`` [G, M];
    ``names`` and ``compounds`` are indexed by geometry. Non-finite energies and variances
    become None."""
    rows = []
    for index, count, vector in zip(step.indices, step.counts, values):
        metrics = dict(zip(STEP_METRICS, (float(v) for v in vector)))
        rows.append({
            "phase": "vmc", "step": step.step, "geometry": names[index],
            "compound": compounds[index], "geometry_steps": count,
            **{key: (metrics[key] if math.isfinite(metrics[key]) else None)
               for key in ("energy", "variance")},
            "acceptance": metrics["acceptance"], "step_size": metrics["step_size"],
            "skipped": bool(metrics["skipped"]),
            "nonfinite_walkers": int(metrics["nonfinite_walkers"])})
    return rows


def fetched_rows(pending: Sequence[DispatchedStep], names: Sequence[str],
                 compounds: Sequence[str]) -> list[list[dict]]:
    """The rows of each pending step (see ``step_rows``), fetched in one transfer."""
    values = jax.device_get([step.metrics for step in pending])
    return [step_rows(step, matrix, names, compounds) for step, matrix in zip(pending, values)]


def local_energy_spread(row: dict) -> float:
    """Standard deviation (hartree) of a row's local energies; NaN for a skipped step or a
    non-finite variance (the scheduler keeps its previous value then)."""
    if row["skipped"] or row["variance"] is None:
        return math.nan
    return math.sqrt(row["variance"])


def is_logged(row: dict, log_every: int, last_step: int) -> bool:
    """Whether a row goes to the metrics files: every ``log_every``-th step of each geometry
    (counted per geometry, so that no compound is missed when the scheduler's cycle and
    ``log_every`` share a factor), its first, the run's ``last_step`` and every skipped
    step."""
    return ((row["geometry_steps"] - 1) % log_every == 0
            or row["step"] == last_step or row["skipped"])


def fetch_interval(scheduler_policy: str, log_every: int) -> int:
    """Steps dispatched between metric fetches: ``log_every``, or 1 for the spread
    scheduler, whose next pick needs the last step's spread."""
    return 1 if scheduler_policy == "spread" else log_every
