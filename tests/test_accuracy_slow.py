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
