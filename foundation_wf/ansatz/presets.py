"""Named model sizes: the hyperparameters of the transferable ansatz."""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True)
class ModelConfig:
    """Hyperparameters of ``TransferableWavefunction`` (none depends on the molecule).

    The three cutoffs (bohr) make every part of the wavefunction local: an atom or an
    electron farther away than a cutoff contributes exactly nothing, so fragments farther
    apart than ``3 * gnn_cutoff``, ``embedding_cutoff`` and ``orbital_cutoff`` give
    psi(A+B) = psi(A) psi(B) (single determinant) and additive energies.

    Attributes:
      gnn_width: node-state width of the orbital GNN.
      gnn_layers: message-passing layers of the orbital GNN.
      gnn_vector_channels: learned vector channels mixed from the p-shell descriptor entries.
      gnn_cutoff: range of the orbital GNN's messages between atoms, bohr.
      n_rbf: radial basis functions for distances (GNN edges and electron features).
      embedding_cutoff: range of what an electron's embedding sees (nuclei and other
        electrons), bohr.
      orbital_cutoff: range of the orbital envelopes around each atom and of the
        electron-electron Jastrow factor, bohr.
      embedding_width: electron embedding width (also the orbital feature length).
      embedding_layers: electron message-passing layers of the embedding.
      pair_width: width of the electron-electron messages.
      element_embedding: width of the learned element embedding.
      n_determinants: determinants combined by log-sum-exp. Only 1 keeps energies exactly
        additive for far-apart fragments (a sum of products of fragment determinants does not
        factorise), so every preset uses 1.
      p_channels: directional (p-like) orbital channels per (atom, orbital).
      neighbour_mean: True: what a node receives from its neighbours within a cutoff (GNN
        messages between atoms, electron-nucleus features) is a local mean
        (``radial.neighbour_weights``), bounded however many neighbours crowd in, as the
        electron-electron messages always are. False: plain cutoff-weighted sums, which grow
        with the density of atoms: zero-shot on H10 at 1.0 bohr from the default recipe
        (trained on 1.2-3.6 bohr) was +15.9 Ha above the reference with sums, +0.13 and
        +0.16 Ha in two runs with means. Checkpoints written before this field existed used sums.
      phase_equivariant: True (always, except as a baseline): the orbital GNN's outputs are
        made odd (features, directions) and even (exponents) in each orbital's descriptor, so
        flipping an orbital's sign flips only the sign of psi. False feeds the descriptors
        as given, without the symmetrisation: the baseline of ``fwf phase-demo``.
      cross_spin_sign: +1 or -1, the sign of the Slater block of down electrons in up
        orbitals relative to that of up electrons in down orbitals (both made by the same
        functions, as the orbital GNN treats the spins alike). With -1 the two blocks build
        the singlet resonance of a stretched bond: for H2 with up orbital A and down orbital B,
        det = A(1) B(2) + c^2 B(1) A(2), the Heitler-London singlet at c = 1; with +1 they can
        only build the triplet-like A(1) B(2) - c^2 B(1) A(2), which a singlet ground state
        penalises. Checkpoints written before this field existed used +1.
    """

    gnn_width: int = 32
    gnn_layers: int = 3
    gnn_vector_channels: int = 4
    gnn_cutoff: float = 5.0
    n_rbf: int = 16
    embedding_cutoff: float = 8.0
    orbital_cutoff: float = 10.0
    embedding_width: int = 32
    embedding_layers: int = 3
    pair_width: int = 16
    element_embedding: int = 16
    n_determinants: int = 1
    p_channels: int = 2
    neighbour_mean: bool = True
    phase_equivariant: bool = True
    cross_spin_sign: int = -1

    def __post_init__(self):
        if self.cross_spin_sign not in (1, -1):
            raise ValueError(f"model cross_spin_sign must be +1 or -1, got {self.cross_spin_sign}")
        for name in ("gnn_cutoff", "embedding_cutoff", "orbital_cutoff"):
            if not getattr(self, name) > 0:
                raise ValueError(f"model {name} must be positive, got {getattr(self, name)}")
        for field in dataclasses.fields(self):
            if field.name == "cross_spin_sign":
                continue
            if field.type == "int" and getattr(self, field.name) < 1:
                raise ValueError(f"model {field.name} must be at least 1, "
                                 f"got {getattr(self, field.name)}")


PRESETS: dict[str, ModelConfig] = {
    # For unit tests: seconds to compile and run.
    "tiny": ModelConfig(gnn_width=16, gnn_layers=2, gnn_vector_channels=2, n_rbf=8,
                        embedding_width=16, embedding_layers=2, pair_width=8,
                        element_embedding=8, p_channels=2),
    # CPU runs on small molecules.
    "small": ModelConfig(),
    # GPU runs on the multi-compound dataset.
    "large": ModelConfig(gnn_width=64, gnn_layers=3, gnn_vector_channels=8, n_rbf=24,
                         gnn_cutoff=6.0, embedding_cutoff=8.0, orbital_cutoff=12.0,
                         embedding_width=128, embedding_layers=4, pair_width=32,
                         element_embedding=32, p_channels=4),
}


# ModelConfig fields added after checkpoints were shipped, each with the value that reproduces
# the ansatz of a checkpoint written before the field existed (which does not record it).
LEGACY_FIELD_VALUES = {"neighbour_mean": False, "cross_spin_sign": 1}


def preset_name(config: ModelConfig) -> str:
    """The name of the preset equal to ``config``, or "custom"."""
    return next((name for name, preset in PRESETS.items() if preset == config), "custom")


def resolve_model(model: str | ModelConfig) -> ModelConfig:
    """A preset name or a ModelConfig -> the ModelConfig."""
    return model_preset(model) if isinstance(model, str) else model


def model_preset(name: str) -> ModelConfig:
    try:
        return PRESETS[name]
    except KeyError:
        raise ValueError(f"unknown model preset {name!r}; choose from {sorted(PRESETS)}") from None
