"""On-disk cache of HF orbitals and descriptors, keyed by geometry and descriptor settings.

Entries are .npz files named by a SHA-256 of the geometry (atomic numbers, exact coordinate
bits, charge, spin) and the settings. Writes go to a temporary file that is renamed into place,
so a concurrent reader sees either no entry or a complete one.
"""

from __future__ import annotations

import hashlib
import json
import os
import pathlib
import sys
import tempfile
import zipfile
from typing import TYPE_CHECKING

import numpy as np

from foundation_wf.hf.settings import DescriptorSettings
from foundation_wf.systems import Molecule

if TYPE_CHECKING:
    from foundation_wf.hf.descriptors import GeometryHF

# Bump when the HF/descriptor computation changes, so stale entries are never read.
CACHE_FORMAT_VERSION = 1


def default_cache_dir() -> pathlib.Path:
    """$FWF_CACHE_DIR, else ~/.cache/foundation_wf/hf."""
    env = os.environ.get("FWF_CACHE_DIR")
    if env:
        return pathlib.Path(env)
    return pathlib.Path.home() / ".cache" / "foundation_wf" / "hf"


def geometry_key(molecule: Molecule, settings: DescriptorSettings) -> str:
    """Hex SHA-256 identifying a geometry's HF result under given settings."""
    digest = hashlib.sha256()
    digest.update(json.dumps({
        "version": CACHE_FORMAT_VERSION,
        "charges": molecule.charges.tolist(),
        "charge": molecule.charge,
        "spin": molecule.spin,
        "settings": settings.to_dict(),
    }, sort_keys=True).encode())
    digest.update(np.ascontiguousarray(molecule.coords, dtype=np.float64).tobytes())
    return digest.hexdigest()


class DescriptorCache:
    """A folder of cached ``GeometryHF`` entries."""

    def __init__(self, directory: str | os.PathLike | None = None):
        self.directory = pathlib.Path(directory) if directory else default_cache_dir()

    def path(self, molecule: Molecule, settings: DescriptorSettings) -> pathlib.Path:
        return self.directory / f"{geometry_key(molecule, settings)}.npz"

    def load(self, molecule: Molecule, settings: DescriptorSettings) -> "GeometryHF | None":
        """The cached entry, or None when there is none (an unreadable one is deleted)."""
        from foundation_wf.hf.descriptors import GeometryHF
        from foundation_wf.hf.scf import HFOrbitals

        path = self.path(molecule, settings)
        if not path.exists():
            return None
        try:
            with np.load(path) as data:
                orbitals = HFOrbitals(
                    energy=float(data["energy"]),
                    method=str(data["method"]),
                    coeff_up=data["coeff_up"],
                    coeff_down=data["coeff_down"],
                )
                return GeometryHF(orbitals, (data["desc_up"], data["desc_down"]))
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as error:
            print(f"HF cache entry {path} is unreadable ({type(error).__name__}: {error}); "
                  "deleting it and recomputing", file=sys.stderr)
            path.unlink(missing_ok=True)
            return None

    def store(self, molecule: Molecule, settings: DescriptorSettings, entry: "GeometryHF") -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        target = self.path(molecule, settings)
        handle, temporary = tempfile.mkstemp(dir=self.directory, suffix=".tmp")
        try:
            with os.fdopen(handle, "wb") as stream:
                np.savez(
                    stream,
                    energy=entry.orbitals.energy,
                    method=entry.orbitals.method,
                    coeff_up=entry.orbitals.coeff_up,
                    coeff_down=entry.orbitals.coeff_down,
                    desc_up=entry.descriptors[0],
                    desc_down=entry.descriptors[1],
                )
            os.replace(temporary, target)
        except BaseException:
            pathlib.Path(temporary).unlink(missing_ok=True)
            raise
