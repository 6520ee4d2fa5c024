"""The VMC driver over the geometries of a dataset (one geometry is a dataset of one).

Phases: Hartree-Fock for every geometry -> supervised HF pretraining across all geometries ->
walker burn-in -> variational optimization (one shared optimizer state; each step trains the
geometries the scheduler picks, stacked into one batch, in one compiled call) -> evaluation
without parameter updates (reblocked energies).

Compiled functions are cached by jit per shape (n_up, n_down, n_atoms): geometries of one
compound share them. Walkers are sharded over all local devices along the walker axis.
A run folder with checkpoints is resumed from its last checkpoint; randomness is derived from
(seed, step), so a resumed run continues exactly as if it had not stopped.

The Trainer holds a run's state and composes its pieces: ``run_folder.RunFolder`` (lock,
config, metrics files), ``phases`` (HF sampling and fit, burn-in), ``optimization`` (the
loop: fetching, logging, checkpoints, divergence), ``saved_state``/``checkpoint`` and
``evaluation``.
"""

from __future__ import annotations

import json
import math
import pathlib
import sys
from typing import Callable, Sequence

import jax
import jax.numpy as jnp

from foundation_wf.ansatz import make_ansatz
from foundation_wf.ansatz.presets import preset_name
from foundation_wf.data.io import dataset_fingerprint
from foundation_wf.train import (checkpoint, compiled, devices, evaluation, optimization, phases,
                                 saved_state, step_metrics)
from foundation_wf.train import results as results_file
from foundation_wf.train import run_folder
from foundation_wf.train.config import RunConfig, config_to_dict, use_precision
from foundation_wf.train.divergence import DivergenceMonitor, RunDiverged
from foundation_wf.train.loggers import progress
from foundation_wf.train.scheduler import GeometryScheduler
from foundation_wf.train.state import build_states, checked_records, stack
from foundation_wf.vmc import mcmc
from foundation_wf.vmc.stats import Stats

# Independent random streams, derived from the seed (fold_in of the phase, then the step).
HF_STREAM, VMC_STREAM, EVALUATION_STREAM, INIT_STREAM = 0, 1, 2, 3
# Within HF_STREAM: geometry i samples with fold_in(i); the fit's steps use this index.
HF_FIT_KEY = 10**6


def warn(message: str) -> None:
    """A one-line notice on stderr (kept apart from the results on stdout)."""
    print(message, file=sys.stderr)


class Trainer:
    """Runs the phases of a VMC run and writes the run folder."""

    def __init__(self, config: RunConfig, callbacks: Sequence[Callable[[dict], None]] = (),
                 initial_params: dict | None = None):
        """``initial_params``: start from these weights (fine-tuning, evaluation) instead of
        a random initialization; ignored when the run folder already has checkpoints."""
        self.config = config
        self.initial_params = initial_params
        self.dtype = use_precision(config.precision)
        self.settings = config.descriptors
        records = checked_records(config.dataset, config.geometries, self.settings)
        self.scheduler = GeometryScheduler(
            [r.compound for r in records], config.scheduler.max_age or 3 * len(records),
            config.scheduler.policy, config.scheduler.compound_weights)
        self.ansatz = make_ansatz(config.model, self.settings)
        self.sharding = devices.walker_sharding(config.walkers)
        self.fingerprint = dataset_fingerprint(records)
        self.callbacks = list(callbacks)
        # Files are written by the first process only (multi-host runs share the folder).
        # Its metrics files are opened by prepare() or zero_shot(), after any truncation.
        self.folder = run_folder.RunFolder(pathlib.Path(config.output),
                                           is_main=jax.process_index() == 0)
        try:
            self.checkpoints = checkpoint.manager(self.output, config.checkpoint.keep)
            self._check_resumable()
        except BaseException:
            self.close()
            raise
        self.folder.write_config(config_to_dict(config))
        self.divergence = DivergenceMonitor(config.divergence)
        self.learning_rate_scale = 1.0
        self.seed_key = jax.random.PRNGKey(config.seed)
        self.states = build_states(records, self.settings, self.dtype)
        self.params = self.ansatz.init(self._key(INIT_STREAM, 0), self.states[0].geometry)
        self.step = 0
        self._stacked_geometries: dict[tuple[int, ...], object] = {}
        self.optimizer = None
        self.opt_state = None
        self._compile()

    # ----- setup -------------------------------------------------------------------------
    @property
    def output(self) -> pathlib.Path:
        """The run folder."""
        return self.folder.path

    @property
    def is_main(self) -> bool:
        """Whether this process writes the run's files."""
        return self.folder.is_main

    def _key(self, stream: int, *indices: int) -> jax.Array:
        key = jax.random.fold_in(self.seed_key, stream)
        for index in indices:
            key = jax.random.fold_in(key, index)
        return key

    def meta(self) -> dict:
        """What a checkpoint records about the run (see checkpoint.COMPATIBILITY_FIELDS)."""
        return {
            "format_version": checkpoint.FORMAT_VERSION,
            "config": config_to_dict(self.config),
            "dataset_fingerprint": self.fingerprint,
            "descriptors": self.settings.to_dict(),
            "model": {"preset": preset_name(self.ansatz.config),
                      "config": json.loads(json.dumps(self.ansatz.config.__dict__))},
        }

    def _check_resumable(self) -> None:
        """A run folder with checkpoints must belong to the same model, data and trajectory
        settings (checked before anything in the folder is written)."""
        if self.checkpoints.latest_step() is None:
            return
        _, items = checkpoint.restore_newest_readable(self.checkpoints, {}, report=warn)
        saved = items["meta"]
        checkpoint.check_format(saved, self.output)
        checkpoint.check_compatible(saved, self.meta())
        if saved["dataset_fingerprint"] != self.fingerprint:
            raise checkpoint.CheckpointMismatch(
                f"run folder {str(self.output)!r} holds checkpoints of another dataset "
                "(fingerprint differs); use a new output folder")
        defaults = config_to_dict(RunConfig(dataset=self.config.dataset))
        changes = run_folder.check_resume_settings(self.output, saved["config"],
                                                   config_to_dict(self.config), defaults)
        if changes:
            print(f"resuming with changed settings: {'; '.join(changes)}")

    def close(self) -> None:
        """Close the metrics files and release the run folder."""
        self.folder.close()

    def _compile(self) -> None:
        self._functions = phases.run_functions_for(self.ansatz, self.config)
        self.loss = self._functions.loss

    def emit(self, row: dict) -> None:
        """Log ``row`` in the run folder (stamped with the run's wall time, s), then hand it
        to every callback."""
        self.folder.log(row)
        for callback in self.callbacks:
            callback(row)

    def stacked_geometry(self, indices: tuple[int, ...]):
        """The network inputs of geometries ``indices`` stacked along a leading axis (built
        once per group)."""
        if indices not in self._stacked_geometries:
            self._stacked_geometries[indices] = stack([self.states[i].geometry for i in indices])
        return self._stacked_geometries[indices]

    def template_batch(self, indices: tuple[int, ...]) -> dict:
        """A loss batch of geometries ``indices`` with the right structure and shapes, for
        the optimizer's init, which reads only those (its state is the same with the real
        local energies; zeros spare a Laplacian and its compilation at start-up)."""
        electrons = jnp.stack([self.states[i].walkers.electrons for i in indices])
        return {"electrons": electrons, "geometry": self.stacked_geometry(indices),
                "local_energies": jnp.zeros(electrons.shape[:2], electrons.dtype)}

    # ----- phases ------------------------------------------------------------------------
    def pretrain_hf(self) -> None:
        """Sample every geometry's |psi_HF|^2, then fit the network orbitals to the HF
        orbitals (Adam, round robin; see ``phases.fit_to_hf``)."""
        cfg = self.config
        for index, state in enumerate(progress(self.states, desc="HF sampling", unit="geom",
                                               leave=False)):
            state.walkers = phases.hf_sampled_walkers(
                self._functions, state, cfg.walkers, cfg.mcmc.initial_step_size,
                cfg.mcmc.burn_in, self._key(HF_STREAM, index), self.sharding)

        def report(step: int, index: int, loss: float) -> None:
            self.emit({"phase": "hf_pretrain", "step": step,
                       "geometry": self.states[index].name, "loss": loss})

        self.params, walkers = phases.fit_to_hf(
            self.ansatz, self._functions, self.params, self.states,
            [s.walkers for s in self.states], cfg.pretrain.steps * len(self.states),
            cfg.pretrain.learning_rate, self._key(HF_STREAM, HF_FIT_KEY), cfg.log_every, report)
        for state, state_walkers in zip(self.states, walkers):
            state.walkers = state_walkers

    def burn_in(self) -> None:
        """Re-weight walkers to |psi_network|^2 and equilibrate them."""
        cfg = self.config
        for index, state in enumerate(progress(self.states, desc="Burn-in", unit="geom",
                                               leave=False)):
            if state.walkers is None:
                x = mcmc.initial_electrons(self._key(INIT_STREAM, 1, index),
                                           state.record.molecule, cfg.walkers, dtype=self.dtype)
                step_size = cfg.mcmc.initial_step_size
            else:
                x, step_size = state.walkers.electrons, state.walkers.step_size
            state.walkers = phases.equilibrated_walkers(
                self._functions, self.params, state.geometry, x, step_size, cfg.mcmc.burn_in,
                self._key(INIT_STREAM, 2, index), self.sharding)
            self.emit({"phase": "burn_in", "step": cfg.mcmc.burn_in, "geometry": state.name,
                       "acceptance": float(state.walkers.acceptance),
                       "step_size": float(state.walkers.step_size)})

    def _init_optimizer(self) -> None:
        self.optimizer = compiled.optimizer_for(self.config.optim, self._functions)
        self.train_step = compiled.training_step(self._functions, self.optimizer.step)
        # Placed first, so that the init compiles once whether the parameters come from the
        # HF fit (replicated on the walker mesh) or from a fresh initialization.
        self.params = devices.replicate(self.params, self.sharding)
        self.opt_state = devices.replicate(
            self.optimizer.init(self.params, self._key(INIT_STREAM, 3),
                                self.template_batch((0,))), self.sharding)

    # ----- checkpoints -------------------------------------------------------------------
    def _checkpoint_state(self) -> dict:
        return saved_state.pack(saved_state.TrainingProgress(
            self.opt_state, [s.walkers for s in self.states], self.scheduler.state(),
            self.step, self.learning_rate_scale))

    def save_checkpoint(self) -> None:
        checkpoint.save(self.checkpoints, self.step, self.params, self._checkpoint_state(),
                        self.meta())
        self.divergence.checkpoint_saved(self.step)

    def restore_checkpoint(self, step: int | None = None,
                           learning_rate_factor: float | None = None) -> None:
        """Continue from checkpoint ``step`` (default: the newest readable one); metrics
        rows after it are dropped so that every step appears once. With
        ``learning_rate_factor`` (a divergence recovery) the learning-rate scale becomes the
        smaller of the current and the checkpoint's (an older one may hold a larger one)
        times that factor."""
        current_scale = self.learning_rate_scale
        for state in self.states:
            state.walkers = devices.place_walkers(
                state.placeholder_walkers(self.config.walkers, self.dtype), self.sharding)
        if self.opt_state is None:
            self._init_optimizer()
        targets = {"params": self.params, "state": self._checkpoint_state()}
        if step is None:
            step, items = checkpoint.restore_newest_readable(self.checkpoints, targets,
                                                             report=warn)
        else:
            items = checkpoint.restore(self.checkpoints, targets, step)
        restored = saved_state.unpack(items["state"], self.opt_state,
                                      [s.walkers for s in self.states])
        self.params, self.opt_state = devices.replicate((items["params"], restored.opt_state),
                                                        self.sharding)
        for state, walkers in zip(self.states, restored.walkers):
            state.walkers = devices.place_walkers(walkers, self.sharding)
        self.scheduler.load(restored.scheduler)
        self.step = restored.step
        self.learning_rate_scale = restored.learning_rate_scale
        if learning_rate_factor is not None:
            self.learning_rate_scale = (min(current_scale, self.learning_rate_scale)
                                        * learning_rate_factor)
        self.folder.resume_metrics(self.step)

    # ----- optimization ------------------------------------------------------------------
    def learning_rate(self) -> float:
        """The rate of the next step: the config's schedule at this step, times the scale
        divergence recoveries set (an argument of the compiled step: changing it does not
        recompile)."""
        return self.config.optim.learning_rate_at(self.step) * self.learning_rate_scale

    def dispatch_step(self) -> step_metrics.DispatchedStep:
        """Dispatch one optimizer step on the geometries the scheduler picks. Nothing is
        fetched: its metrics stay on the device (see ``step_metrics.fetched_rows``)."""
        indices = tuple(self.scheduler.pick_group(
            self.step, self.config.scheduler.geometries_per_step))
        for index in indices:
            self.scheduler.record(index, self.step)
        counts = tuple(int(self.scheduler.steps[index]) for index in indices)
        walkers = stack([self.states[i].walkers for i in indices])
        self.params, self.opt_state, walkers, metrics = self.train_step(
            self.params, self.opt_state, walkers, self.stacked_geometry(indices),
            self._key(VMC_STREAM, self.step), jnp.asarray(self.learning_rate(), self.dtype))
        for position, index in enumerate(indices):
            self.states[index].walkers = jax.tree_util.tree_map(lambda a: a[position], walkers)
        self.step += 1
        return step_metrics.DispatchedStep(self.step - 1, indices, counts, metrics)

    def fetch_rows(self, pending: list[step_metrics.DispatchedStep]) -> list[list[dict]]:
        """The rows of the pending steps; their local-energy spreads go to the scheduler."""
        steps = step_metrics.fetched_rows(pending, [s.name for s in self.states],
                                          [s.record.compound for s in self.states])
        for step, rows in zip(pending, steps):
            for index, row in zip(step.indices, rows):
                self.scheduler.observe(index, step_metrics.local_energy_spread(row))
        return steps

    def optimize(self, until: int | None = None) -> None:
        """Variational optimization up to step ``until`` (default: the config's ``steps``);
        see ``optimization.optimize``."""
        cfg = self.config
        schedule = optimization.LoopSchedule(
            last_step=cfg.steps if until is None else until,
            checkpoint_every=cfg.checkpoint.every,
            fetch_every=step_metrics.fetch_interval(cfg.scheduler.policy, cfg.log_every),
            log_every=cfg.log_every, final_step=cfg.steps - 1)
        skipped = optimization.optimize(self, schedule, self.divergence)
        if skipped:
            print(f"skipped {skipped} non-finite update(s); see 'skipped' in metrics.jsonl")

    def recover(self, geometry: str, failed_step: int) -> None:
        """After divergence at ``failed_step`` (on ``geometry``, one name or several):
        restore a checkpoint with a smaller learning rate, or stop."""
        step = self.divergence.choose_checkpoint(list(self.checkpoints.all_steps()))
        if step is None:
            raise RunDiverged(
                f"training diverged at step {failed_step} on geometry {geometry}: "
                f"{self.config.divergence.max_skipped} non-finite updates in a row after "
                f"{self.divergence.recoveries} recovery attempt(s) (learning rate x "
                f"{self.learning_rate_scale:g}); checkpoints kept in "
                f"{self.output / checkpoint.CHECKPOINT_DIR}")
        for newer in [s for s in self.checkpoints.all_steps() if s > step]:
            self.checkpoints.delete(newer)  # they continue the diverged trajectory
        self.restore_checkpoint(step, self.config.divergence.learning_rate_factor)
        self.divergence.recovered(step)
        warn(f"diverged at step {failed_step} on geometry {geometry}: restored step {step}, "
             f"learning rate x {self.learning_rate_scale:g} (recovery "
             f"{self.divergence.recoveries} of {self.config.divergence.retries})")
        self.emit({"phase": "recovery", "step": step, "geometry": geometry,
                   "learning_rate_scale": self.learning_rate_scale})

    def evaluate(self) -> dict[str, Stats]:
        """Energies without parameter updates (see ``evaluation.evaluated_energies``)."""
        results, walkers = evaluation.evaluated_energies(
            self._functions, self.params, self.states, self.config.evaluation.steps,
            self._key(EVALUATION_STREAM))
        for state, moved in zip(self.states, walkers):
            state.walkers = moved
        return results

    # ----- the whole run -----------------------------------------------------------------
    def prepare(self) -> None:
        """Resume from the last checkpoint, or pretrain on HF, burn in and save step 0."""
        self._announce_devices()
        if self.checkpoints.latest_step() is not None:
            self.restore_checkpoint()
            print(f"resuming {self.output} from step {self.step}")
            return
        self.folder.start_metrics()
        self._start_from_initial_params()
        self.pretrain_hf()
        self.burn_in()
        self._init_optimizer()
        self.save_checkpoint()

    def _announce_devices(self) -> None:
        if self.is_main:
            print(f"devices: {devices.describe()} (walkers sharded over them)")

    def _start_from_initial_params(self) -> None:
        """Take the given weights, in the run's precision and replicated on the walker mesh
        (restored weights sit on one device; with several, the sweeps over sharded walkers
        refused them)."""
        if self.initial_params is not None:
            self.params = devices.replicate(
                jax.tree_util.tree_map(lambda p: jnp.asarray(p, self.dtype),
                                       self.initial_params), self.sharding)

    def zero_shot(self) -> dict[str, Stats]:
        """Evaluate the initial parameters without any update (HF-sampled walkers, burn-in,
        evaluation sweeps); writes results and the PES plot, no checkpoints."""
        try:
            self._announce_devices()
            self.folder.start_metrics()
            self._start_from_initial_params()
            self.pretrain_hf()
            self.burn_in()
            results = self.evaluate()
            self._finish(results)
        finally:
            self.close()
        return results

    def run(self) -> dict[str, Stats]:
        try:
            self.prepare()
            self.optimize()
            results = self.evaluate() if self.config.evaluation.steps else {}
            self._finish(results)
        finally:
            self.close()
        return results

    def _finish(self, results: dict[str, Stats]) -> None:
        """Write the results; a geometry without a finite energy is an error (after the
        results, with null for it, are written)."""
        if self.is_main:
            self.write_results(results)
        failed = [name for name, stats in results.items() if not math.isfinite(stats.mean)]
        if failed:
            raise RunDiverged(f"no finite energy for {', '.join(failed)} in the evaluation; "
                              f"see {self.output / 'metrics.jsonl'}")

    def write_results(self, results: dict[str, Stats]) -> None:
        self.results_table = results_file.rows(
            [s.record for s in self.states], [s.hf.energy for s in self.states],
            self.scheduler.steps, results)
        results_file.write(self.output, self.results_table,
                           {s.name: s.record.reference_energy for s in self.states})
