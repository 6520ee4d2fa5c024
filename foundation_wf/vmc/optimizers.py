"""Optimizers behind one interface: KFAC (kfac-jax, default), SPRING (``vmc.spring``) and
Adam/RMSProp/SGD (optax).

    opt = make_optimizer(config, loss)          # loss(params, batch) -> (energy, aux),
                                                # batch as in vmc.loss.make_energy_loss
    state = opt.init(params, key, batch)
    rate = config.learning_rate_at(t)          # t: optimizer steps taken
    params, state, energy, aux = opt.step(params, state, key, batch, rate)

The learning rate is an argument of the step, not a constant compiled into it: one compiled
step serves every schedule and every rate (a divergence recovery's halved rate, a
fine-tuning warm-up), and ``OptimizerConfig.update_rule`` is what the step depends on.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from typing import Any, Callable

import jax
import jax.numpy as jnp
import kfac_jax
import optax

from foundation_wf.vmc.spring import make_spring

OPTIMIZERS = ("kfac", "spring", "adam", "rmsprop", "sgd")
SPRING_NORMS = ("euclidean", "fisher")
CURVATURE_ESTIMATIONS = ("fisher_exact", "fisher_curvature_prop", "fisher_empirical")
# OptimizerConfig fields that only set the learning rate of each step (``learning_rate_at``).
SCHEDULE_FIELDS = ("learning_rate", "decay_time", "schedule_offset", "warmup_steps")


@dataclasses.dataclass(frozen=True)
class OptimizerConfig:
    """Optimizer settings.

    Attributes:
      name: kfac | spring | adam | rmsprop | sgd. spring: natural gradient solved in the
        walkers' space, with momentum (``vmc.spring``); on H6 d=1.6 alone (1,500 steps, 256
        walkers, momentum 0.99) it ended 1.7 mHa above a CCSD(T)/CBS(D,T) estimate (2.1
        with the Fisher bound, in 5.7 min), KFAC 8.0 mHa in 3.0 min and 5.2 mHa after 6,000
        steps. Across many geometries it needs several
        geometries per step and the Euclidean bound (``spring_norm``): the default
        hydrogen-chain recipe, 8 geometries x 32 walkers per step, gives H10 zero-shot a
        mean error of +17 mHa where KFAC at equal time gives +23; with one geometry per
        step it diverged (README, VMC engine).
      learning_rate: initial learning rate lr0; lr(t) = lr0 / (1 + (t + offset) / decay_time).
      decay_time: steps over which the learning rate halves (hyperbolic decay).
      schedule_offset: added to the step in the schedule (fine-tuning starts further along).
      warmup_steps: the learning rate rises linearly from lr(0)/warmup_steps to lr over the
        first warmup_steps steps (0: no warm-up), while KFAC's curvature estimate fills up
        (a fresh KFAC state at the full rate can undo a good starting point).
      damping: KFAC and SPRING damping (Tikhonov), fixed.
      norm_constraint: KFAC and SPRING bound on the squared step norm (KFAC: in the Fisher
        metric; SPRING: in ``spring_norm``'s).
      curvature_ema: KFAC moving-average decay of the curvature factors.
      inverse_update_period: KFAC steps between factor inversions (5, kfac-jax's default:
        on H6 the inversions were 37 of 164 ms per step at 1, `fwf bench`; the hydrogen_chains recipe
        with 5 ended at the same energies as with 1, -1.1(1.0) mHa on average over its 21
        geometries).
      spring_norm: the norm SPRING's step is bounded in (``vmc.spring``): "euclidean"
        lr^2 |delta|^2 (default, as published) or "fisher" lr^2 <delta, gradient>, which
        only sees the current walkers' gradient (on H6 it stayed near 1e-5 of a 1e-3 bound,
        and across geometries it let SPRING diverge). On H6 d=1.6 alone both end within
        0.5(0.5) mHa of each other.
      momentum: momentum (KFAC, SPRING and SGD; SPRING's published value is 0.99).
      curvature_estimation: kfac-jax estimation mode. "fisher_curvature_prop" draws a random
        vector per walker, so parameters shared by all walkers (the per-geometry GNN) get an
        unbiased Fisher estimate; "fisher_exact" sums their walker gradients first.
    """

    name: str = "kfac"
    learning_rate: float = 0.05
    decay_time: float = 1000.0
    schedule_offset: int = 0
    warmup_steps: int = 0
    damping: float = 1e-3
    norm_constraint: float = 1e-3
    curvature_ema: float = 0.95
    inverse_update_period: int = 5
    momentum: float = 0.0
    spring_norm: str = "euclidean"
    curvature_estimation: str = "fisher_exact"

    def __post_init__(self):
        if self.name not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {OPTIMIZERS}, got {self.name!r}")
        if self.spring_norm not in SPRING_NORMS:
            raise ValueError(f"spring_norm must be one of {SPRING_NORMS}, "
                             f"got {self.spring_norm!r}")
        if self.curvature_estimation not in CURVATURE_ESTIMATIONS:
            raise ValueError(f"curvature_estimation must be one of {CURVATURE_ESTIMATIONS}, "
                             f"got {self.curvature_estimation!r}")
        for key in ("learning_rate", "decay_time", "damping", "norm_constraint"):
            value = getattr(self, key)
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f"{key} must be a finite number > 0, got {value}")
        if not 0 <= self.curvature_ema < 1 or not 0 <= self.momentum < 1:
            raise ValueError("curvature_ema and momentum must be in [0, 1), got "
                             f"{self.curvature_ema} and {self.momentum}")
        if self.inverse_update_period < 1 or self.schedule_offset < 0 or self.warmup_steps < 0:
            raise ValueError("inverse_update_period must be >= 1, schedule_offset and "
                             f"warmup_steps >= 0, got {self.inverse_update_period}, "
                             f"{self.schedule_offset} and {self.warmup_steps}")

    def update_rule(self) -> OptimizerConfig:
        """This config without its learning-rate schedule (those fields at their defaults):
        what the optimizer's compiled step depends on (``make_optimizer``'s cache key)."""
        defaults = OptimizerConfig()
        return dataclasses.replace(self, **{name: getattr(defaults, name)
                                            for name in SCHEDULE_FIELDS})

    def learning_rate_at(self, step: int) -> float:
        """lr(t) = lr0 / (1 + (t + offset) / decay_time), times min(1, (t + 1) / warmup)
        at optimizer step t (counted from 0)."""
        decayed = self.learning_rate / (1.0 + (step + self.schedule_offset) / self.decay_time)
        if self.warmup_steps == 0:
            return decayed
        return decayed * min(1.0, (step + 1.0) / self.warmup_steps)


@dataclasses.dataclass
class VMCOptimizer:
    """init(params, key, batch) -> state; step(params, state, key, batch, learning_rate) ->
    (params, state, energy, aux), the learning rate a scalar argument (so changing it does
    not recompile). ``kfac`` is the underlying kfac-jax optimizer (None for optax ones); its
    step donates the params and state buffers passed in."""

    init: Callable[[Any, jax.Array, dict], Any]
    step: Callable[[Any, Any, jax.Array, dict, jax.Array], tuple]
    kfac: kfac_jax.Optimizer | None = None


def batch_size(batch: dict) -> int:
    """Walkers in a batch of G stacked geometries (electrons [G, B, N, 3]): G * B."""
    return batch["electrons"].shape[0] * batch["electrons"].shape[1]


def make_kfac(config: OptimizerConfig, loss: Callable) -> VMCOptimizer:
    optimizer = kfac_jax.Optimizer(
        value_and_grad_func=jax.value_and_grad(loss, has_aux=True),
        l2_reg=0.0,
        value_func_has_aux=True,
        learning_rate_schedule=None,  # the rate is passed to every step
        momentum_schedule=lambda t: jnp.asarray(config.momentum),
        damping_schedule=lambda t: jnp.asarray(config.damping),
        norm_constraint=config.norm_constraint,
        curvature_ema=config.curvature_ema,
        inverse_update_period=config.inverse_update_period,
        min_damping=1e-8,
        num_burnin_steps=0,
        curvature_update_period=1,
        estimation_mode=config.curvature_estimation,
        batch_size_extractor=batch_size,
        multi_device=False,
        # No masking: kfac-jax would treat rows whose output gradient is exactly zero as
        # padding, and divide by zero when a layer has no gradient at all (e.g. the p-like
        # orbital weights of an atom with neither p shells nor bonds, such as He).
        layer_tag_to_block_ctor={"repeated_dense": functools.partial(
            kfac_jax.RepeatedDenseKroneckerFactored, use_masking=False)},
    )

    def step(params, state, key, batch, learning_rate):
        # kfac-jax reads the step counter on the host unless given; it uses it only for the
        # burn-in (off) and the curvature-update period (1), so any positive value is exact,
        # and a constant lets the step be traced inside the fused training step.
        params, state, stats = optimizer.step(params, state, key, batch=batch,
                                              learning_rate=learning_rate, global_step_int=1)
        return params, state, stats["loss"], stats["aux"]

    return VMCOptimizer(init=optimizer.init, step=step, kfac=optimizer)


def make_optax(config: OptimizerConfig, loss: Callable) -> VMCOptimizer:
    # optax.adam / rmsprop / sgd without their last link (the learning rate), which the step
    # applies itself from its argument.
    direction = {
        "adam": optax.scale_by_adam,
        "rmsprop": optax.scale_by_rms,
        "sgd": lambda: optax.trace(config.momentum) if config.momentum else optax.identity(),
    }[config.name]()

    @jax.jit
    def step(params, state, key, batch, learning_rate):
        (energy, aux), grads = jax.value_and_grad(loss, has_aux=True)(params, batch)
        updates, state = direction.update(grads, state, params)
        updates = jax.tree_util.tree_map(lambda u: (-learning_rate * u).astype(u.dtype),
                                         updates)
        return optax.apply_updates(params, updates), state, energy, aux

    return VMCOptimizer(init=lambda params, key, batch: direction.init(params), step=step)


def make_optimizer(config: OptimizerConfig, loss: Callable,
                   walker_jacobian: Callable | None = None,
                   centred_energies: Callable | None = None) -> VMCOptimizer:
    """The optimizer ``config.name``; "spring" also needs the per-walker Jacobian of log|psi|
    (``vmc.spring.make_walker_jacobian``) and the gradient's centred local energies
    (``vmc.loss.centred_local_energies`` at the run's clip scale)."""
    if config.name == "spring":
        if walker_jacobian is None or centred_energies is None:
            raise ValueError("optimizer spring needs walker_jacobian and centred_energies")
        init, step = make_spring(config, loss, walker_jacobian, centred_energies)
        return VMCOptimizer(init=init, step=step)
    return make_kfac(config, loss) if config.name == "kfac" else make_optax(config, loss)
