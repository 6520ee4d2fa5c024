"""The variational optimization loop: when steps are dispatched, fetched, logged and
checkpointed, and when a diverging run is sent back to a checkpoint.

Steps are dispatched without waiting; their metrics stay on the device and are fetched in
blocks (every ``fetch_every`` steps, before each checkpoint and at the end). Skipped steps
are counted; too many in a row (``DivergenceMonitor``) trigger a recovery, decided before
any later checkpoint is saved. What a step does, and what saving or recovering means, is
the run's (``TrainingRun``; ``Trainer`` is one).
"""

from __future__ import annotations

import dataclasses
from typing import Protocol

from foundation_wf.train import step_metrics
from foundation_wf.train.divergence import DivergenceMonitor
from foundation_wf.train.loggers import ProgressBar


class TrainingRun(Protocol):
    """What the loop drives: a run whose ``step`` counts the optimizer steps taken."""

    step: int

    def dispatch_step(self) -> step_metrics.DispatchedStep:
        """Start one optimizer step (advancing ``step``) without waiting for it."""

    def fetch_rows(self, pending: list[step_metrics.DispatchedStep]) -> list[list[dict]]:
        """The metrics rows of the pending steps, one list per step."""

    def save_checkpoint(self) -> None:
        """Save the state after the last dispatched step."""

    def recover(self, geometry: str, failed_step: int) -> None:
        """Go back to a checkpoint after divergence (moving ``step`` back), or raise."""

    def emit(self, row: dict) -> None:
        """Hand a logged row to the run's loggers."""


@dataclasses.dataclass(frozen=True)
class LoopSchedule:
    """last_step: the loop stops when the run's step reaches it, with every dispatched
    step fetched; checkpoint_every: a checkpoint after every step that is a multiple of it
    and after the run's final step (not when the loop stops earlier: ``fwf bench`` times
    steps, not a save); fetch_every: steps dispatched between metric fetches; log_every and
    final_step: which rows are logged (``step_metrics.is_logged``; final_step is the run's
    last step, logged always)."""

    last_step: int
    checkpoint_every: int
    fetch_every: int
    log_every: int
    final_step: int


def optimize(run: TrainingRun, schedule: LoopSchedule, divergence: DivergenceMonitor) -> int:
    """Optimize ``run`` up to ``schedule.last_step``; returns the number of skipped steps
    seen (recovered runs count the skipped steps before their recovery too)."""
    if run.step >= schedule.last_step:
        return 0
    bar = ProgressBar(schedule.last_step, "VMC", initial=run.step)
    skipped = 0
    pending = []
    try:
        while run.step < schedule.last_step:
            pending.append(run.dispatch_step())
            checkpoint_due = (run.step % schedule.checkpoint_every == 0
                              or run.step == schedule.final_step + 1)
            # Fetch after a step that is logged, so that its wall time is when it ended.
            if not (checkpoint_due or run.step == schedule.last_step
                    or (run.step - 1) % schedule.fetch_every == 0):
                continue
            steps, pending = run.fetch_rows(pending), []
            for rows in steps:
                step, failed = rows[0]["step"], rows[0]["skipped"]
                skipped += failed
                for row in rows:
                    bar(row)
                    if step_metrics.is_logged(row, schedule.log_every, schedule.final_step):
                        run.emit(row)
                if divergence.observe(skipped=failed):
                    run.recover(", ".join(row["geometry"] for row in rows), step)
                    break
            else:
                if checkpoint_due:
                    run.save_checkpoint()
    finally:
        bar.close()
    return skipped
