"""Hartree-Fock orbitals and the orbital descriptors fed to the transferable ansatz."""

from foundation_wf.hf.cache import DescriptorCache
from foundation_wf.hf.descriptors import GeometryHF, geometry_hf, orbital_descriptors
from foundation_wf.hf.scf import HFOrbitals, SCFConvergenceError, hartree_fock, pyscf_molecule
from foundation_wf.hf.settings import DescriptorLayout, DescriptorSettings, descriptor_layout

__all__ = [
    "DescriptorCache", "GeometryHF", "geometry_hf", "orbital_descriptors", "HFOrbitals",
    "SCFConvergenceError", "hartree_fock", "pyscf_molecule", "DescriptorLayout",
    "DescriptorSettings", "descriptor_layout",
]
