"""One geometry of a dataset: a molecule plus its label, scan coordinate and reference energy."""

from __future__ import annotations

import dataclasses
from typing import Any

from foundation_wf.systems import Molecule, MoleculeError


@dataclasses.dataclass(frozen=True)
class GeometryRecord:
    """A dataset row.

    Attributes:
      molecule: the geometry (bohr); ``molecule.name`` is the row's unique name.
      compound: compound label shared by geometries of one molecule (e.g. "H4").
      scan: the geometry's scan coordinate for PES plots (e.g. the H-H spacing in bohr),
        or None.
      reference_energy: near-exact total energy in hartree, or None.
      reference_uncertainty: its uncertainty in hartree, or None.
      reference_method, reference_source: where the reference comes from.
    """

    molecule: Molecule
    compound: str
    scan: float | None = None
    reference_energy: float | None = None
    reference_uncertainty: float | None = None
    reference_method: str | None = None
    reference_source: str | None = None

    @property
    def name(self) -> str:
        return self.molecule.name

    def to_row(self) -> dict[str, Any]:
        """The JSON Lines representation (coordinates in bohr)."""
        return {
            "name": self.molecule.name,
            "compound": self.compound,
            "symbols": self.molecule.symbols,
            "coordinates_bohr": self.molecule.coords.tolist(),
            "charge": self.molecule.charge,
            "spin": self.molecule.spin,
            "scan": self.scan,
            "reference_energy_Ha": self.reference_energy,
            "reference_uncertainty_Ha": self.reference_uncertainty,
            "reference_method": self.reference_method,
            "reference_source": self.reference_source,
        }

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> "GeometryRecord":
        missing = [k for k in ("name", "symbols", "coordinates_bohr") if row.get(k) is None]
        if missing:
            raise MoleculeError(f"dataset row {row.get('name', '?')!r} lacks {', '.join(missing)}")
        molecule = Molecule.from_symbols(
            row["symbols"], row["coordinates_bohr"], unit="bohr",
            charge=int(row.get("charge") or 0), spin=int(row.get("spin") or 0), name=row["name"],
        )
        return cls(
            molecule=molecule,
            compound=row.get("compound") or molecule.formula,
            scan=row.get("scan"),
            reference_energy=row.get("reference_energy_Ha"),
            reference_uncertainty=row.get("reference_uncertainty_Ha"),
            reference_method=row.get("reference_method"),
            reference_source=row.get("reference_source"),
        )
