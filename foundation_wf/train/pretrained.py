"""Loading pretrained weights from a run folder or checkpoint folder (evaluate, fine-tune)."""

from __future__ import annotations

import dataclasses
import pathlib

import jax

from foundation_wf.ansatz import ModelConfig, geometry_input
from foundation_wf.ansatz.model import Ansatz
from foundation_wf.data.generators import hydrogen_chain
from foundation_wf.hf import DescriptorSettings, geometry_hf
from foundation_wf.train import checkpoint


@dataclasses.dataclass(frozen=True)
class Pretrained:
    """Network parameters and what they were trained with.

    Attributes:
      params: the parameter tree (float32 or float64 as saved).
      meta: the checkpoint's meta dict (config, descriptors, model, dataset fingerprint).
      step: the optimizer step of the checkpoint.
    """

    params: dict
    meta: dict
    step: int

    @property
    def settings(self) -> DescriptorSettings:
        return DescriptorSettings.from_dict(self.meta["descriptors"])

    @property
    def preset(self) -> str:
        return self.meta["model"]["preset"]

    @property
    def precision(self) -> str:
        return self.meta["config"]["precision"]


def load_pretrained(path: str | pathlib.Path) -> Pretrained:
    """Latest checkpoint of a run folder (or of a checkpoints/ folder)."""
    mngr = checkpoint.folder_manager(checkpoint.find_checkpoint_folder(path))
    step = mngr.latest_step()
    meta = checkpoint.read_meta(mngr, step)
    if meta["config"]["precision"] == "float64":
        jax.config.update("jax_enable_x64", True)
    settings = DescriptorSettings.from_dict(meta["descriptors"])
    ansatz = Ansatz(ModelConfig(**meta["model"]["config"]), settings)
    probe = hydrogen_chain(2, 1.4)  # parameter shapes do not depend on the molecule
    dtype = "float64" if meta["config"]["precision"] == "float64" else "float32"
    geometry = geometry_input(probe, geometry_hf(probe, settings), settings, dtype)
    abstract = jax.eval_shape(ansatz.init, jax.random.PRNGKey(0), geometry)
    params = checkpoint.restore(mngr, {"params": abstract}, step)["params"]
    return Pretrained(params=params, meta=meta, step=step)
