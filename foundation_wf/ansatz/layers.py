"""Dense layers that share the parameters of ``nn.Dense`` but not its cost.

Both keep nn.Dense's parameter names, shapes and initial values (a kernel [in, out],
lecun-normal, and a bias [out], zeros), so checkpoints and initialisations are those of
plain Dense layers; the results equal nn.Dense's up to rounding. What they save are the
concatenations of inputs or outputs, which XLA's CPU backend fuses into slow elementwise
loops, and matmuls with few output columns.

KFAC's graph matcher recognises only a plain dense layer (a parameter kernel in a matmul,
plus a bias), so layers applied per electron register themselves instead
(``kfac_dense_tag``): the tag names the layer's kernel and (concatenated) input, exactly
what the matcher finds for nn.Dense, and so gives it the same Kronecker-factored curvature
block (the bias, as for nn.Dense, gets a diagonal one). Tags are the identity outside KFAC
(the input's concatenation is dead code there); folx's forward Laplacian passes them
through (``vmc.hamiltonian``).
"""

from __future__ import annotations

import flax.linen as nn
import jax.numpy as jnp
import kfac_jax


def dense_parameters(module: nn.Module, in_features: int,
                     features: int) -> tuple[jnp.ndarray, jnp.ndarray]:
    """(kernel [in_features, features], bias [features]) of ``module``, as nn.Dense makes them."""
    kernel = module.param("kernel", nn.initializers.lecun_normal(), (in_features, features),
                          jnp.float32)
    bias = module.param("bias", nn.initializers.zeros_init(), (features,), jnp.float32)
    return kernel, bias


def kfac_dense_tag(y: jnp.ndarray, x: jnp.ndarray, kernel: jnp.ndarray) -> jnp.ndarray:
    """y (= x @ kernel + bias) registered with KFAC as a dense layer of one walker's
    electrons (x [..., in] with at least one axis before the features: a "repeated" dense
    layer once the walkers are batched, as the graph matcher classifies nn.Dense there). The
    bias stays out of the block, as the matcher leaves nn.Dense's (a diagonal block)."""
    return kfac_jax.register_dense(y, x, kernel, variant="repeated_dense")


class SplitDense(nn.Module):
    """``nn.Dense`` of the concatenation of ``parts`` along their last axes, without building
    it: sum_p parts[p] @ kernel[rows of part p] + bias, the parts broadcast against each other.

    The cost is each part's own size: a bond's radial features, the same for every orbital,
    are multiplied once per bond instead of once per (bond, orbital), and an atom's element
    embedding once per atom instead of once per (electron, atom). ``kfac_tag``: register the
    layer with KFAC (``kfac_dense_tag``; not for parameters KFAC sees through another tag,
    such as the per-geometry GNN's).
    """

    features: int
    kfac_tag: bool = False

    @nn.compact
    def __call__(self, parts: list[jnp.ndarray]) -> jnp.ndarray:
        sizes = [part.shape[-1] for part in parts]
        kernel, bias = dense_parameters(self, sum(sizes), self.features)
        dtype = jnp.result_type(*parts, kernel)
        starts = [sum(sizes[:index]) for index in range(len(parts))]
        total = bias.astype(dtype)
        for part, start, size in zip(parts, starts, sizes):
            total = total + jnp.dot(part.astype(dtype), kernel[start:start + size].astype(dtype))
        if not self.kfac_tag:
            return total
        shape = total.shape[:-1]
        x = jnp.concatenate([jnp.broadcast_to(part, shape + part.shape[-1:]).astype(dtype)
                             for part in parts], axis=-1)
        return kfac_dense_tag(total, x, kernel)


class DenseParameters(nn.Module):
    """The parameters of one ``nn.Dense`` layer of ``features`` outputs, unapplied: layers
    that read the same input are applied together by ``stacked_dense``."""

    features: int

    @nn.compact
    def __call__(self, in_features: int) -> tuple[jnp.ndarray, jnp.ndarray]:
        return dense_parameters(self, in_features, self.features)


def stacked_dense(layers: list[DenseParameters], x: jnp.ndarray) -> jnp.ndarray:
    """Every layer applied to the same input x [..., F] -> [..., len(layers), features], in
    one matmul with the kernels side by side (the same as stacking the layers' outputs);
    each layer registered with KFAC (``kfac_dense_tag``)."""
    kernels, biases = zip(*(layer(x.shape[-1]) for layer in layers))
    kernel = jnp.concatenate(kernels, axis=1)
    dtype = jnp.result_type(x, kernel)
    y = jnp.dot(x, kernel.astype(dtype)) + jnp.concatenate(biases).astype(dtype)
    y = y.reshape(x.shape[:-1] + (len(layers), layers[0].features))
    return jnp.stack([kfac_dense_tag(y[..., index, :], x, kernels[index])
                      for index in range(len(layers))], axis=-2)
