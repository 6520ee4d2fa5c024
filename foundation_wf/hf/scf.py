"""Hartree-Fock with PySCF and Foster-Boys localization of the occupied orbitals.

Restricted reference: closed shells (2S = 0) use RHF; open shells use ROHF, so up and down
electrons share spatial orbitals: the down set is the doubly occupied orbitals, the up set
adds the singly occupied ones. Unrestricted reference: UHF started along the restricted
solution's instability (RHF -> UHF) or from its spin densities (ROHF), then moved along its
own instabilities until it is stable; where the restricted solution is itself stable, it is
kept, so near equilibrium both references give the same descriptors. Each spin's set is
localized separately (a determinant is invariant under rotations within its occupied space),
then ordered and signed by a deterministic convention.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from pyscf import gto, lo, scf
from pyscf.scf import stability

from foundation_wf.hf.settings import DescriptorSettings
from foundation_wf.systems import Molecule

# Orbitals are ordered by their charge centroid, rounded to this many bohr so that SCF noise
# cannot reorder orbitals whose centroids differ by less.
CENTROID_ROUNDING_BOHR = 1e-4
# A UHF solution less than this far below the restricted one (hartree) is the restricted one.
UHF_LOWERING_HA = 1e-7
# At most this many rounds of UHF stability analysis and restart.
UHF_STABILITY_ROUNDS = 10
# Spin populations equal to within this many electrons count as a tie.
SPIN_POPULATION_ROUNDING = 1e-6


class SCFConvergenceError(RuntimeError):
    """Hartree-Fock did not converge, even with the second-order solver."""


@dataclasses.dataclass(frozen=True)
class HFOrbitals:
    """Localized occupied Hartree-Fock orbitals of one geometry.

    Attributes:
      energy: HF total energy in hartree (nuclear repulsion included).
      method: "RHF", "ROHF" or "UHF".
      coeff_up: AO coefficients of the up-spin orbitals, float64 [n_ao, n_up].
      coeff_down: AO coefficients of the down-spin orbitals, float64 [n_ao, n_down].
    """

    energy: float
    method: str
    coeff_up: np.ndarray
    coeff_down: np.ndarray


def pyscf_molecule(molecule: Molecule, basis: str) -> gto.Mole:
    """The PySCF Mole (bohr, spherical basis) for a molecule."""
    return gto.M(
        atom=[(s, tuple(c)) for s, c in zip(molecule.symbols, molecule.coords)],
        unit="bohr",
        basis=basis,
        charge=molecule.charge,
        spin=molecule.spin,
        verbose=0,
    )


def converge(mf: scf.hf.SCF, name: str, dm0=None) -> scf.hf.SCF:
    """Run an SCF to 1e-10 Ha from ``dm0`` (default guess if None); second-order retry."""
    mf.conv_tol = 1e-10
    mf.max_cycle = 200
    mf.kernel(dm0)
    if not mf.converged:
        mf = mf.newton()
        mf.kernel(mf.make_rdm1())
    if not mf.converged:
        raise SCFConvergenceError(
            f"Hartree-Fock did not converge for geometry {name!r} "
            "(tried DIIS and the second-order solver)"
        )
    return mf


def run_scf(mol: gto.Mole, name: str) -> scf.hf.SCF:
    """Converged RHF (closed shell) or ROHF (open shell)."""
    return converge(scf.RHF(mol) if mol.spin == 0 else scf.ROHF(mol), name)


def run_uhf(mol: gto.Mole, restricted: scf.hf.SCF, name: str) -> scf.uhf.UHF | None:
    """The stable UHF solution reached from ``restricted``, or None where it is no lower.

    A closed shell starts from the RHF -> UHF instability of PySCF's external stability
    analysis (the UHF analysis at the RHF point misses it: its search space starts with the
    spin-symmetric direction only); an open shell from the ROHF spin densities. Each round
    then follows the lowest internal UHF instability and re-converges.
    """
    if mol.spin == 0:
        rotated, stable = stability.rhf_external(restricted, return_status=True, verbose=0)
        if stable:
            return None
        occupied = (restricted.mo_occ > 0).astype(float)
        density = scf.UHF(mol).make_rdm1(rotated, (occupied, occupied))
    else:
        density = restricted.make_rdm1()
    mf = converge(scf.UHF(mol), name, density)
    for _ in range(UHF_STABILITY_ROUNDS):
        rotated, _, stable, _ = mf.stability(return_status=True, verbose=0)
        if stable:
            break
        mf = converge(scf.UHF(mol), name, mf.make_rdm1(rotated, mf.mo_occ))
    if mf.e_tot > restricted.e_tot - UHF_LOWERING_HA:
        return None
    return mf


def up_spin_first(mf: scf.uhf.UHF) -> tuple[np.ndarray, np.ndarray]:
    """Occupied (up, down) UHF coefficients, with a fixed choice of which set is up.

    With as many up as down electrons, the spin-flipped UHF solution is as good; the set
    whose spin density is larger on the atom of largest spin population (the first such atom
    in input order on a tie) is called up. Rotations and translations leave it unchanged.
    """
    alpha = mf.mo_coeff[0][:, mf.mo_occ[0] > 0]
    beta = mf.mo_coeff[1][:, mf.mo_occ[1] > 0]
    if alpha.shape[1] != beta.shape[1]:
        return alpha, beta
    _, spin_population = mf.mulliken_spin_pop(verbose=0)  # per AO, per atom
    rounded = np.round(spin_population / SPIN_POPULATION_ROUNDING)
    atom = int(np.argmax(np.abs(rounded)))
    return (beta, alpha) if rounded[atom] < 0 else (alpha, beta)


def canonicalize(mol: gto.Mole, coeff: np.ndarray, fix_signs: bool = True) -> np.ndarray:
    """Deterministic order (by charge centroid x, y, z) and sign of orbital columns.

    The sign makes the s-type coefficient of largest magnitude positive, a choice that does
    not change when the molecule is rotated (``fix_signs=False`` keeps the input's signs).
    """
    if coeff.shape[1] == 0:
        return coeff
    r_integrals = mol.intor("int1e_r")  # [3, n_ao, n_ao]
    centroids = np.einsum("xmn,mk,nk->kx", r_integrals, coeff, coeff)
    rounded = np.round(centroids / CENTROID_ROUNDING_BOHR).astype(np.int64)
    order = np.lexsort(rounded.T[::-1])
    coeff = coeff[:, order]
    if not fix_signs:
        return coeff
    s_type = np.array([label.split()[2][-1] == "s" for label in mol.ao_labels()])
    s_coeff = np.where(s_type[:, None], coeff, 0.0)
    largest = np.argmax(np.round(np.abs(s_coeff), 8), axis=0)
    signs = np.sign(s_coeff[largest, np.arange(coeff.shape[1])])
    signs[signs == 0] = 1.0
    return coeff * signs


def boys_jacobi_sweeps(
    mol: gto.Mole, coeff: np.ndarray, tol: float = 1e-10, max_sweeps: int = 200
) -> np.ndarray:
    """Maximize the Foster-Boys functional sum_k |<k|r|k>|^2 by exact pair rotations.

    Each pair (i, j) is rotated to the global maximum of the functional on its circle, so a
    saddle point that a gradient-based localizer may stop at (common in symmetric
    orientations) is left; the result is deterministic.
    """
    coeff = coeff.copy()
    r_integrals = mol.intor("int1e_r")
    n_orb = coeff.shape[1]
    for _ in range(max_sweeps):
        largest_angle = 0.0
        for i in range(n_orb - 1):
            for j in range(i + 1, n_orb):
                pair = coeff[:, [i, j]]
                dipole = np.einsum("xmn,mk,nl->xkl", r_integrals, pair, pair)
                r_ij = dipole[:, 0, 1]
                delta = dipole[:, 0, 0] - dipole[:, 1, 1]
                a = np.sum(r_ij**2 - 0.25 * delta**2)
                b = np.sum(r_ij * delta)
                if np.hypot(a, b) < 1e-14:
                    continue
                angle = 0.25 * np.arctan2(b, -a)
                largest_angle = max(largest_angle, abs(angle))
                cos, sin = np.cos(angle), np.sin(angle)
                coeff[:, i], coeff[:, j] = cos * pair[:, 0] + sin * pair[:, 1], \
                    -sin * pair[:, 0] + cos * pair[:, 1]
        if largest_angle < tol:
            break
    return coeff


def localize(mol: gto.Mole, coeff: np.ndarray, method: str) -> np.ndarray:
    """Localize occupied orbitals (columns of ``coeff``).

    Foster-Boys: PySCF's second-order localizer from its 'atomic' guess, then exact Jacobi
    pair rotations, which leave any saddle point the localizer stopped at.
    """
    if coeff.shape[1] <= 1:
        return coeff.copy()
    if method == "boys":
        localizer = lo.Boys(mol, coeff)
        localizer.conv_tol = 1e-10
        return boys_jacobi_sweeps(mol, localizer.kernel())
    raise ValueError(f"unknown localization {method!r}")


def hartree_fock(molecule: Molecule, settings: DescriptorSettings) -> HFOrbitals:
    """Run HF and return the localized, canonicalized occupied orbitals of both spins."""
    molecule.check_elements(settings.elements)
    name = molecule.name or molecule.formula
    mol = pyscf_molecule(molecule, settings.basis)
    mf = run_scf(mol, name)
    unrestricted = run_uhf(mol, mf, name) if settings.reference == "unrestricted" else None
    fix_signs = settings.orbital_signs == "canonical"

    def localized(coeff: np.ndarray) -> np.ndarray:
        return canonicalize(mol, localize(mol, coeff, settings.localization), fix_signs)

    if unrestricted is not None:
        up, down = (localized(c) for c in up_spin_first(unrestricted))
        energy, method = unrestricted.e_tot, "UHF"
    else:
        doubly = mf.mo_coeff[:, mf.mo_occ == 2]
        singly = mf.mo_coeff[:, mf.mo_occ == 1]
        up = localized(np.concatenate([doubly, singly], axis=1))
        down = up.copy() if mol.spin == 0 else localized(doubly)
        energy, method = mf.e_tot, "RHF" if mol.spin == 0 else "ROHF"
    return HFOrbitals(
        energy=float(energy),
        method=method,
        coeff_up=np.ascontiguousarray(up),
        coeff_down=np.ascontiguousarray(down),
    )
