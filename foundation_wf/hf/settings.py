"""Descriptor settings and the fixed feature layout they imply.

The layout is what makes the network size-agnostic: every atom's orbital coefficients are
written into the slot reserved for its element, so the feature length depends only on the
element set and the basis, never on the molecule.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Sequence

import numpy as np
from pyscf import gto

from foundation_wf.systems import ELEMENT_SYMBOLS, atomic_number

DEFAULT_ELEMENTS: tuple[str, ...] = tuple(ELEMENT_SYMBOLS[1:11])  # H .. Ne
LOCALIZATIONS = ("boys",)
ORBITAL_SIGNS = ("canonical", "raw")
REFERENCES = ("restricted", "unrestricted")


@dataclasses.dataclass(frozen=True)
class DescriptorSettings:
    """What a set of orbital descriptors was computed with (stored in every checkpoint).

    Attributes:
      basis: PySCF basis name for the Hartree-Fock calculation (default STO-6G).
      elements: the element set: the only elements a model built on these settings accepts.
      localization: occupied-orbital localization ("boys" = Foster-Boys).
      orbital_signs: "canonical" (the s-type coefficient of largest magnitude is positive,
        unchanged by rotations) or "raw" (signs as the localizer returns them: they flip
        at random along a rotation; the baseline of ``fwf phase-demo``).
      reference: "restricted" (RHF for closed shells, ROHF for open ones: up and down
        electrons share spatial orbitals) or "unrestricted" (the default; UHF, following the
        restricted solution's instabilities: where it is stable, as near equilibrium, the
        descriptors are the restricted ones; where bonds are stretched, up and down orbitals
        localize on different atoms, which describes bond breaking far better: UHF is
        134 mHa below RHF for H2 at 3.6 bohr in STO-6G).
    """

    basis: str = "sto-6g"
    elements: tuple[str, ...] = DEFAULT_ELEMENTS
    localization: str = "boys"
    orbital_signs: str = "canonical"
    reference: str = "unrestricted"

    def __post_init__(self) -> None:
        elements = tuple(ELEMENT_SYMBOLS[atomic_number(e)] for e in self.elements)
        if len(set(elements)) != len(elements) or not elements:
            raise ValueError(f"element set must be non-empty without repeats: {self.elements}")
        elements = tuple(sorted(elements, key=atomic_number))
        object.__setattr__(self, "elements", elements)
        object.__setattr__(self, "basis", self.basis.lower())
        if self.localization not in LOCALIZATIONS:
            raise ValueError(
                f"localization must be one of {LOCALIZATIONS}, got {self.localization!r}"
            )
        if self.orbital_signs not in ORBITAL_SIGNS:
            raise ValueError(
                f"orbital_signs must be one of {ORBITAL_SIGNS}, got {self.orbital_signs!r}")
        if self.reference not in REFERENCES:
            raise ValueError(f"reference must be one of {REFERENCES}, got {self.reference!r}")

    def to_dict(self) -> dict:
        return {"basis": self.basis, "elements": list(self.elements),
                "localization": self.localization, "orbital_signs": self.orbital_signs,
                "reference": self.reference}

    @classmethod
    def from_dict(cls, data: dict) -> "DescriptorSettings":
        # Checkpoints written before orbital_signs (reference) existed used canonical signs
        # (restricted HF).
        return cls(basis=data["basis"], elements=tuple(data["elements"]),
                   localization=data["localization"],
                   orbital_signs=data.get("orbital_signs", "canonical"),
                   reference=data.get("reference", "restricted"))

    @property
    def layout(self) -> "DescriptorLayout":
        return descriptor_layout(self.basis, self.elements)


@dataclasses.dataclass(frozen=True)
class DescriptorLayout:
    """Where each element's basis functions sit in the feature vector.

    Attributes:
      n_features: feature length F.
      element_offsets: {symbol: first feature index of its slot}.
      element_sizes: {symbol: number of basis functions of that element}.
      s_index: int array [n_s]: features that are s-type coefficients (rotation scalars).
      p_index: int array [n_p, 3]: features (x, y, z) of each p shell (rotation vectors).
    """

    n_features: int
    element_offsets: dict[str, int]
    element_sizes: dict[str, int]
    s_index: np.ndarray
    p_index: np.ndarray


def element_shells(basis: str, symbol: str) -> list[int]:
    """Angular momenta of the shells (one entry per contracted function) of an element."""
    z = atomic_number(symbol)
    try:
        atom = gto.M(atom=f"{symbol} 0 0 0", basis=basis, spin=z % 2, verbose=0)
    except (KeyError, RuntimeError, ValueError) as error:
        raise ValueError(f"basis {basis!r} is not available for {symbol}: {error}") from None
    shells = []
    for ib in range(atom.nbas):
        shells.extend([atom.bas_angular(ib)] * atom.bas_nctr(ib))
    if any(l > 1 for l in shells):
        raise ValueError(
            f"basis {basis!r} has d or higher shells on {symbol}; descriptors support "
            "s and p shells only (use a minimal basis such as sto-6g)"
        )
    return shells


@functools.lru_cache(maxsize=None)
def descriptor_layout(basis: str, elements: Sequence[str]) -> DescriptorLayout:
    offsets, sizes, s_index, p_index = {}, {}, [], []
    position = 0
    for symbol in elements:
        offsets[symbol] = position
        for l in element_shells(basis, symbol):
            if l == 0:
                s_index.append(position)
                position += 1
            else:
                p_index.append([position, position + 1, position + 2])
                position += 3
        sizes[symbol] = position - offsets[symbol]
    return DescriptorLayout(
        n_features=position,
        element_offsets=offsets,
        element_sizes=sizes,
        s_index=np.array(s_index, dtype=np.int64),
        p_index=np.array(p_index, dtype=np.int64).reshape(-1, 3),
    )


__all__ = ["DescriptorSettings", "DescriptorLayout", "descriptor_layout", "DEFAULT_ELEMENTS"]
