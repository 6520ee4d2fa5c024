"""Per-geometry state of a run: HF data, network input, HF target, walkers, last statistics."""

from __future__ import annotations

import dataclasses
from typing import Sequence

import jax
import jax.numpy as jnp

from foundation_wf.ansatz import GeometryInput, geometry_input
from foundation_wf.data.io import load_geometries
from foundation_wf.data.records import GeometryRecord
from foundation_wf.hf import DescriptorCache, DescriptorSettings, GeometryHF, geometry_hf
from foundation_wf.train.loggers import progress
from foundation_wf.vmc import mcmc
from foundation_wf.vmc.hf_pretrain import HFTarget, hf_target


@dataclasses.dataclass
class GeometryState:
    """Everything one geometry owns during a run.

    Attributes:
      record: the dataset row (molecule, compound, scan coordinate, reference energy).
      hf: HF energy, localized orbitals and descriptors (float64).
      geometry: the network input in the run's precision.
      target: HF orbitals in JAX, for HF pretraining and HF sampling.
      walkers: MCMC state (positions, log|psi|, step size, acceptance) or None before init.
    """

    record: GeometryRecord
    hf: GeometryHF
    geometry: GeometryInput
    target: HFTarget
    walkers: mcmc.WalkerState | None = None

    @property
    def name(self) -> str:
        return self.record.name

    def placeholder_walkers(self, n_walkers: int, dtype) -> mcmc.WalkerState:
        """Zero walkers of the right shapes (a restore target)."""
        n = self.record.molecule.n_electrons
        return mcmc.WalkerState(jnp.zeros((n_walkers, n, 3), dtype), jnp.zeros(n_walkers, dtype),
                                jnp.zeros((), dtype), jnp.zeros((), dtype))


def stack(trees: Sequence):
    """Pytrees of equal structure and shapes (walkers, network inputs of one compound)
    stacked along a new leading axis."""
    return jax.tree_util.tree_map(lambda *leaves: jnp.stack(leaves), *trees)


def select_records(records: Sequence[GeometryRecord],
                   names: Sequence[str] | None) -> list[GeometryRecord]:
    """The named records (all when ``names`` is None); unknown names are an error."""
    if names is None:
        return list(records)
    by_name = {r.name: r for r in records}
    missing = [n for n in names if n not in by_name]
    if missing:
        raise ValueError(f"geometry {missing[0]!r} is not in the dataset "
                         f"(has: {', '.join(sorted(by_name))})")
    return [by_name[n] for n in names]


def checked_records(dataset: str, names: Sequence[str] | None,
                    settings: DescriptorSettings) -> list[GeometryRecord]:
    """The geometries a run names from ``dataset``, refused before any computation when a
    name is missing, an element lies outside ``settings.elements`` or the basis is not
    supported."""
    records = select_records(load_geometries(dataset), names)
    for record in records:
        record.molecule.check_elements(settings.elements)
    settings.layout  # noqa: B018  (refuses unsupported bases)
    return records


def build_states(records: Sequence[GeometryRecord], settings: DescriptorSettings,
                 dtype) -> list[GeometryState]:
    """HF (cached) and network inputs for every record, with a progress bar."""
    cache = DescriptorCache()
    states = []
    for record in progress(records, desc="Hartree-Fock", unit="geom", leave=False):
        hf = geometry_hf(record.molecule, settings, cache)
        states.append(GeometryState(
            record=record, hf=hf,
            geometry=geometry_input(record.molecule, hf, settings, dtype),
            target=hf_target(record.molecule, hf, settings, dtype),
        ))
    return states
