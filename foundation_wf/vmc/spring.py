"""SPRING: natural gradient in the walkers' space (MinSR) with momentum, for the VMC energy.

After Goldshlager, Abrahamsen and Lin, "A Kaczmarz-inspired approach to accelerate the
optimization of neural network wavefunctions", J. Comput. Phys. 516, 113351 (2024). With the
B walkers of a step (all its geometries), O [B, P] the Jacobian of each walker's log|psi|
with respect to the P parameters, centred on its geometry's mean and divided by sqrt(B), and
eps [B] the clipped local energies centred the same way (``vmc.loss.centred_local_energies``)
and divided by sqrt(B):

    delta = O^T (O O^T + damping I + 1/B)^-1 (eps - mu O phi) + mu phi
    params <- params - lr c delta,   phi <- c delta

mu is ``OptimizerConfig.momentum`` and c <= 1 scales the step so that its squared norm
lr^2 |delta|^2 <= ``norm_constraint`` (``OptimizerConfig.spring_norm`` "euclidean", as
published) or lr^2 <delta, O^T eps> <= ``norm_constraint`` ("fisher", KFAC's bound, which
is blind to the part of delta orthogonal to the current walkers' gradient: the momentum's
share, or a fit to another geometry's walkers). Only a B x B system is solved
(float64 when x64 is on): with 256 walkers and tens of thousands of parameters it is cheaper
than any P x P curvature. Without momentum delta is the least-squares natural gradient
(O^T O + damping)^-1 O^T eps.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

import jax
import jax.numpy as jnp
from jax.flatten_util import ravel_pytree

from foundation_wf.ansatz.model import Ansatz

if TYPE_CHECKING:  # vmc.optimizers imports this module
    from foundation_wf.vmc.optimizers import OptimizerConfig


def make_walker_jacobian(ansatz: Ansatz) -> Callable:
    """(params, geometry, electrons [G, B, N, 3]) -> d log|psi| / d params [G, B, P] for G
    stacked geometries (geometry with a leading axis G), parameters flattened by
    ``jax.flatten_util.ravel_pytree``. Each walker's gradient includes the orbital GNN's."""

    def one_walker(params, geometry, electrons):
        orbitals = ansatz.orbitals(params, geometry)
        return ansatz.log_psi(params, orbitals, geometry, electrons)[1]

    def flat_gradient(params, geometry, electrons):
        return ravel_pytree(jax.grad(one_walker)(params, geometry, electrons))[0]

    per_geometry = jax.vmap(flat_gradient, in_axes=(None, None, 0))
    return jax.vmap(per_geometry, in_axes=(None, 0, 0))


def spring_direction(jacobian: jnp.ndarray, centred: jnp.ndarray, finite: jnp.ndarray,
                     previous: jnp.ndarray, damping: float, momentum: float
                     ) -> tuple[jnp.ndarray, jnp.ndarray]:
    """(delta [P], <delta, O^T eps>) from jacobian [G, B, P], centred local energies [G, B]
    (hartree; zero where not finite), finite [G, B] and the previous step phi [P]. Walkers
    without a finite local energy take no part; float64 when x64 is on."""
    dtype = jnp.result_type(float)
    count = jnp.maximum(jnp.sum(finite), 1).astype(dtype)
    per_geometry = jnp.maximum(jnp.sum(finite, axis=1), 1)[:, None, None]
    masked = jnp.where(finite[..., None], jacobian, 0.0).astype(dtype)
    mean = jnp.sum(masked, axis=1, keepdims=True) / per_geometry
    o = jnp.where(finite[..., None], masked - mean, 0.0).reshape(-1, jacobian.shape[-1])
    o = o / jnp.sqrt(count)
    eps = centred.reshape(-1).astype(dtype) / jnp.sqrt(count)
    phi = previous.astype(dtype)
    gram = o @ o.T + damping * jnp.eye(o.shape[0], dtype=dtype) + 1.0 / count
    # An LU solve, not a Cholesky one: on CPU jaxlib's Cholesky path made this function take
    # 74 ms instead of 34 (256 walkers, 27,920 parameters, 2 cores; README, SPRING), for
    # the same direction.
    solution = jnp.linalg.solve(gram, eps - momentum * (o @ phi))
    delta = solution @ o + momentum * phi
    return delta, jnp.dot(o @ delta, eps)  # <delta, O^T eps>, one pass over O


def make_spring(config: OptimizerConfig, loss: Callable, walker_jacobian: Callable,
                centred_energies: Callable) -> tuple[Callable, Callable]:
    """(init, step) of a ``vmc.optimizers.VMCOptimizer`` for ``config`` (its damping,
    momentum and norm_constraint) and ``loss`` (``vmc.loss.make_energy_loss``);
    ``centred_energies(local [G, B]) -> [G, B]`` is ``vmc.loss.centred_local_energies`` at
    the run's clip scale. The state is phi, the last step [P]."""

    def init(params, key, batch):
        return jnp.zeros_like(ravel_pytree(params)[0])

    def step(params, previous, key, batch, learning_rate):
        energy, aux = loss(params, batch)
        flat, unravel = ravel_pytree(params)
        finite = jnp.isfinite(aux.local_energies)
        jacobian = walker_jacobian(params, batch["geometry"], batch["electrons"])
        delta, along_gradient = spring_direction(
            jacobian, centred_energies(aux.local_energies), finite, previous,
            config.damping, config.momentum)
        squared_norm = learning_rate**2 * (jnp.dot(delta, delta)
                                           if config.spring_norm == "euclidean"
                                           else along_gradient)
        scale = jnp.minimum(1.0, jnp.sqrt(config.norm_constraint
                                          / jnp.maximum(squared_norm, 1e-30)))
        delta = scale * delta
        params = unravel(flat - (learning_rate * delta).astype(flat.dtype))
        return params, delta.astype(previous.dtype), energy, aux

    return init, step
