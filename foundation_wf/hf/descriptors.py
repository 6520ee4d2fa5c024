"""Orbital descriptors: each localized orbital's coefficients on each atom's basis functions.

For spin sigma the descriptor is an array c[atom I, orbital k, feature f] (float64): the
coefficients of orbital k on atom I's basis functions, written into the slot of I's element
(see ``DescriptorLayout``); all other slots are zero. Entries listed in ``layout.s_index`` are
rotation scalars, each row of ``layout.p_index`` is the (x, y, z) of a p shell.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from foundation_wf.hf.cache import DescriptorCache
from foundation_wf.hf.scf import HFOrbitals, hartree_fock, pyscf_molecule
from foundation_wf.hf.settings import DescriptorSettings
from foundation_wf.systems import Molecule


@dataclasses.dataclass(frozen=True)
class GeometryHF:
    """Hartree-Fock result and descriptors of one geometry.

    Attributes:
      orbitals: localized HF orbitals (energy, method, AO coefficients).
      descriptors: (up, down) float64 arrays [n_atoms, n_orbitals_of_spin, n_features].
    """

    orbitals: HFOrbitals
    descriptors: tuple[np.ndarray, np.ndarray]

    @property
    def energy(self) -> float:
        return self.orbitals.energy


def orbital_descriptors(
    molecule: Molecule, settings: DescriptorSettings, coeff: np.ndarray
) -> np.ndarray:
    """Scatter AO coefficients [n_ao, n_orb] into element slots: [n_atoms, n_orb, n_features]."""
    layout = settings.layout
    mol = pyscf_molecule(molecule, settings.basis)
    descriptors = np.zeros((molecule.n_atoms, coeff.shape[1], layout.n_features))
    for atom, (symbol, ao_slice) in enumerate(zip(molecule.symbols, mol.aoslice_by_atom())):
        start, stop = ao_slice[2], ao_slice[3]
        offset = layout.element_offsets[symbol]
        if stop - start != layout.element_sizes[symbol]:
            raise RuntimeError(f"basis size mismatch for {symbol}: layout and molecule disagree")
        descriptors[atom, :, offset : offset + stop - start] = coeff[start:stop].T
    return descriptors


def geometry_hf(
    molecule: Molecule, settings: DescriptorSettings, cache: DescriptorCache | None = None
) -> GeometryHF:
    """HF orbitals and descriptors of a geometry, read from ``cache`` when present there."""
    molecule.check_elements(settings.elements)
    if cache is not None:
        hit = cache.load(molecule, settings)
        if hit is not None:
            return hit
    orbitals = hartree_fock(molecule, settings)
    result = GeometryHF(
        orbitals=orbitals,
        descriptors=(
            orbital_descriptors(molecule, settings, orbitals.coeff_up),
            orbital_descriptors(molecule, settings, orbitals.coeff_down),
        ),
    )
    if cache is not None:
        cache.store(molecule, settings, result)
    return result
