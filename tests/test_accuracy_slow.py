"""Accuracy runs (minutes each on 2 CPU cores): `python -m pytest -m slow`.

Each trains a single-system recipe from pretrain/ and checks the reblocked energy against the
exact reference: within chemical accuracy, and never below it beyond 3 error bars.
"""

import pytest

from foundation_wf.train.config import load_config
from foundation_wf.train.trainer import Trainer

CHEMICAL_ACCURACY = 1.6e-3


@pytest.mark.slow
@pytest.mark.parametrize("recipe, name", [
    ("pretrain/he.yaml", "He"), ("pretrain/h2.yaml", "H2_R1.4"),
    ("pretrain/lih.yaml", "LiH_R3.015"),
])
def test_single_system_reaches_chemical_accuracy(recipe, name, tmp_path):
    trainer = Trainer(load_config(recipe, [f"output={tmp_path}"]))
    stats = trainer.run()[name]
    reference = trainer.states[0].record.reference_energy
    assert stats.mean > reference - 3 * stats.error, "below the exact energy: a bug"
    assert stats.mean - reference < CHEMICAL_ACCURACY


# The RHF-descriptor ansatz with equal cross-spin signs ended 17-19 mHa above exact on
# stretched H2 (3.6 bohr) after 300-600 steps (R = 4 bohr with this test: +21.2 mHa), UHF
# descriptors and the singlet sign 4.7 (3.6 bohr).
STRETCHED_BOND_TOLERANCE = 8e-3


@pytest.mark.slow
def test_stretched_bond_reaches_the_heitler_london_regime(tmp_path):
    """H2 at R = 4 bohr (a broken bond: RHF is 0.2 Ha too high) with the quick recipe's
    optimizer settings for 300 steps: within 8 mHa of the exact energy, never below it."""
    trainer = Trainer(load_config("pretrain/hydrogen_chains_quick.yaml", [
        "dataset=reference", "geometries=[H2_R4.0]", f"output={tmp_path}", "steps=300",
        "evaluation.steps=100", "precision=float64"]))
    stats = trainer.run()["H2_R4.0"]
    reference = trainer.states[0].record.reference_energy
    assert stats.mean > reference - 3 * stats.error, "below the exact energy: a bug"
    assert stats.mean - reference < STRETCHED_BOND_TOLERANCE
