"""The run's progress for learning-rate schedules, counted as the 2012 code counted it (convnet.py:
the data batches trained before the current one, over the epochs times the batches of an epoch)."""
from convnet.session import DEFAULTS, config_texts
from convnet.solver import Solver
from convnet.trainer import Trainer
from tests.training import TINY


def test_progress_is_the_data_batches_done_over_the_run(tmp_path, monkeypatch):
    seen = []
    update = Solver.update

    def spy(self, batch_size, progress, step=0, every=1):
        seen.append((step, progress))
        return update(self, batch_size, progress, step, every)

    monkeypatch.setattr(Solver, "update", spy)
    options = {**DEFAULTS, "train_range": "1-2", "test_range": "6", "mini": 500, "epochs": 2}
    Trainer(options, config_texts(TINY[1], TINY[3]), echo=lambda *a: None, save_path=str(tmp_path)).run()
    # 2 epochs of 2 batches of 2000 images, 4 minibatches of 500 each: the progress steps at each batch
    assert [s for s, _ in seen] == list(range(16))
    assert [p for _, p in seen] == [0.0] * 4 + [0.25] * 4 + [0.5] * 4 + [0.75] * 4
