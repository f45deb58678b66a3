"""Tests of seru/trainer.py with the toy system on a tiny in-memory corpus."""

import json
import os
import subprocess
import sys

import jax
import numpy as np
import pytest

from toy_system import REPO, make_record, make_toy_config
from seru import config as config_lib
from seru import sharding, trainer
from seru.checkpoints import Checkpoints
from seru.data import pipeline
from toy_system import ToySystem


def _dataset(config, records):
    recs = {k: [pipeline.preprocess_record(r, config.data.dimensions) for r in v]
            for k, v in records.items()}
    return pipeline.from_recordings(recs, config)


def _leaves(tree):
    return [np.asarray(x) for x in jax.tree.leaves(tree)]


def _rows(workdir, kind):
    return [r for r in trainer.MetricsWriter.read(workdir / "metrics.jsonl") if r["kind"] == kind]


def test_resume_after_preemption_equals_uninterrupted(toy_config, toy_records, tmp_path):
    toy_config.train.eval_every_epochs = 0
    ds = _dataset(toy_config, toy_records)
    assert ds.steps_per_epoch == 2  # 3 + 3 + 4 crops of 20 frames, batches of 4
    full = trainer.train_and_evaluate(toy_config, tmp_path / "a", dataset=ds)
    # Preempted mid-epoch at step 3, then the same command again.
    first = trainer.train_and_evaluate(toy_config, tmp_path / "b", dataset=ds, stop_after_steps=3)
    assert first["stopped"] and first["step"] == 3
    assert Checkpoints(tmp_path / "b" / "checkpoints").latest_step() == 3
    resumed = trainer.train_and_evaluate(toy_config, tmp_path / "b", dataset=ds)
    assert full["step"] == resumed["step"] == 6
    for x, y in zip(_leaves(full["state"]), _leaves(resumed["state"])):
        np.testing.assert_array_equal(x, y)
    # Same logged losses, same epoch-level selection, no duplicated rows.
    la = [(r["step"], r["loss"]) for r in _rows(tmp_path / "a", "train")]
    lb = [(r["step"], r["loss"]) for r in _rows(tmp_path / "b", "train")]
    assert la == lb and [s for s, _ in la] == list(range(1, 7))
    assert full["loop"]["best_train_loss"] == resumed["loop"]["best_train_loss"]


def test_checkpoints_keep_last_k_and_best(toy_config, toy_records, tmp_path):
    cfg = toy_config
    cfg.train.num_epochs = 4
    cfg.train.keep_checkpoints = 2
    cfg.train.select_by = "dev:ccc_m"
    ds = _dataset(cfg, toy_records)
    trainer.train_and_evaluate(cfg, tmp_path, dataset=ds)
    ck = Checkpoints(tmp_path / "checkpoints")
    assert ck.all_steps("latest") == [6, 8]  # saved at 2, 4, 6, 8 (every 2 steps / epoch end)
    epochs = _rows(tmp_path, "epoch")
    assert [r["step"] for r in epochs] == [2, 4, 6, 8]
    # Oracle: the epoch with the lowest mean of that epoch's logged step losses.
    train = _rows(tmp_path, "train")
    means = [np.mean([r["loss"] for r in train if (r["step"] - 1) // 2 == e]) for e in range(4)]
    np.testing.assert_allclose([r["train_loss"] for r in epochs], means, rtol=1e-6)
    assert ck.all_steps("best_train_loss") == [2 * (int(np.argmin(means)) + 1)]
    dev = _rows(tmp_path, "dev")
    assert [r["step"] for r in dev] == [2, 4, 6, 8]
    assert ck.all_steps("best_dev") == [dev[int(np.argmax([r["ccc_m"] for r in dev]))]["step"]]
    assert config_lib.checkpoint_kind(cfg, "best") == "best_dev"
    saved = json.loads((tmp_path / "config.json").read_text())
    assert saved["train"]["select_by"] == "dev:ccc_m" and saved["data"]["seq_len"] == 20


def test_early_stopping_on_the_dev_metric(toy_config, toy_records, tmp_path):
    """train.patience_epochs: the run stops after the first epoch that is that many epochs
    past the best dev value (oracle: the same run without early stopping), keeps its
    best_dev checkpoint, and a restart does not train on."""
    cfg = toy_config
    cfg.train.num_epochs = 6
    cfg.train.select_by, cfg.train.select_mode = "dev:ccc_m", "min"
    ds = _dataset(cfg, toy_records)
    trainer.train_and_evaluate(cfg, tmp_path / "full", dataset=ds)
    dev = [r["ccc_m"] for r in _rows(tmp_path / "full", "dev")]
    patience, best, stop = 2, None, None
    for epoch, v in enumerate(dev):
        if best is None or v < dev[best]:
            best = epoch
        if epoch - best >= patience and epoch < len(dev) - 1:
            stop = epoch
            break
    assert stop is not None  # the toy run's dev CCC rises, so "min" stops early
    cfg.train.patience_epochs = patience
    out = trainer.train_and_evaluate(cfg, tmp_path / "es", dataset=ds)
    assert out["step"] == 2 * (stop + 1) and out["loop"]["early_stopped"]
    (row,) = _rows(tmp_path / "es", "early_stop")
    assert (row["epoch"], row["best_dev_epoch"]) == (stop, best)
    assert [r["ccc_m"] for r in _rows(tmp_path / "es", "dev")] == dev[:stop + 1]
    assert Checkpoints(tmp_path / "es" / "checkpoints").all_steps("best_dev") == [2 * (best + 1)]
    again = trainer.train_and_evaluate(cfg, tmp_path / "es", dataset=ds)
    assert again["step"] == out["step"]
    with pytest.raises(config_lib.ConfigError, match="patience_epochs"):
        cfg.train.select_by = "train_loss"
        config_lib.validate(cfg, check_corpus=False)


def test_logged_loss_equals_recomputation_from_checkpoint(toy_config, toy_records, tmp_path):
    cfg = toy_config
    cfg.train.num_epochs = 3
    cfg.train.eval_every_epochs = 0
    ds = _dataset(cfg, toy_records)
    trainer.train_and_evaluate(cfg, tmp_path, dataset=ds)
    system = ToySystem(cfg)
    ck = Checkpoints(tmp_path / "checkpoints")
    abstract = sharding.abstract_state(system, sharding.make_optimizer(cfg.optimizer),
                                       ds.example_batch(), sharding.make_mesh())
    state, meta = ck.restore("latest", abstract, 4)
    assert int(state["step"]) == 4
    # Step 5 is the first batch of epoch 2, with the key fold_in(train_rng, 4).
    _, train_rng, _ = jax.random.split(jax.random.key(cfg.seed), 3)
    batch = next(ds.train_iter(cfg.seed, 2))
    loss, terms = system.loss(state["params"], batch, jax.random.fold_in(train_rng, 4))
    (row,) = [r for r in _rows(tmp_path, "train") if r["step"] == 5]
    np.testing.assert_allclose(row["loss"], float(loss), rtol=1e-5)
    np.testing.assert_allclose(row["mse_m"], float(terms["mse_m"]), rtol=1e-5)
    assert row["epoch"] == 2 and set(row) >= {"grad_norm", "steps_per_s", "time"}
    (info,) = _rows(tmp_path, "info")
    n_params = sum(x.size for x in _leaves(state["params"]))
    assert info["num_params"] == n_params == 3 * 8 + 8 + 8 * 2 + 2
    assert info["steps_per_epoch"] == 2 and info["total_steps"] == 6


def _one_step():
    """Two train steps of the toy system on the mesh of all devices (data-parallel)."""
    from jax.sharding import NamedSharding, PartitionSpec as P

    cfg = make_toy_config()
    recs = {"train": [pipeline.preprocess_record(make_record(f"t{i}", 60, seed=i),
                                                 ("arousal",)) for i in range(4)]}
    ds = pipeline.from_recordings(recs, cfg)
    mesh = sharding.make_mesh()
    data_sh, repl = NamedSharding(mesh, P("data")), NamedSharding(mesh, P())
    system, tx = ToySystem(cfg), sharding.make_optimizer(cfg.optimizer)
    state = sharding.init_state(system, tx, jax.random.key(0),
                                sharding.to_global(ds.example_batch(), data_sh), mesh)
    step = trainer.make_train_step(system, tx, repl)
    batch = sharding.to_global(next(ds.train_iter(0, 0)), data_sh)
    assert len(batch["audio"].sharding.device_set) == jax.device_count()
    state, m = step(state, batch, jax.random.key(1))
    state, m2 = step(state, batch, jax.random.key(2))
    return {"devices": jax.device_count(), "loss": float(m["loss"]), "loss2": float(m2["loss"]),
            "params": [np.asarray(x).ravel().tolist() for x in jax.tree.leaves(state["params"])]}


def test_four_devices_same_loss_as_one():
    env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=4",
               JAX_PLATFORMS="cpu", PYTHONPATH=os.pathsep.join([str(REPO / "tests"), str(REPO)]))
    code = "import json, test_trainer; print(json.dumps(test_trainer._one_step()))"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         timeout=300, cwd=str(REPO / "tests"))
    assert out.returncode == 0, out.stderr[-3000:]
    four = json.loads(out.stdout.strip().splitlines()[-1])
    if jax.device_count() != 1:
        pytest.skip("this process must see one device")
    one = _one_step()
    assert (one["devices"], four["devices"]) == (1, 4)
    np.testing.assert_allclose(four["loss"], one["loss"], rtol=1e-5)
    np.testing.assert_allclose(four["loss2"], one["loss2"], rtol=1e-5)
    for a, b in zip(one["params"], four["params"]):
        np.testing.assert_allclose(b, a, rtol=1e-4, atol=1e-6)


def test_metrics_writer_drops_rows_after_resume_point(tmp_path):
    w = trainer.MetricsWriter(tmp_path)
    for s in (1, 2, 3, 4):
        w.write(s, "train", {"loss": np.float32(s / 2), "nan": float("nan")})
    trainer.MetricsWriter(tmp_path, resume_step=2)
    rows = trainer.MetricsWriter.read(tmp_path / "metrics.jsonl")
    assert [(r["step"], r["loss"], r["nan"]) for r in rows] == [(1, 0.5, None), (2, 1.0, None)]


def test_an_unreadable_latest_checkpoint_falls_back_to_the_one_before(toy_config, toy_records,
                                                                       tmp_path, capsys):
    """The newest checkpoint truncated (every file of its state emptied, as a node dying
    mid-write leaves it): the resume reports it by path, moves it aside, restores the one
    before and ends as an uninterrupted run."""
    toy_config.train.eval_every_epochs = 0
    ds = _dataset(toy_config, toy_records)
    full = trainer.train_and_evaluate(toy_config, tmp_path / "a", dataset=ds)
    trainer.train_and_evaluate(toy_config, tmp_path / "b", dataset=ds, stop_after_steps=5)
    ck_dir = tmp_path / "b" / "checkpoints" / "latest"
    assert Checkpoints(tmp_path / "b" / "checkpoints").all_steps() == [2, 4, 5]
    files = [f for f in (ck_dir / "5" / "state").rglob("*") if f.is_file()]
    assert files
    for f in files:
        f.write_bytes(b"")
    capsys.readouterr()
    resumed = trainer.train_and_evaluate(toy_config, tmp_path / "b", dataset=ds)
    err = capsys.readouterr().err
    assert f"checkpoint {ck_dir / '5'} cannot be read" in err
    assert "resumed from" in err and "at step 4" in err
    assert (ck_dir / "unreadable-5").is_dir()
    assert resumed["step"] == full["step"] == 6
    for x, y in zip(_leaves(full["state"]), _leaves(resumed["state"])):
        np.testing.assert_array_equal(x, y)
    # Nothing readable: one error naming every checkpoint tried.
    steps = Checkpoints(tmp_path / "b" / "checkpoints").all_steps()
    for step in steps:
        for f in (ck_dir / str(step) / "state").rglob("*"):
            if f.is_file():
                f.write_bytes(b"")
    with pytest.raises(RuntimeError, match="no readable checkpoint") as e:
        trainer.train_and_evaluate(toy_config, tmp_path / "b", dataset=ds)
    assert all(str(ck_dir / str(step)) in str(e.value) for step in steps)
