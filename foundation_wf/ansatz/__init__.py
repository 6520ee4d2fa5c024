"""The transferable ansatz: orbital GNN, phase-equivariant orbitals, electron embedding."""

from foundation_wf.ansatz.geometry import GeometryInput, geometry_input
from foundation_wf.ansatz.gnn import OrbitalParameters
from foundation_wf.ansatz.model import Ansatz, make_ansatz, parameter_count
from foundation_wf.ansatz.presets import PRESETS, ModelConfig, model_preset

__all__ = ["GeometryInput", "geometry_input", "OrbitalParameters", "Ansatz", "make_ansatz",
           "parameter_count", "PRESETS", "ModelConfig", "model_preset"]
