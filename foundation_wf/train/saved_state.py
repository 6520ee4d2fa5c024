"""The training progress a checkpoint's ``state`` item holds, packed and unpacked.

Besides the parameters (their own item), a run continues from: the optimizer state, every
geometry's walkers, the scheduler's arrays, the step and the learning-rate scale. They are
saved as arrays only (leaves in a fixed order); structures come back from templates built
from the run's config, so what is saved does not depend on pytree classes.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Sequence

import jax
import numpy as np

from foundation_wf.vmc import mcmc


@dataclasses.dataclass(frozen=True)
class TrainingProgress:
    """Where a run stands between optimizer steps (everything but the parameters).

    Attributes:
      opt_state: the optimizer's state (one for all geometries).
      walkers: per geometry, in dataset order, its MCMC state.
      scheduler: the scheduler's arrays (``GeometryScheduler.state``).
      step: optimizer steps taken.
      learning_rate_scale: the factor divergence recoveries put on the learning rate.
    """

    opt_state: Any
    walkers: list[mcmc.WalkerState]
    scheduler: dict[str, np.ndarray]
    step: int
    learning_rate_scale: float


def saveable_leaves(tree) -> list:
    """Leaves of a pytree as arrays (Python scalars become 0-d arrays; None leaves are
    dropped by jax itself)."""
    return [np.asarray(x) if np.isscalar(x) else x for x in jax.tree_util.tree_leaves(tree)]


def pack(progress: TrainingProgress) -> dict:
    """The checkpoint item: arrays only."""
    return {
        "optimizer": saveable_leaves(progress.opt_state),
        "walkers": [jax.tree_util.tree_leaves(w) for w in progress.walkers],
        "scheduler": progress.scheduler,
        "step": np.asarray(progress.step),
        "learning_rate_scale": np.asarray(progress.learning_rate_scale),
    }


def unpack(saved: dict, opt_state_template,
           walker_templates: Sequence[mcmc.WalkerState]) -> TrainingProgress:
    """Inverse of ``pack``: the saved leaves in the structures of the templates."""
    opt_state = jax.tree_util.tree_unflatten(
        jax.tree_util.tree_structure(opt_state_template), saved["optimizer"])
    walkers = [jax.tree_util.tree_unflatten(jax.tree_util.tree_structure(template), leaves)
               for template, leaves in zip(walker_templates, saved["walkers"], strict=True)]
    return TrainingProgress(opt_state, walkers, saved["scheduler"], int(saved["step"]),
                            float(saved["learning_rate_scale"]))
