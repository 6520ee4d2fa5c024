"""The per-geometry input of the ansatz: nuclei and HF orbital descriptors as JAX arrays."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
from flax import struct

from foundation_wf.hf.descriptors import GeometryHF
from foundation_wf.hf.settings import DescriptorSettings
from foundation_wf.systems import Molecule


class GeometryInput(struct.PyTreeNode):
    """Everything the network needs to know about one geometry.

    Attributes:
      coords: nuclear positions, bohr, [n_atoms, 3].
      charges: nuclear charges Z as floats, [n_atoms].
      element_index: index of each atom's element in the element set, int [n_atoms].
      desc_up: up-spin orbital descriptors, [n_atoms, n_up, n_features].
      desc_down: down-spin orbital descriptors, [n_atoms, n_down, n_features].
    """

    coords: jnp.ndarray
    charges: jnp.ndarray
    element_index: jnp.ndarray
    desc_up: jnp.ndarray
    desc_down: jnp.ndarray

    @property
    def n_up(self) -> int:
        return self.desc_up.shape[1]

    @property
    def n_down(self) -> int:
        return self.desc_down.shape[1]

    @property
    def n_atoms(self) -> int:
        return self.coords.shape[0]


def geometry_input(
    molecule: Molecule, hf: GeometryHF, settings: DescriptorSettings, dtype=jnp.float32
) -> GeometryInput:
    """Build the network input of a geometry (checks its elements against the element set)."""
    molecule.check_elements(settings.elements)
    element_index = np.array([settings.elements.index(s) for s in molecule.symbols])
    return GeometryInput(
        coords=jnp.asarray(molecule.coords, dtype),
        charges=jnp.asarray(molecule.charges, dtype),
        element_index=jnp.asarray(element_index, jnp.int32),
        desc_up=jnp.asarray(hf.descriptors[0], dtype),
        desc_down=jnp.asarray(hf.descriptors[1], dtype),
    )
