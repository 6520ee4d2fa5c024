"""Named model sizes: the hyperparameters of the transferable ansatz."""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True)
class ModelConfig:
    """Hyperparameters of ``TransferableWavefunction`` (none depends on the molecule).

    Attributes:
      gnn_width: node-state width of the orbital GNN.
      gnn_layers: message-passing layers of the orbital GNN.
      gnn_vector_channels: learned vector channels mixed from the p-shell descriptor entries.
      n_rbf: radial basis functions for distances (GNN edges and electron features).
      rbf_cutoff: largest radial-basis centre, bohr.
      embedding_width: electron embedding width (also the orbital feature length).
      embedding_layers: one/two-electron stream layers.
      pair_width: two-electron stream width.
      element_embedding: width of the learned element embedding.
      n_determinants: determinants combined by log-sum-exp.
      p_channels: directional (p-like) orbital channels per (atom, orbital).
    """

    gnn_width: int = 32
    gnn_layers: int = 3
    gnn_vector_channels: int = 4
    n_rbf: int = 16
    rbf_cutoff: float = 8.0
    embedding_width: int = 32
    embedding_layers: int = 3
    pair_width: int = 16
    element_embedding: int = 16
    n_determinants: int = 4
    p_channels: int = 2


PRESETS: dict[str, ModelConfig] = {
    # For unit tests: seconds to compile and run.
    "tiny": ModelConfig(gnn_width=16, gnn_layers=2, gnn_vector_channels=2, n_rbf=8,
                        embedding_width=16, embedding_layers=2, pair_width=8,
                        element_embedding=8, n_determinants=2, p_channels=2),
    # CPU runs on small molecules.
    "small": ModelConfig(),
    # GPU runs on the multi-compound dataset.
    "large": ModelConfig(gnn_width=64, gnn_layers=3, gnn_vector_channels=8, n_rbf=24,
                         rbf_cutoff=10.0, embedding_width=128, embedding_layers=4,
                         pair_width=32, element_embedding=32, n_determinants=16,
                         p_channels=4),
}


def model_preset(name: str) -> ModelConfig:
    try:
        return PRESETS[name]
    except KeyError:
        raise ValueError(f"unknown model preset {name!r}; choose from {sorted(PRESETS)}") from None
