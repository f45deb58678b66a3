"""``python -m seru.predict --workdir DIR --audio a.wav [b.wav ...] [--out OUT] [--num_samples N]``.

Predicts the emotion trace and its uncertainty of new recordings with a
trained continuous model: per 40 ms frame the predicted mean ``m_hat`` and
spread ``s_hat`` of every dimension, median-filtered as in evaluation
(``config.eval.median_window``). Writes ``OUT/<name>.csv`` (``time_s`` and
``<dim>_mean``, ``<dim>_std`` columns) and ``OUT/predictions.npz``.
"""

from __future__ import annotations

from pathlib import Path

from absl import app, flags, logging

FLAGS = flags.FLAGS
flags.DEFINE_string("workdir", None, "A training workdir (holds config.json and checkpoints/).")
flags.DEFINE_multi_string("audio", None, "Audio file(s) to predict (any rate; mono mixdown).")
flags.DEFINE_string("out", None, "Output folder (default: WORKDIR/predict).")
flags.DEFINE_integer("num_samples", None, "MC passes (default: config.eval.num_samples).")
flags.DEFINE_enum("checkpoint", "best", ["best", "latest", "best_train_loss", "best_dev"],
                  "Which checkpoint.")
flags.mark_flags_as_required(["workdir", "audio"])


def predict_files(workdir, paths, out=None, num_samples=None, checkpoint="best") -> dict:
    """Per-file ``{'m_hat', 's_hat'}`` arrays ``[frames, D]``; also written to ``out``."""
    import jax
    import numpy as np

    from seru import trainer
    from seru.data import audio as audio_lib
    from seru.data import pipeline

    workdir = Path(workdir)
    config = trainer.load_config(workdir)
    if config.data.input != "raw_audio":
        raise ValueError(f"{workdir}: seru.predict handles raw-audio (continuous) models; "
                         f"this run uses data.input={config.data.input!r}")
    dims = tuple(config.data.dimensions)
    recs = []
    for p in paths:
        x, sr = audio_lib.load_wav(p)
        n_frames = max(1, int(round(len(x) / sr / 0.04)))
        record = {"id": Path(p).stem, "speaker": "", "audio": x, "sample_rate": sr,
                  **{d: np.full((n_frames, 1), np.nan, np.float32) for d in dims}}
        recs.append(pipeline.preprocess_record(record, dims, "mean", 0, where=str(p),
                                               audio_norm=config.data.audio_norm))
    ds = pipeline.from_recordings({"predict": recs}, _with_train_split(config, "predict"))
    system = trainer.get_system(config)
    params, _ = trainer.restore_params(workdir, config, system, ds, checkpoint)
    n = num_samples or config.eval.num_samples
    mesh = trainer.make_mesh()
    _, _, eval_rng = jax.random.split(jax.random.key(config.seed), 3)
    raw = trainer.predict_split(system, params, ds, "predict", eval_rng, n, mesh)
    out_dir = Path(out) if out else workdir / "predict"
    out_dir.mkdir(parents=True, exist_ok=True)
    result, arrays = {}, {}
    for r in recs:
        p = {k: trainer.median_postprocess(np.asarray(raw[r.id][k]), config.eval.median_window)
             for k in ("m_hat", "s_hat") if k in raw[r.id]}
        result[r.id] = p
        arrays.update({f"{r.id}/{k}": v for k, v in p.items()})
        t = np.arange(r.num_frames) * 0.04
        cols = [t] + [p[k][:, d] for d in range(len(dims)) for k in p]
        header = ["time_s"] + [f"{dim}_{'mean' if k == 'm_hat' else 'std'}"
                               for dim in dims for k in p]
        np.savetxt(out_dir / f"{r.id}.csv", np.stack(cols, 1), delimiter=",",
                   header=",".join(header), comments="", fmt="%.5f")
    np.savez_compressed(out_dir / "predictions.npz", **arrays)
    return result


def _with_train_split(config, split):
    c = config.copy_and_resolve_references()
    c.data.train_split = split
    return c


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    if not FLAGS["verbosity"].present:
        logging.set_verbosity(logging.WARNING)
    result = predict_files(FLAGS.workdir, FLAGS.audio, FLAGS.out, FLAGS.num_samples,
                           FLAGS.checkpoint)
    for rid, p in result.items():
        print(f"{rid}: {len(p['m_hat'])} frames, mean m_hat {p['m_hat'].mean(0)}, "
              f"mean s_hat {p['s_hat'].mean(0) if 's_hat' in p else '-'}")


if __name__ == "__main__":
    app.run(main)
