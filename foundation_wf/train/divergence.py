"""Recovery from a diverging optimisation: when updates keep failing, go back to a checkpoint
with a smaller learning rate; after a bounded number of recoveries, stop with an error.

A step is *skipped* when its energy or its updated parameters are not finite (the update is
not applied). ``max_skipped`` skipped steps in a row count as divergence. Recovery number r
(1, 2, ...) of one incident restores the newest checkpoint older than the one the previous
recovery used (so a checkpoint saved after a destructive but finite update is passed over)
and multiplies the learning rate by ``learning_rate_factor`` (kept in later checkpoints). A
checkpoint saved after a recovery closes the incident.
"""

from __future__ import annotations

import dataclasses

from foundation_wf.train.config_checks import require_at_least, require_between_0_and_1


class RunDiverged(RuntimeError):
    """The optimisation kept failing after every allowed recovery."""


@dataclasses.dataclass(frozen=True)
class DivergenceConfig:
    """max_skipped: skipped steps in a row that count as divergence; learning_rate_factor:
    multiplies the learning rate at each recovery; retries: recoveries per incident before
    the run stops with an error (0 = stop at the first divergence)."""

    max_skipped: int = 5
    learning_rate_factor: float = 0.5
    retries: int = 3

    def __post_init__(self):
        require_at_least(1, max_skipped=self.max_skipped)
        require_at_least(0, retries=self.retries)
        require_between_0_and_1(learning_rate_factor=self.learning_rate_factor)


@dataclasses.dataclass
class DivergenceMonitor:
    """Counts skipped steps in a row and the recoveries of the current incident."""

    config: DivergenceConfig
    skipped_in_a_row: int = 0
    recoveries: int = 0
    restored_step: int | None = None  # the checkpoint the last recovery restored

    def observe(self, skipped: bool) -> bool:
        """Record one optimizer step; True when the run has diverged."""
        self.skipped_in_a_row = self.skipped_in_a_row + 1 if skipped else 0
        return self.skipped_in_a_row >= self.config.max_skipped

    def checkpoint_saved(self, step: int) -> None:
        """A checkpoint after the restored one ends the incident."""
        if self.restored_step is not None and step > self.restored_step:
            self.recoveries, self.restored_step = 0, None

    def choose_checkpoint(self, steps: list[int]) -> int | None:
        """The checkpoint for the next recovery, or None when no retry is left."""
        if self.recoveries >= self.config.retries or not steps:
            return None
        older = [s for s in steps if self.restored_step is None or s < self.restored_step]
        return max(older) if older else min(steps)

    def recovered(self, step: int) -> None:
        self.recoveries += 1
        self.restored_step = step
        self.skipped_in_a_row = 0
