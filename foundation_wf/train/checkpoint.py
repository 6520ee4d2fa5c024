"""Orbax checkpoints of a run: everything needed to continue exactly where it stopped.

Each checkpoint holds three items:
  params: the network parameters (all that evaluation and fine-tuning need).
  state: the training progress (optimizer state, walkers, scheduler, step), as arrays only;
         see ``train.saved_state``.
  meta:  JSON with the resolved config, dataset fingerprint, descriptor settings, model
         preset and hyperparameters, and the geometry names.
Orbax writes into a temporary folder and renames it when complete, so a run killed during a
save resumes from the last complete checkpoint.
"""

from __future__ import annotations

import pathlib
import shutil
from typing import Any, Callable

import jax
import orbax.checkpoint as ocp

from foundation_wf.hf.settings import DescriptorSettings

CHECKPOINT_DIR = "checkpoints"
# Version of what a checkpoint holds and how (items, meta fields); raise it when that changes.
FORMAT_VERSION = 1
UNREADABLE_DIR = "unreadable_checkpoints"
# Meta fields that must match between a checkpoint and the run that loads it.
COMPATIBILITY_FIELDS = ("descriptors.basis", "descriptors.elements",
                        "descriptors.localization", "descriptors.orbital_signs",
                        "descriptors.reference", "model.preset", "model.config")


class CheckpointMismatch(ValueError):
    """A checkpoint made with other descriptor settings or another model."""


class CheckpointError(RuntimeError):
    """No checkpoint of a run folder could be read."""


def manager(run_folder: str | pathlib.Path, max_to_keep: int = 3) -> ocp.CheckpointManager:
    """The CheckpointManager of a run folder (its checkpoints/ subfolder)."""
    return folder_manager(pathlib.Path(run_folder) / CHECKPOINT_DIR, max_to_keep)


def folder_manager(directory: str | pathlib.Path, max_to_keep: int = 3) -> ocp.CheckpointManager:
    options = ocp.CheckpointManagerOptions(max_to_keep=max_to_keep,
                                           enable_async_checkpointing=False)
    return ocp.CheckpointManager(pathlib.Path(directory).absolute(), options=options)


def find_checkpoint_folder(path: str | pathlib.Path) -> pathlib.Path:
    """A run folder or its checkpoints/ folder -> the checkpoints/ folder."""
    path = pathlib.Path(path)
    for candidate in (path / CHECKPOINT_DIR, path):
        if candidate.is_dir() and any(p.name.isdigit() for p in candidate.iterdir()):
            return candidate
    raise FileNotFoundError(f"no checkpoints found in {str(path)!r}")


def save(mngr: ocp.CheckpointManager, step: int, params, state: dict[str, Any],
         meta: dict) -> None:
    mngr.save(step, args=ocp.args.Composite(params=ocp.args.StandardSave(params),
                                            state=ocp.args.StandardSave(state),
                                            meta=ocp.args.JsonSave(meta)), force=True)
    mngr.wait_until_finished()


def save_params(mngr: ocp.CheckpointManager, step: int, params, meta: dict) -> None:
    """A checkpoint of the parameters and meta only (what evaluation and fine-tuning read;
    used for shipped models)."""
    mngr.save(step, args=ocp.args.Composite(params=ocp.args.StandardSave(params),
                                            meta=ocp.args.JsonSave(meta)), force=True)
    mngr.wait_until_finished()


def restore(mngr: ocp.CheckpointManager, targets: dict[str, Any],
            step: int | None = None) -> dict[str, Any]:
    """Restore the items named in ``targets`` (shaped like their targets, placed on this
    process's devices) and the meta dict; e.g. targets={"params": params}."""
    step = mngr.latest_step() if step is None else step
    items = {name: ocp.args.StandardRestore(
        jax.tree_util.tree_map(ocp.utils.to_shape_dtype_struct, target))
        for name, target in targets.items()}
    return mngr.restore(step, args=ocp.args.Composite(meta=ocp.args.JsonRestore(), **items))


def restore_newest_readable(mngr: ocp.CheckpointManager, targets: dict[str, Any],
                            report: Callable[[str], None] = print) -> tuple[int, dict[str, Any]]:
    """Restore the newest checkpoint that reads back: one that fails is reported by path,
    moved to ``<run>/unreadable_checkpoints/`` (kept for inspection, out of the manager's
    way) and the previous one is tried. Returns (step, items); raises CheckpointError when
    none reads."""
    directory = pathlib.Path(mngr.directory)
    for step in sorted(mngr.all_steps(), reverse=True):
        try:
            return step, restore(mngr, targets, step)
        except Exception as error:  # noqa: BLE001  (Orbax and tensorstore raise many types)
            reason = " ".join(str(error).split())[:200] or type(error).__name__
            quarantine = directory.parent / UNREADABLE_DIR / str(step)
            quarantine.parent.mkdir(exist_ok=True)
            shutil.rmtree(quarantine, ignore_errors=True)
            shutil.move(directory / str(step), quarantine)
            mngr.reload()
            report(f"checkpoint {directory / str(step)} is unreadable ({reason}); moved to "
                   f"{quarantine}, trying the previous one")
    raise CheckpointError(f"no readable checkpoint in {str(directory)!r}")


def read_meta(mngr: ocp.CheckpointManager, step: int | None = None) -> dict:
    step = mngr.latest_step() if step is None else step
    return mngr.restore(step, args=ocp.args.Composite(meta=ocp.args.JsonRestore()))["meta"]


def check_format(meta: dict, path: str | pathlib.Path) -> None:
    """Refuse a checkpoint written in another format version, naming both versions."""
    version = meta.get("format_version")
    if version != FORMAT_VERSION:
        raise CheckpointMismatch(
            f"checkpoint {str(path)!r} has format version {version}, this version of "
            f"foundation_wf reads version {FORMAT_VERSION}; retrain it with this version")


def _lookup(meta: dict, dotted: str) -> Any:
    node = meta
    for part in dotted.split("."):
        node = node[part]
    return node


def check_compatible(checkpoint_meta: dict, run_meta: dict) -> None:
    """Raise CheckpointMismatch naming the first field that differs (descriptor settings a
    checkpoint predates take the values it was made with)."""
    descriptors = DescriptorSettings.from_dict(checkpoint_meta["descriptors"]).to_dict()
    checkpoint_meta = {**checkpoint_meta, "descriptors": descriptors}
    for field in COMPATIBILITY_FIELDS:
        saved, wanted = _lookup(checkpoint_meta, field), _lookup(run_meta, field)
        if saved != wanted:
            raise CheckpointMismatch(
                f"checkpoint was made with {field}={saved!r}, this run has {wanted!r}")
