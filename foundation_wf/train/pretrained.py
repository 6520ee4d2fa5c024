"""Loading pretrained weights from a run folder or checkpoint folder (evaluate, fine-tune)."""

from __future__ import annotations

import dataclasses
import pathlib
from typing import Any, Callable

import jax

from foundation_wf.ansatz import ModelConfig, geometry_input
from foundation_wf.ansatz.model import Ansatz
from foundation_wf.ansatz.presets import LEGACY_FIELD_VALUES, preset_name
from foundation_wf.data.generators import hydrogen_chain
from foundation_wf.hf import DescriptorSettings, geometry_hf
from foundation_wf.train import checkpoint
from foundation_wf.train.config import RunConfig, build, use_precision
from foundation_wf.train.shipped import resolve_checkpoint


@dataclasses.dataclass(frozen=True)
class Pretrained:
    """Network parameters and what they were trained with.

    Attributes:
      params: the parameter tree (float32 or float64 as saved).
      meta: the checkpoint's meta dict (config, descriptors, model, dataset fingerprint).
      step: the optimizer step of the checkpoint.
      folder: the checkpoints folder it was read from.
    """

    params: dict
    meta: dict
    step: int
    folder: pathlib.Path

    @property
    def settings(self) -> DescriptorSettings:
        return DescriptorSettings.from_dict(self.meta["descriptors"])

    @property
    def preset(self) -> str:
        return self.meta["model"]["preset"]

    @property
    def model_config(self) -> ModelConfig:
        return saved_model_config(self.meta, self.folder)

    @property
    def precision(self) -> str:
        return self.meta["config"]["precision"]

    @property
    def config(self) -> RunConfig:
        """The run configuration the parameters were trained with."""
        return build(RunConfig, self.meta["config"])


def saved_model_config(meta: dict, path: str | pathlib.Path) -> ModelConfig:
    """The checkpoint's model configuration; fields it predates take their
    ``LEGACY_FIELD_VALUES``; one written by another version of the ansatz (fields this
    version does not have, or lacks) is refused naming the fields."""
    saved = {**LEGACY_FIELD_VALUES, **meta["model"]["config"]}
    known = {field.name for field in dataclasses.fields(ModelConfig)}
    unknown, missing = sorted(set(saved) - known), sorted(known - set(saved))
    if unknown or missing:
        raise checkpoint.CheckpointMismatch(
            f"checkpoint {str(path)!r} was written by another version of the ansatz "
            f"(model fields not in this version: {unknown or 'none'}; missing: "
            f"{missing or 'none'}); retrain it with this version")
    return ModelConfig(**saved)


def _read_checkpoint(mngr, step: int, read: Callable[[], Any]) -> Any:
    """``read()`` of checkpoint ``step``; a failure is a CheckpointError naming it."""
    try:
        return read()
    except Exception as error:  # noqa: BLE001  (Orbax and tensorstore raise many types)
        raise checkpoint.CheckpointError(
            f"checkpoint {mngr.directory}/{step} is unreadable ({type(error).__name__}); "
            "choose another with --step") from None


def load_pretrained(path: str | pathlib.Path, step: int | None = None) -> Pretrained:
    """The checkpoint at ``step`` (default: the latest) of a run folder, a checkpoints/
    folder or a shipped model (by name, see ``train.shipped``)."""
    path = resolve_checkpoint(path)
    folder = checkpoint.find_checkpoint_folder(path)
    mngr = checkpoint.folder_manager(folder)
    if step is None:
        step = mngr.latest_step()
    elif step not in mngr.all_steps():
        raise FileNotFoundError(f"{str(path)!r} has no checkpoint at step {step} "
                                f"(it has {sorted(mngr.all_steps())})")
    meta = _read_checkpoint(mngr, step, lambda: checkpoint.read_meta(mngr, step))
    checkpoint.check_format(meta, path)
    dtype = use_precision(meta["config"]["precision"])
    settings = DescriptorSettings.from_dict(meta["descriptors"])
    ansatz = Ansatz(saved_model_config(meta, path), settings)
    probe = hydrogen_chain(2, 1.4)  # parameter shapes do not depend on the molecule
    geometry = geometry_input(probe, geometry_hf(probe, settings), settings, dtype)
    abstract = jax.eval_shape(ansatz.init, jax.random.PRNGKey(0), geometry)
    params = _read_checkpoint(
        mngr, step, lambda: checkpoint.restore(mngr, {"params": abstract}, step)["params"])
    return Pretrained(params=params, meta=meta, step=step, folder=folder)


def inherit(recipe: dict, pretrained: Pretrained) -> dict:
    """The recipe with model (its resolved configuration), precision and descriptor settings
    taken from the checkpoint; a recipe that sets one of them differently is refused, naming
    the field (a model given by the checkpoint's preset name is accepted)."""
    descriptors = pretrained.settings.to_dict()
    model = pretrained.model_config
    wanted = {"precision": pretrained.precision,
              **{f"descriptors.{k}": v for k, v in descriptors.items()}}
    given = {"precision": recipe.get("precision"),
             **{f"descriptors.{k}": (recipe.get("descriptors") or {}).get(k)
                for k in descriptors}}
    for field, value in given.items():
        if value is not None and value != wanted[field]:
            raise checkpoint.CheckpointMismatch(
                f"checkpoint was made with {field}={wanted[field]!r}, the recipe sets {value!r}")
    if recipe.get("model") not in (None, pretrained.preset, dataclasses.asdict(model)):
        made_with = (repr(pretrained.preset) if preset_name(model) == pretrained.preset
                     else f"{dataclasses.asdict(model)}")
        raise checkpoint.CheckpointMismatch(
            f"checkpoint was made with model={made_with}, the recipe sets {recipe['model']!r}")
    return {**recipe, "model": dataclasses.asdict(model), "precision": pretrained.precision,
            "descriptors": descriptors}


def zero_shot_config(pretrained: Pretrained, dataset: str, output: str, walkers: int,
                     burn_in: int, steps: int, geometries: list[str] | None = None,
                     seed: int = 0) -> RunConfig:
    """A run without optimizer steps that evaluates ``pretrained`` on a dataset: walkers
    sampled from HF, ``burn_in`` sweeps with the network, ``steps`` evaluation sweeps (MCMC
    settings otherwise as in the checkpoint's run)."""
    trained = pretrained.meta["config"]
    return build(RunConfig, inherit(dict(
        dataset=dataset, geometries=geometries, output=output, seed=seed, walkers=walkers,
        steps=0, mcmc={**trained["mcmc"], "burn_in": burn_in}, pretrain={"steps": 0},
        evaluation={"steps": steps}), pretrained))
