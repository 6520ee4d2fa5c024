"""The optimization loop's order of events: fetches in blocks, checkpoints only after a block
with no divergence, recovery before anything later is saved (a scripted run: the loop's
control flow needs no network; the real runs are in test_checkpoints and test_training)."""

from foundation_wf.train.divergence import DivergenceConfig, DivergenceMonitor
from foundation_wf.train.optimization import LoopSchedule, optimize
from foundation_wf.train.step_metrics import DispatchedStep


class ScriptedRun:
    """A TrainingRun whose steps ``failing`` are skipped until the first recovery, which
    goes back to the last checkpoint."""

    def __init__(self, failing: set[int]):
        self.step = 0
        self.failing = set(failing)
        self.events: list[tuple] = []

    def dispatch_step(self) -> DispatchedStep:
        self.step += 1
        return DispatchedStep(self.step - 1, (0,), (self.step,), metrics=None)

    def fetch_rows(self, pending):
        self.events.append(("fetch", [p.step for p in pending]))
        return [[{"step": p.step, "geometry": "H2", "geometry_steps": p.counts[0],
                  "skipped": p.step in self.failing}] for p in pending]

    def save_checkpoint(self) -> None:
        self.events.append(("save", self.step))

    def recover(self, geometry: str, failed_step: int) -> None:
        restored = max(step for kind, step in self.events if kind == "save")
        self.events.append(("recover", failed_step, restored))
        self.step, self.failing = restored, set()

    def emit(self, row: dict) -> None:
        pass


def test_a_diverged_block_is_not_checkpointed_and_the_run_resumes_from_the_last_save():
    # Steps 6 and 7 fail; 7's block ends at step 8, where a checkpoint was due.
    run = ScriptedRun(failing={6, 7})
    run.save_checkpoint()  # step 0, as prepare() saves it
    schedule = LoopSchedule(last_step=10, checkpoint_every=4, fetch_every=2, log_every=1,
                            final_step=9)
    monitor = DivergenceMonitor(DivergenceConfig(max_skipped=2))
    assert optimize(run, schedule, monitor) == 2
    assert run.events == [
        ("save", 0), ("fetch", [0]), ("fetch", [1, 2]), ("fetch", [3]), ("save", 4),
        ("fetch", [4]), ("fetch", [5, 6]), ("fetch", [7]), ("recover", 7, 4),  # no save at 8
        ("fetch", [4]), ("fetch", [5, 6]), ("fetch", [7]), ("save", 8), ("fetch", [8]),
        ("fetch", [9]), ("save", 10)]
    assert run.step == 10


def test_a_loop_stopped_before_the_runs_end_fetches_every_step_and_saves_none():
    # What ``fwf bench`` times: steps up to 7 of a run whose final step lies further on.
    run = ScriptedRun(failing=set())
    schedule = LoopSchedule(last_step=7, checkpoint_every=100, fetch_every=3, log_every=1,
                            final_step=19)
    assert optimize(run, schedule, DivergenceMonitor(DivergenceConfig())) == 0
    assert run.events == [("fetch", [0]), ("fetch", [1, 2, 3]), ("fetch", [4, 5, 6])]
    assert run.step == 7


def test_a_run_at_its_last_step_does_nothing():
    run = ScriptedRun(failing=set())
    run.step = 10
    schedule = LoopSchedule(last_step=10, checkpoint_every=4, fetch_every=2, log_every=1,
                            final_step=9)
    assert optimize(run, schedule, DivergenceMonitor(DivergenceConfig())) == 0
    assert run.events == []
