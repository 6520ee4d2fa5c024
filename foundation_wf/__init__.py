"""foundation_wf: transferable neural-network wavefunctions (a foundation model for the
electronic Schrodinger equation). Atomic units (bohr, hartree) throughout."""

from foundation_wf.systems import Molecule, MoleculeError

__version__ = "0.1.0"
__all__ = ["Molecule", "MoleculeError", "__version__"]
