"""The VMC driver over the geometries of a dataset (one geometry is a dataset of one).

Phases: Hartree-Fock for every geometry -> supervised HF pretraining -> walker burn-in ->
variational optimization (one shared optimizer state; each step one geometry, round robin)
-> evaluation without parameter updates (reblocked energies). Compiled functions are cached
by jit per shape (n_up, n_down, n_atoms): geometries of one compound share them.
"""

from __future__ import annotations

import dataclasses
import json
import math
import pathlib
import time
from typing import Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np
import optax
import yaml
from tqdm import tqdm

from foundation_wf.ansatz import GeometryInput, geometry_input, make_ansatz
from foundation_wf.data.io import load_geometries
from foundation_wf.data.records import GeometryRecord
from foundation_wf.hf import DescriptorCache, DescriptorSettings, GeometryHF, geometry_hf
from foundation_wf.train.config import RunConfig, config_to_dict
from foundation_wf.train.loggers import MetricsWriter, ProgressBar
from foundation_wf.train.plots import plot_energy_vs_step
from foundation_wf.vmc import mcmc
from foundation_wf.vmc.hf_pretrain import HFTarget, hf_log_abs, hf_target, make_pretrain_loss
from foundation_wf.vmc.loss import make_batch_local_energy, make_energy_loss
from foundation_wf.vmc.optimizers import make_optimizer
from foundation_wf.vmc.stats import Stats, reblock


@dataclasses.dataclass
class GeometryState:
    """Everything one geometry owns during a run."""

    record: GeometryRecord
    hf: GeometryHF
    geometry: GeometryInput
    target: HFTarget
    walkers: mcmc.WalkerState | None = None
    last_energy: float | None = None
    last_variance: float | None = None

    @property
    def name(self) -> str:
        return self.record.name


def select_records(records: Sequence[GeometryRecord],
                   names: Sequence[str] | None) -> list[GeometryRecord]:
    if names is None:
        return list(records)
    by_name = {r.name: r for r in records}
    missing = [n for n in names if n not in by_name]
    if missing:
        raise ValueError(f"geometry {missing[0]!r} is not in the dataset "
                         f"(has: {', '.join(sorted(by_name))})")
    return [by_name[n] for n in names]


class Trainer:
    """Runs the phases of a VMC run and writes the run folder."""

    def __init__(self, config: RunConfig, callbacks: Sequence[Callable[[dict], None]] = ()):
        self.config = config
        if config.precision == "float64":
            jax.config.update("jax_enable_x64", True)
        self.dtype = jnp.float64 if config.precision == "float64" else jnp.float32
        self.settings = DescriptorSettings(basis=config.descriptors.basis,
                                           elements=config.descriptors.elements)
        records = select_records(load_geometries(config.dataset), config.geometries)
        for record in records:  # bad input fails here, before any computation
            record.molecule.check_elements(self.settings.elements)
        self.settings.layout  # noqa: B018  (refuses unsupported bases early)
        self.ansatz = make_ansatz(config.model, self.settings)
        self.output = pathlib.Path(config.output)
        self.output.mkdir(parents=True, exist_ok=True)
        (self.output / "config.yaml").write_text(yaml.safe_dump(config_to_dict(config)))
        self.metrics = MetricsWriter(self.output)
        self.callbacks = [self.metrics, *callbacks]
        self.key = jax.random.PRNGKey(config.seed)
        self.states = self._hartree_fock(records)
        self.params = self.ansatz.init(self._next_key(), self.states[0].geometry)
        self._compile()
        self.start_time = time.perf_counter()

    # ----- setup -------------------------------------------------------------------------
    def _next_key(self) -> jax.Array:
        self.key, sub = jax.random.split(self.key)
        return sub

    def _hartree_fock(self, records: Sequence[GeometryRecord]) -> list[GeometryState]:
        cache = DescriptorCache()
        states = []
        for record in tqdm(records, desc="Hartree-Fock", unit="geom", leave=False):
            hf = geometry_hf(record.molecule, self.settings, cache)
            states.append(GeometryState(
                record=record, hf=hf,
                geometry=geometry_input(record.molecule, hf, self.settings, self.dtype),
                target=hf_target(record.molecule, hf, self.settings, self.dtype),
            ))
        return states

    def _compile(self) -> None:
        cfg, ansatz = self.config, self.ansatz
        n_moves = cfg.mcmc.steps_per_update
        target = cfg.mcmc.target_acceptance

        def network_sweep(params, geometry, walkers, key):
            log_abs = lambda x: ansatz.batch_log_psi(params, geometry, x)[1]  # noqa: E731
            return mcmc.adapt_step_size(mcmc.mh_sweep(log_abs, walkers, key, n_moves), target)

        def hf_sweep(target_orbitals, geometry, walkers, key):
            log_abs = lambda x: hf_log_abs(target_orbitals, geometry.coords, x)  # noqa: E731
            return mcmc.adapt_step_size(mcmc.mh_sweep(log_abs, walkers, key, n_moves), target)

        self._network_sweep = jax.jit(network_sweep)
        self._hf_sweep = jax.jit(hf_sweep)
        self._log_abs = jax.jit(lambda p, g, x: ansatz.batch_log_psi(p, g, x)[1])
        self._hf_log_abs = jax.jit(lambda t, g, x: hf_log_abs(t, g.coords, x))
        self._local_energy = jax.jit(make_batch_local_energy(
            ansatz, cfg.laplacian, cfg.local_energy_chunk))
        self.loss = make_energy_loss(ansatz, cfg.clip_scale, cfg.laplacian,
                                     cfg.local_energy_chunk)

    def _emit(self, row: dict) -> None:
        row["wall_time"] = round(time.perf_counter() - self.start_time, 3)
        for callback in self.callbacks:
            callback(row)

    # ----- phases ------------------------------------------------------------------------
    def pretrain_hf(self) -> None:
        """Fit network orbitals to HF orbitals on samples of |psi_HF|^2 (Adam)."""
        cfg = self.config
        for state in self.states:
            x = mcmc.initial_electrons(self._next_key(), state.record.molecule, cfg.walkers,
                                       dtype=self.dtype)
            state.walkers = mcmc.init_walkers(
                lambda x, s=state: self._hf_log_abs(s.target, s.geometry, x), x,
                cfg.mcmc.initial_step_size)
            for _ in range(cfg.mcmc.burn_in):
                state.walkers = self._hf_sweep(state.target, state.geometry, state.walkers,
                                               self._next_key())
        total = cfg.pretrain.steps * len(self.states)
        if total == 0:
            return
        optimizer = optax.adam(cfg.pretrain.learning_rate)
        loss_fn = make_pretrain_loss(self.ansatz)

        @jax.jit
        def step(params, opt_state, geometry, target, electrons):
            loss, grads = jax.value_and_grad(loss_fn)(params, geometry, target, electrons)
            updates, opt_state = optimizer.update(grads, opt_state, params)
            return optax.apply_updates(params, updates), opt_state, loss

        opt_state = optimizer.init(self.params)
        bar = tqdm(range(total), desc="HF pretraining", unit="step", dynamic_ncols=True)
        for index in bar:
            state = self.states[index % len(self.states)]
            state.walkers = self._hf_sweep(state.target, state.geometry, state.walkers,
                                           self._next_key())
            self.params, opt_state, loss = step(self.params, opt_state, state.geometry,
                                                state.target, state.walkers.electrons)
            if index % cfg.log_every == 0 or index == total - 1:
                bar.set_postfix(geom=state.name, loss=f"{float(loss):.3e}", refresh=False)
                self._emit({"phase": "hf_pretrain", "step": index, "geometry": state.name,
                            "loss": float(loss)})
        bar.close()

    def burn_in(self) -> None:
        """Re-weight walkers to |psi_network|^2 and equilibrate them."""
        cfg = self.config
        for state in self.states:
            if state.walkers is None:
                x = mcmc.initial_electrons(self._next_key(), state.record.molecule,
                                           cfg.walkers, dtype=self.dtype)
                step_size = cfg.mcmc.initial_step_size
            else:
                x, step_size = state.walkers.electrons, state.walkers.step_size
            state.walkers = mcmc.init_walkers(
                lambda x, s=state: self._log_abs(self.params, s.geometry, x), x, step_size)
            for _ in range(cfg.mcmc.burn_in):
                state.walkers = self._network_sweep(self.params, state.geometry, state.walkers,
                                                    self._next_key())

    def optimize(self) -> None:
        """Variational optimization; a non-finite energy or update is skipped and reported."""
        cfg = self.config
        if cfg.steps == 0:
            return
        optimizer = make_optimizer(cfg.optim, self.loss)
        first = self.states[0]
        opt_state = optimizer.init(self.params, self._next_key(),
                                   {"electrons": first.walkers.electrons,
                                    "geometry": first.geometry})
        bar = ProgressBar(cfg.steps, "VMC")
        skipped = 0
        for index in range(cfg.steps):
            state = self.states[index % len(self.states)]
            state.walkers = self._network_sweep(self.params, state.geometry, state.walkers,
                                                self._next_key())
            batch = {"electrons": state.walkers.electrons, "geometry": state.geometry}
            backup = jax.tree_util.tree_map(jnp.copy, (self.params, opt_state))
            params, opt_state, energy, aux = optimizer.step(self.params, opt_state,
                                                            self._next_key(), batch)
            energy, variance = float(energy), float(aux.variance)
            finite = math.isfinite(energy) and all(
                bool(jnp.all(jnp.isfinite(leaf))) for leaf in jax.tree_util.tree_leaves(params))
            if finite:
                self.params = params
                state.last_energy, state.last_variance = energy, variance
                # The walkers' cached log|psi| belongs to the old parameters.
                state.walkers = state.walkers.replace(log_abs=self._log_abs(
                    self.params, state.geometry, state.walkers.electrons).astype(self.dtype))
            else:
                self.params, opt_state = backup
                skipped += 1
            row = {"phase": "vmc", "step": index, "geometry": state.name,
                   "energy": energy if math.isfinite(energy) else None,
                   "variance": variance if math.isfinite(variance) else None,
                   "acceptance": float(state.walkers.acceptance),
                   "step_size": float(state.walkers.step_size), "skipped": not finite}
            bar(row)
            if index % cfg.log_every == 0 or index == cfg.steps - 1 or not finite:
                self._emit(row)
        bar.close()
        if skipped:
            print(f"skipped {skipped} non-finite update(s); see 'skipped' in metrics.jsonl")

    def evaluate(self) -> dict[str, Stats]:
        """Energies without parameter updates, reblocked over evaluation sweeps."""
        cfg = self.config
        results = {}
        bar = tqdm(total=cfg.evaluation.steps * len(self.states), desc="Evaluation",
                   unit="step", dynamic_ncols=True)
        for state in self.states:
            means = []
            for _ in range(cfg.evaluation.steps):
                state.walkers = self._network_sweep(self.params, state.geometry, state.walkers,
                                                    self._next_key())
                local = self._local_energy(self.params, state.geometry, state.walkers.electrons)
                means.append(float(jnp.mean(local)))
                bar.update(1)
            finite = [m for m in means if math.isfinite(m)]
            results[state.name] = reblock(finite)
        bar.close()
        return results

    # ----- the whole run -----------------------------------------------------------------
    def run(self) -> dict[str, Stats]:
        self.pretrain_hf()
        self.burn_in()
        self.optimize()
        results = self.evaluate() if self.config.evaluation.steps else {}
        self.write_results(results)
        self.metrics.close()
        return results

    def write_results(self, results: dict[str, Stats]) -> None:
        rows = []
        for state in self.states:
            stats = results.get(state.name)
            ref = state.record.reference_energy
            rows.append({
                "geometry": state.name, "compound": state.record.compound,
                "scan": state.record.scan, "hf_energy": state.hf.energy,
                "energy": stats.mean if stats else None,
                "error": stats.error if stats else None,
                "tau": stats.tau if stats else None,
                "reference": ref,
                "difference": (stats.mean - ref) if (stats and ref is not None) else None,
            })
        (self.output / "results.json").write_text(json.dumps(rows, indent=1))
        plot_energy_vs_step(self.output / "metrics.jsonl",
                            {s.name: s.record.reference_energy for s in self.states},
                            self.output / "energy.png")
        self.results_table = rows


def format_results(rows: list[dict]) -> str:
    """The results table as text (energies in Ha, differences in mHa)."""
    lines = [f"{'geometry':<22} {'E_HF':>12} {'E_VMC':>12} {'error':>9} {'E_ref':>12} "
             f"{'E-E_ref/mHa':>12}"]
    for r in rows:
        fmt = lambda v, w, p: f"{v:{w}.{p}f}" if v is not None else f"{'-':>{w}}"  # noqa: E731
        diff = r["difference"] * 1e3 if r["difference"] is not None else None
        lines.append(f"{r['geometry']:<22} {fmt(r['hf_energy'], 12, 6)} {fmt(r['energy'], 12, 6)} "
                     f"{fmt(r['error'], 9, 6)} {fmt(r['reference'], 12, 6)} {fmt(diff, 12, 2)}")
    return "\n".join(lines)
