"""Molecules: atomic numbers, coordinates in bohr, charge and spin, validated on construction.

Everything inside foundation_wf works in atomic units (bohr, hartree). Angstrom is accepted
only at the edges (``Molecule.from_symbols(..., unit="angstrom")`` and XYZ files) and is
converted once here.
"""

from __future__ import annotations

import dataclasses
import pathlib
from typing import Sequence

import numpy as np

ANGSTROM_TO_BOHR = 1.0 / 0.529177210903
# Atoms closer than this (bohr) are treated as overlapping: a typo, not a molecule.
MIN_ATOM_DISTANCE_BOHR = 0.1
# Coordinates beyond this overflow distances in float32 and mean a unit mix-up (bohr).
MAX_COORDINATE_BOHR = 1.0e5

# Symbols of elements 1..36 (H..Kr); index = atomic number.
ELEMENT_SYMBOLS = (
    "X H He Li Be B C N O F Ne Na Mg Al Si P S Cl Ar K Ca Sc Ti V Cr Mn Fe Co Ni Cu Zn "
    "Ga Ge As Se Br Kr"
).split()


class MoleculeError(ValueError):
    """Bad molecular input (raised before any computation)."""


def atomic_number(symbol: str) -> int:
    """Atomic number of an element symbol (case-insensitive), or MoleculeError."""
    normalized = symbol.strip().capitalize()
    if normalized in ELEMENT_SYMBOLS[1:]:
        return ELEMENT_SYMBOLS.index(normalized)
    raise MoleculeError(f"unknown element symbol {symbol!r}")


@dataclasses.dataclass(frozen=True, eq=False)
class Molecule:
    """A molecule in the Born-Oppenheimer approximation.

    Attributes:
      charges: atomic numbers Z, int array [n_atoms].
      coords: nuclear positions in bohr, float64 array [n_atoms, 3].
      charge: total charge (e).
      spin: 2S = n_up - n_down (number of unpaired electrons).
      name: optional label, e.g. "H4_d1.40".
    """

    charges: np.ndarray
    coords: np.ndarray
    charge: int = 0
    spin: int = 0
    name: str = ""

    def __post_init__(self) -> None:
        charges = np.asarray(self.charges)
        coords = np.asarray(self.coords, dtype=np.float64)
        label = f"molecule {self.name!r}: " if self.name else ""
        if charges.ndim != 1 or charges.size == 0:
            raise MoleculeError(f"{label}needs at least one atom")
        if not np.all(np.equal(np.mod(charges, 1), 0)):
            raise MoleculeError(f"{label}atomic numbers must be integers, got {charges}")
        charges = charges.astype(np.int64)
        if np.any(charges < 1) or np.any(charges >= len(ELEMENT_SYMBOLS)):
            raise MoleculeError(f"{label}unknown atomic number in {charges.tolist()}")
        if coords.shape != (charges.size, 3):
            raise MoleculeError(
                f"{label}coordinates must have shape [{charges.size}, 3], got {list(coords.shape)}"
            )
        if not np.all(np.isfinite(coords)):
            raise MoleculeError(f"{label}coordinates contain NaN or inf")
        if np.abs(coords).max() > MAX_COORDINATE_BOHR:
            raise MoleculeError(f"{label}coordinates must lie within +-{MAX_COORDINATE_BOHR:g} "
                                f"bohr of the origin, got {np.abs(coords).max():.3g}")
        if int(self.charge) != self.charge or int(self.spin) != self.spin:
            raise MoleculeError(f"{label}charge and spin must be integers")
        n_electrons = int(charges.sum()) - int(self.charge)
        if n_electrons < 1:
            raise MoleculeError(
                f"{label}charge {self.charge} leaves {n_electrons} electrons; need at least 1"
            )
        if self.spin < 0:
            raise MoleculeError(f"{label}spin (2S) must be >= 0, got {self.spin}")
        if self.spin > n_electrons:
            raise MoleculeError(
                f"{label}spin 2S={self.spin} exceeds the number of electrons ({n_electrons})"
            )
        if (n_electrons - self.spin) % 2:
            raise MoleculeError(
                f"{label}spin 2S={self.spin} is impossible with {n_electrons} electrons "
                "(parity of 2S must match the electron count)"
            )
        if charges.size > 1:
            distances = np.linalg.norm(coords[:, None] - coords[None], axis=-1)
            distances[np.diag_indices(charges.size)] = np.inf
            i, j = np.unravel_index(np.argmin(distances), distances.shape)
            if distances[i, j] < MIN_ATOM_DISTANCE_BOHR:
                raise MoleculeError(
                    f"{label}atoms {i} and {j} overlap ({distances[i, j]:.3g} bohr apart, "
                    f"minimum {MIN_ATOM_DISTANCE_BOHR})"
                )
        object.__setattr__(self, "charges", charges)
        object.__setattr__(self, "coords", coords)
        object.__setattr__(self, "charge", int(self.charge))
        object.__setattr__(self, "spin", int(self.spin))

    # ----- constructors -------------------------------------------------------------------
    @classmethod
    def from_symbols(
        cls,
        symbols: Sequence[str],
        coords: Sequence[Sequence[float]],
        *,
        unit: str,
        charge: int = 0,
        spin: int = 0,
        name: str = "",
    ) -> "Molecule":
        """Build from element symbols and coordinates; ``unit`` is "bohr" or "angstrom"."""
        scale = {"bohr": 1.0, "angstrom": ANGSTROM_TO_BOHR}.get(unit.lower())
        if scale is None:
            raise MoleculeError(f"unit must be 'bohr' or 'angstrom', got {unit!r}")
        charges = np.array([atomic_number(s) for s in symbols], dtype=np.int64)
        coords_array = np.asarray(coords, dtype=np.float64)
        return cls(charges, coords_array * scale, charge=charge, spin=spin, name=name)

    @classmethod
    def from_xyz(
        cls, path: str | pathlib.Path, *, charge: int = 0, spin: int = 0, name: str = ""
    ) -> "Molecule":
        """Read a standard XYZ file (coordinates in angstrom)."""
        path = pathlib.Path(path)
        lines = path.read_text().splitlines()
        try:
            n_atoms = int(lines[0].split()[0])
        except (IndexError, ValueError):
            raise MoleculeError(f"{path}: first line must be the number of atoms") from None
        atom_lines = [line.split() for line in lines[2 : 2 + n_atoms]]
        if len(atom_lines) != n_atoms or any(len(parts) < 4 for parts in atom_lines):
            raise MoleculeError(f"{path}: expected {n_atoms} lines of 'symbol x y z'")
        try:
            coords = [[float(v) for v in parts[1:4]] for parts in atom_lines]
        except ValueError as error:
            raise MoleculeError(f"{path}: bad coordinate ({error})") from None
        return cls.from_symbols(
            [parts[0] for parts in atom_lines],
            coords,
            unit="angstrom",
            charge=charge,
            spin=spin,
            name=name or path.stem,
        )

    # ----- derived quantities -------------------------------------------------------------
    @property
    def symbols(self) -> list[str]:
        return [ELEMENT_SYMBOLS[z] for z in self.charges]

    @property
    def n_atoms(self) -> int:
        return int(self.charges.size)

    @property
    def n_electrons(self) -> int:
        return int(self.charges.sum()) - self.charge

    @property
    def n_up(self) -> int:
        return (self.n_electrons + self.spin) // 2

    @property
    def n_down(self) -> int:
        return (self.n_electrons - self.spin) // 2

    @property
    def shape_key(self) -> tuple[int, int, int]:
        """(n_up, n_down, n_atoms): geometries with the same key share compiled functions."""
        return (self.n_up, self.n_down, self.n_atoms)

    def nuclear_repulsion(self) -> float:
        """Nucleus-nucleus Coulomb energy in hartree."""
        if self.n_atoms == 1:
            return 0.0
        diff = self.coords[:, None] - self.coords[None]
        distances = np.linalg.norm(diff, axis=-1)
        iu = np.triu_indices(self.n_atoms, 1)
        zz = np.outer(self.charges, self.charges)
        return float(np.sum(zz[iu] / distances[iu]))

    def check_elements(self, element_set: Sequence[str]) -> None:
        """Raise MoleculeError if an element is outside ``element_set``."""
        outside = sorted(set(self.symbols) - set(element_set), key=atomic_number)
        if outside:
            raise MoleculeError(
                f"molecule {self.name or self.formula!r} has element(s) {', '.join(outside)} "
                f"outside the configured element set [{' '.join(element_set)}]"
            )

    @property
    def formula(self) -> str:
        counts: dict[str, int] = {}
        for symbol in self.symbols:
            counts[symbol] = counts.get(symbol, 0) + 1
        return "".join(f"{s}{n if n > 1 else ''}" for s, n in counts.items())

    def with_coords(self, coords: np.ndarray, name: str | None = None) -> "Molecule":
        """The same molecule at other nuclear positions (bohr)."""
        return Molecule(
            self.charges, coords, charge=self.charge, spin=self.spin,
            name=self.name if name is None else name,
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Molecule):
            return NotImplemented
        return (
            np.array_equal(self.charges, other.charges)
            and np.array_equal(self.coords, other.coords)
            and (self.charge, self.spin, self.name) == (other.charge, other.spin, other.name)
        )

    def __hash__(self) -> int:
        return hash((self.charges.tobytes(), self.coords.tobytes(), self.charge, self.spin))

    def __repr__(self) -> str:
        return (
            f"Molecule({self.name or self.formula}, n_atoms={self.n_atoms}, "
            f"charge={self.charge}, spin={self.spin})"
        )
