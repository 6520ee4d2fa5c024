"""The phase demonstration's pieces: sign-flip detection along a rotation, and a short run of
the command (real PySCF and JAX)."""

import json

import numpy as np
import pytest

from foundation_wf.analysis.phase_demo import rotated_water, sign_flips
from foundation_wf.cli.main import main
from foundation_wf.hf import DescriptorSettings, geometry_hf

ANGLES = np.linspace(0.0, 40.0, 5)


def descriptors(signs: str) -> list[np.ndarray]:
    settings = DescriptorSettings(orbital_signs=signs)
    return [geometry_hf(r.molecule, settings).descriptors[0] for r in rotated_water(ANGLES)]


def test_canonical_signs_do_not_flip_and_a_flipped_orbital_is_found():
    layout = DescriptorSettings().layout
    canonical = descriptors("canonical")
    assert sign_flips(canonical, ANGLES, layout) == []
    flipped = [d.copy() for d in canonical]
    for later in flipped[3:]:
        later[:, 2] *= -1.0  # orbital 2 changes sign from the fourth angle on
    assert sign_flips(flipped, ANGLES, layout) == [(3, 2)]


@pytest.mark.slow  # about 70 s: two HF fits of the tiny model, and the table
def test_phase_demo_command_writes_its_table_and_plot(tmp_path, capsys):
    assert main(["phase-demo", "--angles", "7", "--steps", "14", "--walkers", "16",
                 "--burn-in", "2", "--preset", "tiny", "--output", str(tmp_path)]) == 0
    summary = json.loads((tmp_path / "phase_demo.json").read_text())
    assert summary["angles"] == 7 and "loss_ratio_at_flips" in summary["baseline"]
    for name in ("phase_demo.csv", "phase_demo.png"):
        assert (tmp_path / name).stat().st_size > 0
    assert "sign flips" in capsys.readouterr().out
