"""Which geometries the next optimizer step trains on.

Two policies (``SchedulerConfig.policy``):

* ``fair`` (default): the compound with the fewest steps so far, and within it the geometry
  with the fewest steps (ties: dataset order). Every compound gets the same share of the
  steps, whatever its number of geometries (or the share its weight sets, when
  ``compound_weights`` are given), and the geometries of a compound share its steps
  equally. Needs no statistics.
* ``spread``: round robin until every geometry has been visited once, then the geometry with
  the largest local-energy spread (standard deviation, hartree), unless one has waited
  ``max_age`` steps, which then goes first (oldest first), so none starves.

Deterministic: the whole state is three arrays, saved in checkpoints.
"""

from __future__ import annotations

import dataclasses
from typing import Mapping, Sequence

import numpy as np

POLICIES = ("fair", "spread")


@dataclasses.dataclass
class GeometryScheduler:
    """State: ``last_step[g]`` (-1 = never trained), ``spread[g]`` (last std of E_L, hartree)
    and ``steps[g]`` (optimizer steps trained so far) for each geometry g.

    ``compounds[g]`` is geometry g's compound name (the unit of the fair share);
    ``compound_weights[name]`` its relative share under the fair policy (default 1).
    """

    compounds: Sequence[str]
    max_age: int
    policy: str = "fair"
    compound_weights: Mapping[str, float] = dataclasses.field(default_factory=dict)
    last_step: np.ndarray = None  # type: ignore[assignment]
    spread: np.ndarray = None  # type: ignore[assignment]
    steps: np.ndarray = None  # type: ignore[assignment]

    def __post_init__(self):
        n = len(self.compounds)
        if self.policy not in POLICIES:
            raise ValueError(f"scheduler policy must be one of {POLICIES}, got {self.policy!r}")
        if self.max_age < n:
            raise ValueError(f"scheduler max_age ({self.max_age}) must be at least the number "
                             f"of geometries ({n})")
        names = sorted(set(self.compounds), key=list(self.compounds).index)
        unknown = sorted(set(self.compound_weights) - set(names))
        if unknown:
            raise ValueError(f"scheduler.compound_weights names {unknown[0]!r}, which is not "
                             f"a compound of the dataset (compounds: {', '.join(names)})")
        self._compound = np.array([names.index(c) for c in self.compounds], dtype=np.int64)
        self._weight = np.array([float(self.compound_weights.get(c, 1.0)) for c in names])
        if self.last_step is None:
            self.last_step = np.full(n, -1, dtype=np.int64)
        if self.spread is None:
            self.spread = np.zeros(n, dtype=np.float64)
        if self.steps is None:
            self.steps = np.zeros(n, dtype=np.int64)

    def pick(self, step: int) -> int:
        """Index of the geometry to train at optimizer step ``step``."""
        if self.policy == "fair":
            per_compound = np.bincount(self._compound, weights=self.steps) / self._weight
            members = np.flatnonzero(self._compound == np.argmin(per_compound))
            return int(members[np.argmin(self.steps[members])])
        never = np.flatnonzero(self.last_step < 0)
        if never.size:
            return int(never[0])
        age = step - self.last_step
        overdue = np.flatnonzero(age >= self.max_age)
        if overdue.size:
            return int(overdue[np.argmax(age[overdue])])
        return int(np.argmax(self.spread))

    def pick_group(self, step: int, size: int) -> list[int]:
        """Indices (in dataset order) of the geometries trained together at optimizer step
        ``step``: the one ``pick`` chooses and up to ``size - 1`` more of its compound, those
        with the fewest steps (fair) or the largest spread (spread) first."""
        first = self.pick(step)
        others = [int(m) for m in np.flatnonzero(self._compound == self._compound[first])
                  if m != first]
        if self.policy == "fair":
            others.sort(key=lambda m: (self.steps[m], m))
        else:
            others.sort(key=lambda m: (-self.spread[m], m))
        return sorted([first] + others[:size - 1])

    def record(self, index: int, step: int) -> None:
        """Geometry ``index`` is trained at optimizer step ``step`` (called when picked)."""
        self.last_step[index] = step
        self.steps[index] += 1

    def observe(self, index: int, spread: float) -> None:
        """Geometry ``index``'s last local energies had standard deviation ``spread``
        (hartree; not kept when not finite). Arrives when the step's metrics are fetched,
        after the step itself (see ``optimization.optimize``)."""
        if np.isfinite(spread):
            self.spread[index] = spread

    def state(self) -> dict[str, np.ndarray]:
        return {"last_step": self.last_step.copy(), "spread": self.spread.copy(),
                "steps": self.steps.copy()}

    def load(self, state: dict) -> None:
        self.last_step = np.asarray(state["last_step"], dtype=np.int64).copy()
        self.spread = np.asarray(state["spread"], dtype=np.float64).copy()
        self.steps = np.asarray(state["steps"], dtype=np.int64).copy()
