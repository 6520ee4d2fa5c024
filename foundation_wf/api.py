"""Python API: a pretrained model (shipped or a run folder) -> the energy of a geometry.

    from foundation_wf import api
    model = api.load_model("hchains")
    result = api.energy(model, ["H", "H", "H", "H"],
                        [[0, 0, 0], [0, 0, 1.8], [0, 0, 3.6], [0, 0, 5.4]])
    print(result.energy, result.error)       # Ha, zero-shot

Fine-tuning first: ``api.energy(..., finetune="finetune/h6.yaml")`` takes the recipe's
training settings (steps, optimizer, MCMC); the geometry, output and model come from the call.
"""

from __future__ import annotations

import dataclasses
import pathlib
import tempfile
from typing import Sequence

from foundation_wf.data.io import save_geometries
from foundation_wf.data.records import GeometryRecord
from foundation_wf.systems import Molecule
from foundation_wf.train.config import RunConfig, build, load_recipe
from foundation_wf.train.pretrained import Pretrained, inherit, load_pretrained, zero_shot_config
from foundation_wf.train.trainer import Trainer

GEOMETRY_NAME = "geometry"


@dataclasses.dataclass(frozen=True)
class EnergyEstimate:
    """A VMC energy of one geometry.

    Attributes:
      energy: mean local energy (Ha); error: its reblocked standard error (Ha).
      hf_energy: Hartree-Fock energy in the model's basis (Ha).
      energy_per_atom: energy / number of atoms (Ha).
      finetune_steps: optimizer steps on this geometry before the evaluation (0: zero-shot).
    """

    energy: float
    error: float
    hf_energy: float
    energy_per_atom: float
    finetune_steps: int


def load_model(name_or_path: str | pathlib.Path, step: int | None = None) -> Pretrained:
    """A shipped model by name (see ``fwf model list``) or a run folder's checkpoint (the
    latest unless ``step`` is given)."""
    return load_pretrained(name_or_path, step)


def energy(model: Pretrained, symbols: Sequence[str],
           coordinates_bohr: Sequence[Sequence[float]], *, charge: int = 0, spin: int = 0,
           walkers: int = 256, burn_in: int = 50, sweeps: int = 50, seed: int = 0,
           finetune: str | pathlib.Path | None = None,
           output: str | pathlib.Path | None = None) -> EnergyEstimate:
    """The energy of one geometry (coordinates in bohr; ``spin`` = n_up - n_down) with the
    model's weights: zero-shot (``walkers`` walkers, ``burn_in`` then ``sweeps`` MCMC sweeps),
    or after fine-tuning with the recipe ``finetune`` (whose walkers, MCMC, optimizer and
    evaluation settings then apply instead of the arguments). The run folder (metrics, plots) is
    written to ``output``, or to a temporary folder that is removed."""
    molecule = Molecule.from_symbols(symbols, coordinates_bohr, unit="bohr", charge=charge,
                                     spin=spin, name=GEOMETRY_NAME)
    with tempfile.TemporaryDirectory(prefix="fwf_api_") as scratch:
        folder = pathlib.Path(output) if output is not None else pathlib.Path(scratch) / "run"
        dataset = save_geometries([GeometryRecord(molecule, compound=molecule.formula)],
                                  pathlib.Path(scratch) / "dataset")
        if finetune is None:
            config = zero_shot_config(model, str(dataset), str(folder), walkers, burn_in,
                                      sweeps, seed=seed)
            trainer = Trainer(config, initial_params=model.params)
            results = trainer.zero_shot()
        else:
            recipe = {**load_recipe(finetune), "dataset": str(dataset), "geometries": None,
                      "output": str(folder), "seed": seed}
            config = build(RunConfig, inherit(recipe, model))
            trainer = Trainer(config, initial_params=model.params)
            results = trainer.run()
    stats = results[GEOMETRY_NAME]
    return EnergyEstimate(energy=stats.mean, error=stats.error,
                          hf_energy=trainer.states[0].hf.energy,
                          energy_per_atom=stats.mean / molecule.n_atoms,
                          finetune_steps=config.steps)
