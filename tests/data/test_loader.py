"""Tests of seru/data/loader.py: the run's training batches through grain."""

import json

import numpy as np
import pytest

from toy_system import make_toy_config, make_toy_records
from seru import trainer
from seru.checkpoints import Checkpoints
from seru.data import loader, pipeline
from seru.data.utterance_batches import UtteranceBatches


def _continuous(process_index=0, process_count=1):
    c = make_toy_config()
    recs = {k: [pipeline.preprocess_record(r, c.data.dimensions) for r in v]
            for k, v in make_toy_records().items()}
    return pipeline.from_recordings(recs, c, process_index, process_count)


class _Utterances(UtteranceBatches):
    """11 utterances whose row is its index (the batching alone)."""

    def __init__(self, process_index=0, process_count=1):
        super().__init__({"train": {"ids": np.arange(11)}}, batch_size=4, eval_batch_size=4,
                         train_split="train", process_index=process_index,
                         process_count=process_count)
        self.data = {"train": {"ids": np.arange(11)}}

    def _rows(self, split, idx, valid):
        return {"x": idx.astype(np.float32), "mask": valid.astype(np.float32)}


DATASETS = {"continuous": _continuous, "utterances": _Utterances}


def _same(a, b):
    assert len(a) == len(b) and len(a) > 0
    for x, y in zip(a, b):
        assert x.keys() == y.keys()
        for k in x:
            np.testing.assert_array_equal(x[k], y[k])


@pytest.mark.parametrize("kind", DATASETS)
def test_the_runs_batches_are_the_epochs_in_order(kind):
    """Oracle: the dataset's own epochs, a pure function of (seed, epoch), one after the other;
    the last epoch cut at num_steps."""
    ds = DATASETS[kind]()
    spe = ds.steps_per_epoch
    steps = 3 * spe - 1
    ref = [b for e in range(3) for b in ds.train_iter(7, e)][:steps]
    _same(list(loader.train_iterator(ds, 7, steps, threads=0)), ref)
    _same(list(loader.train_iterator(ds, 7, steps, threads=2, prefetch=3)), ref)
    assert len(loader.train_batches(ds, 7, steps)) == steps
    # another seed, other batches
    other = list(loader.train_iterator(ds, 8, steps, threads=0))
    assert any(not np.array_equal(a[k], b[k]) for a, b in zip(other, ref) for k in a)


@pytest.mark.parametrize("kind", DATASETS)
@pytest.mark.parametrize("threads", [0, 2])
def test_a_resumed_iterator_continues_at_the_next_example(kind, threads):
    """Interrupted mid-epoch (its state saved as JSON, as in a checkpoint), a new iterator
    from that state yields exactly the batches the uninterrupted one yields."""
    ds = DATASETS[kind]()
    steps = 2 * ds.steps_per_epoch + 1
    full = list(loader.train_iterator(ds, 3, steps, threads=threads))
    it = loader.train_iterator(ds, 3, steps, threads=threads)
    k = ds.steps_per_epoch + 1 if ds.steps_per_epoch > 1 else 1
    head = [next(it) for _ in range(k)]
    state = json.loads(json.dumps(it.get_state()))
    tail = list(loader.train_iterator(DATASETS[kind](), 3, steps, threads=threads, state=state))
    _same(head + tail, full)


@pytest.mark.parametrize("kind", DATASETS)
def test_each_process_gets_its_share_of_the_global_batch(kind):
    """Process p of 2 gets rows [p B/2, (p + 1) B/2) of every global batch."""
    one = list(loader.train_iterator(DATASETS[kind](), 0, 4, threads=0))
    parts = [list(loader.train_iterator(DATASETS[kind](p, 2), 0, 4, threads=0)) for p in (0, 1)]
    joined = [{k: np.concatenate([a[k], b[k]]) for k in a} for a, b in zip(*parts)]
    _same(joined, one)


def test_errors():
    ds = _Utterances()
    with pytest.raises(ValueError, match="num_steps"):
        loader.train_batches(ds, 0, -1)
    with pytest.raises(ValueError, match="threads and prefetch"):
        loader.train_iterator(ds, 0, 3, threads=-1)


def test_checkpoints_hold_the_loaders_position(toy_config, tmp_path):
    """Every checkpoint's meta holds the loader's state, at the checkpoint's step."""
    toy_config.train.eval_every_epochs = 0
    trainer.train_and_evaluate(toy_config, tmp_path, dataset=_continuous(), stop_after_steps=3)
    ck = Checkpoints(tmp_path / "checkpoints")
    assert ck.all_steps("latest") == [2, 3] and ck.all_steps("best_train_loss")
    for kind in ("latest", "best_train_loss"):
        for step in ck.all_steps(kind):
            assert ck.meta(kind, step)["data_iterator"]["next_index"] == step
