"""Which geometry the next optimizer step trains on.

Round robin until every geometry has been visited once, then the geometry with the largest
local-energy spread (standard deviation, hartree) — unless one has waited ``max_age`` steps,
which then goes first (oldest first), so none starves. Deterministic: its whole state is two
arrays, saved in checkpoints.
"""

from __future__ import annotations

import dataclasses

import numpy as np


@dataclasses.dataclass
class GeometryScheduler:
    """State: ``last_step[g]`` (-1 = never trained) and ``spread[g]`` (last std of E_L)."""

    n_geometries: int
    max_age: int
    last_step: np.ndarray = None  # type: ignore[assignment]
    spread: np.ndarray = None  # type: ignore[assignment]

    def __post_init__(self):
        if self.max_age < self.n_geometries:
            raise ValueError(f"scheduler max_age ({self.max_age}) must be at least the number "
                             f"of geometries ({self.n_geometries})")
        if self.last_step is None:
            self.last_step = np.full(self.n_geometries, -1, dtype=np.int64)
        if self.spread is None:
            self.spread = np.zeros(self.n_geometries, dtype=np.float64)

    def pick(self, step: int) -> int:
        """Index of the geometry to train at optimizer step ``step``."""
        never = np.flatnonzero(self.last_step < 0)
        if never.size:
            return int(never[0])
        age = step - self.last_step
        overdue = np.flatnonzero(age >= self.max_age)
        if overdue.size:
            return int(overdue[np.argmax(age[overdue])])
        return int(np.argmax(self.spread))

    def update(self, index: int, step: int, spread: float) -> None:
        self.last_step[index] = step
        if np.isfinite(spread):
            self.spread[index] = spread

    def state(self) -> dict[str, np.ndarray]:
        return {"last_step": self.last_step.copy(), "spread": self.spread.copy()}

    def load(self, state: dict) -> None:
        self.last_step = np.asarray(state["last_step"], dtype=np.int64).copy()
        self.spread = np.asarray(state["spread"], dtype=np.float64).copy()
