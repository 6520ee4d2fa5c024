"""Shipped pretrained models: ``models/<name>/`` in the repository.

A shipped model is a checkpoint folder holding only the network parameters and the run's
meta (resolved config, model configuration, descriptor settings, format version; no
optimizer state or walkers), a machine-readable ``card.json`` (what it was trained on and
with how much compute, headline results) and a human-readable ``README.md`` (the model
card, with the commands that reproduce each number).

``--checkpoint`` and ``foundation_wf.api.load_model`` accept a shipped model's name wherever
they accept a run folder.
"""

from __future__ import annotations

import dataclasses
import json
import os
import pathlib
import platform
from typing import Any

from foundation_wf import jsonfile
from foundation_wf.ansatz import parameter_count
from foundation_wf.data.io import load_geometries
from foundation_wf.train import checkpoint
from foundation_wf.train.plots import read_metrics
from foundation_wf.train.state import select_records

MODELS_DIR = pathlib.Path(__file__).resolve().parents[2] / "models"
CARD_FILE = "card.json"


@dataclasses.dataclass(frozen=True)
class ModelCard:
    """What ``card.json`` records about a shipped model.

    Attributes:
      name: the model's name (its folder under models/).
      description: one line.
      dataset: the pretraining dataset; compounds: its compounds; elements: the element
        set the descriptors cover; preset: the model preset; parameters: parameter count.
      step: optimizer steps trained; walkers: walkers per geometry; walker_steps: steps x
        walkers x geometries per step; wall_time_min: training wall time in minutes;
        machine: where it was trained.
      headline: headline results, e.g. {"hydrogen_chains_test zero-shot": "+3.1 mHa mean"}.
      check: {"dataset": ..., "geometry": ..., "max_error_Ha": ...}: a geometry with a
        reference energy that the test suite evaluates the model on zero-shot; the energy
        must lie within max_error_Ha (plus 3 standard errors) above the reference.
    """

    name: str
    description: str
    dataset: str
    compounds: list[str]
    elements: list[str]
    preset: str
    parameters: int
    step: int
    walkers: int
    walker_steps: int
    wall_time_min: float
    machine: str
    headline: dict[str, str]
    check: dict[str, Any]


def model_folder(name: str) -> pathlib.Path:
    return MODELS_DIR / name


def shipped_cards() -> list[ModelCard]:
    """The cards of every shipped model, by name."""
    cards = []
    for path in sorted(MODELS_DIR.glob(f"*/{CARD_FILE}")):
        cards.append(ModelCard(**json.loads(path.read_text())))
    return cards


def resolve_checkpoint(name_or_path: str | os.PathLike) -> pathlib.Path:
    """A run folder, a checkpoints folder, or a shipped model's name -> its folder."""
    path = pathlib.Path(name_or_path)
    if path.exists():
        return path
    shipped = model_folder(str(name_or_path))
    if shipped.is_dir() and str(name_or_path) == shipped.name:
        return shipped
    names = ", ".join(card.name for card in shipped_cards()) or "none"
    raise FileNotFoundError(f"{str(name_or_path)!r} is neither a run folder nor a shipped "
                            f"model (shipped: {names}; see 'fwf model list')")


def _machine() -> str:
    return f"{platform.machine()} CPU, {os.cpu_count()} cores ({platform.system()})"


def export(run: str | pathlib.Path, name: str, description: str,
           step: int | None = None) -> pathlib.Path:
    """Write models/<name>/ from a run folder's checkpoint ``step`` (default: the latest):
    parameters and meta only, plus card.json with the run's training figures (headline
    results and the check geometry are added to card.json by hand once measured)."""
    from foundation_wf.train.pretrained import load_pretrained

    if not name or any(c not in "abcdefghijklmnopqrstuvwxyz0123456789_-" for c in name):
        raise ValueError(f"model name must be lower-case letters, digits, '_' or '-', got {name!r}")
    pretrained = load_pretrained(run, step)
    folder = model_folder(name)
    target = folder / checkpoint.CHECKPOINT_DIR
    if target.exists():
        raise FileExistsError(f"{target} exists; remove it to export again")
    checkpoint.save_params(checkpoint.folder_manager(target, max_to_keep=1), pretrained.step,
                           pretrained.params, pretrained.meta)
    config = pretrained.meta["config"]
    vmc = [row for row in read_metrics(pathlib.Path(run) / "metrics.jsonl")
           if row.get("phase") == "vmc" and row["step"] < pretrained.step]
    records = select_records(load_geometries(config["dataset"]), config["geometries"])
    compounds = sorted({r.compound for r in records}, key=lambda c: (len(c), c))
    card = ModelCard(
        name=name, description=description, dataset=config["dataset"], compounds=compounds,
        elements=list(pretrained.settings.elements), preset=pretrained.preset,
        parameters=int(parameter_count(pretrained.params)), step=pretrained.step,
        walkers=config["walkers"],
        walker_steps=int(pretrained.step * config["walkers"]
                         * config["scheduler"]["geometries_per_step"]),
        wall_time_min=round(max((r["wall_time"] for r in vmc), default=0.0) / 60, 1),
        machine=_machine(), headline={}, check={})
    jsonfile.write(folder / CARD_FILE, dataclasses.asdict(card))
    return folder
