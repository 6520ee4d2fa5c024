"""The orbital-phase demonstration: a supervised fit to HF orbitals across a rotating water
molecule, by the phase-equivariant ansatz and by a baseline without the odd/even
symmetrisation (``ModelConfig.phase_equivariant=False``).

A Foster-Boys orbital has no natural sign. With ``orbital_signs="raw"`` the signs are the
localizer's, and they flip at random along a rotation. The equivariant ansatz is exactly
indifferent to a flip: psi only changes sign. The baseline sees another input and has to fit
the flipped orbital anew. Both fits see the same descriptors, HF samples, initial weights
and step sequence (round robin over the angles).
"""

from __future__ import annotations

import dataclasses

import jax
import numpy as np
from scipy.optimize import linear_sum_assignment

from foundation_wf.ansatz.model import Ansatz
from foundation_wf.data.records import GeometryRecord
from foundation_wf.hf.settings import DescriptorLayout
from foundation_wf.systems import Molecule
from foundation_wf.train import compiled, phases
from foundation_wf.train.config import RunConfig
from foundation_wf.train.state import GeometryState
from foundation_wf.vmc import mcmc
from foundation_wf.vmc.hf_pretrain import make_pretrain_loss

# Water at its equilibrium geometry (bohr), rotated about a generic axis.
WATER_SYMBOLS = ("O", "H", "H")
WATER_BOHR = np.array([[0.0, 0.0, 0.2217], [0.0, 1.4309, -0.8867], [0.0, -1.4309, -0.8867]])
ROTATION_AXIS = np.array([1.0, 2.0, 3.0]) / np.sqrt(14.0)
# A run's default settings (MCMC moves, step size, Laplacian) for the HF sampling.
DEFAULTS = RunConfig(dataset="rotated water")


def rotation_matrix(angle_deg: float, axis: np.ndarray = ROTATION_AXIS) -> np.ndarray:
    """[3, 3] rotation by ``angle_deg`` degrees about the unit vector ``axis`` (Rodrigues)."""
    angle = np.radians(angle_deg)
    k = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    return np.eye(3) + np.sin(angle) * k + (1 - np.cos(angle)) * k @ k


def rotated_water(angles_deg: np.ndarray) -> list[GeometryRecord]:
    """One water geometry per angle; the scan coordinate is the angle in degrees."""
    return [GeometryRecord(
        molecule=Molecule.from_symbols(WATER_SYMBOLS, WATER_BOHR @ rotation_matrix(a).T,
                                       unit="bohr", name=f"H2O_rot{a:g}"),
        compound="H2O", scan=float(a)) for a in angles_deg]


def rotate_p_entries(descriptors: np.ndarray, layout: DescriptorLayout,
                     rotation: np.ndarray) -> np.ndarray:
    """Descriptors [A, K, F] with every p shell's (x, y, z) entries rotated."""
    rotated = descriptors.copy()
    for triple in np.asarray(layout.p_index):
        rotated[..., triple] = descriptors[..., triple] @ rotation.T
    return rotated


def sign_flips(descriptors: list[np.ndarray], angles_deg: np.ndarray,
               layout: DescriptorLayout) -> list[tuple[int, int]]:
    """(angle index i, orbital index at i) for every orbital whose sign flipped between
    angles i-1 and i. Orbitals are matched between neighbouring angles by the largest
    |overlap| of their descriptors, the earlier ones rotated forward to angle i."""
    flips = []
    for i in range(1, len(descriptors)):
        step = rotation_matrix(angles_deg[i]) @ rotation_matrix(angles_deg[i - 1]).T
        before = rotate_p_entries(descriptors[i - 1], layout, step)
        a = before.transpose(1, 0, 2).reshape(before.shape[1], -1)
        b = descriptors[i].transpose(1, 0, 2).reshape(descriptors[i].shape[1], -1)
        overlap = (a @ b.T) / np.outer(np.linalg.norm(a, axis=1), np.linalg.norm(b, axis=1))
        rows, cols = linear_sum_assignment(-np.abs(overlap))
        flips += [(i, int(k)) for j, k in zip(rows, cols) if overlap[j, k] < 0]
    return flips


@dataclasses.dataclass(frozen=True)
class FitCurves:
    """One variant's HF fit.

    Attributes:
      step_loss: [steps] the fitting loss (mean squared Slater-matrix difference) of the
        geometry trained at each step, on that step's samples.
      step_geometry: [steps] the index of that geometry (round robin).
      final_loss: [n_geometries] the loss of every geometry after the last step.
    """

    step_loss: np.ndarray
    step_geometry: np.ndarray
    final_loss: np.ndarray


def hf_functions(ansatz: Ansatz) -> compiled.RunFunctions:
    """The run functions whose HF sampling the demo uses, with a run's default MCMC
    settings (they do not depend on the ansatz's variant)."""
    return phases.run_functions_for(ansatz, DEFAULTS)


def hf_walkers(functions: compiled.RunFunctions, states: list[GeometryState], n_walkers: int,
               burn_in: int, key: jax.Array) -> list[mcmc.WalkerState]:
    """Walkers of every geometry, equilibrated in |psi_HF|^2 (independent of the signs)."""
    return [phases.hf_sampled_walkers(functions, state, n_walkers,
                                      DEFAULTS.mcmc.initial_step_size, burn_in,
                                      jax.random.fold_in(key, index))
            for index, state in enumerate(states)]


def fit_across_rotation(ansatz: Ansatz, functions: compiled.RunFunctions,
                        states: list[GeometryState], walkers: list[mcmc.WalkerState],
                        steps: int, learning_rate: float, init_key: jax.Array,
                        key: jax.Array, label: str) -> FitCurves:
    """The HF fit of a run (``phases.fit_to_hf``) from weights ``init(init_key)``, every
    step's loss recorded."""
    losses, geometries = np.zeros(steps), np.zeros(steps, int)

    def record(step: int, index: int, loss: float) -> None:
        losses[step], geometries[step] = loss, index

    params, walkers = phases.fit_to_hf(
        ansatz, functions, ansatz.init(init_key, states[0].geometry), states, walkers, steps,
        learning_rate, key, report=record, desc=f"HF fit, {label}")
    loss_fn = jax.jit(make_pretrain_loss(ansatz))
    final = np.array([float(loss_fn(params, s.geometry, s.target, w.electrons))
                      for s, w in zip(states, walkers)])
    return FitCurves(step_loss=losses, step_geometry=geometries, final_loss=final)


def loss_ratio_at_flips(final_loss: np.ndarray, flipped: np.ndarray) -> float:
    """Mean final loss at the angles just after a flip over the mean at the other angles."""
    if not flipped.any() or flipped.all():
        return float("nan")
    return float(final_loss[flipped].mean() / final_loss[~flipped].mean())

