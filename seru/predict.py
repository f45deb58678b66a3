"""``python -m seru.predict --workdir DIR a.wav [b.wav ...] [--out OUT] [--num_samples N]
[--checkpoint best]``.

Predicts the emotion and its uncertainty for new recordings with a trained run
(:class:`seru.inference.Predictor`): per frame of the run's time base (or per
file for utterance-level systems) the predicted mean and spread of every
dimension, post-processed as in evaluation. Writes ``OUT/predictions.csv``
(columns ``file, start, end`` in seconds, then ``<dim>_mean``,
``<dim>_spread``, ...) and ``OUT/predictions.json`` (what the columns mean),
and prints their paths. Files with the same stem get ids that keep enough of
their folders to differ. ``--audio FILE`` (repeatable) is accepted as well.
"""

from __future__ import annotations

import json
from pathlib import Path

from absl import app, flags, logging

FLAGS = flags.FLAGS
flags.DEFINE_string("workdir", None, "A training workdir (holds config.json and checkpoints/).")
flags.DEFINE_multi_string("audio", [], "Audio file to predict (repeatable; or give the files "
                          "as arguments).")
flags.DEFINE_string("out", None, "Output folder (default: WORKDIR/predict).")
flags.DEFINE_integer("num_samples", None, "MC passes (default: config.eval.num_samples).")
flags.DEFINE_enum("checkpoint", "best", ["best", "latest", "best_train_loss", "best_dev"],
                  "Which checkpoint.")
flags.mark_flags_as_required(["workdir"])


def predict_files(workdir, paths, out=None, num_samples=None, checkpoint="best"):
    """Predictions of ``paths`` as a DataFrame (:meth:`Predictor.predict_files`), also written
    to ``out`` (default ``workdir/predict``) as ``predictions.csv`` + ``predictions.json``.
    Returns ``(dataframe, csv_path)``."""
    from seru.inference import Predictor

    df = Predictor.from_workdir(workdir, checkpoint, num_samples).predict_files(paths)
    out_dir = Path(out) if out else Path(workdir) / "predict"
    out_dir.mkdir(parents=True, exist_ok=True)
    table = df.reset_index()
    for col in ("start", "end"):
        table[col] = table[col].dt.total_seconds()
    csv = out_dir / "predictions.csv"
    table.to_csv(csv, index=False, float_format="%.6g")
    (out_dir / "predictions.json").write_text(json.dumps(df.attrs, indent=2, default=str) + "\n")
    return df, csv


def main(argv):
    paths = list(FLAGS.audio) + list(argv[1:])
    if not paths:
        raise app.UsageError("give the audio files to predict: python -m seru.predict "
                             "--workdir DIR a.wav b.wav")
    if not FLAGS["verbosity"].present:
        logging.set_verbosity(logging.WARNING)
    from seru import config as config_lib
    from seru.data.audio import AudioError

    try:
        df, csv = config_lib.exit_on_error(predict_files, FLAGS.workdir, paths, FLAGS.out,
                                           FLAGS.num_samples, FLAGS.checkpoint)
    except AudioError as e:
        raise SystemExit(f"error: {e}") from None
    for ident, rows in df.groupby(level="file", sort=False):
        print(f"{ident}: {len(rows)} rows; mean of each column: "
              + ", ".join(f"{c} {rows[c].mean():.3f}" for c in df.columns))
    print(f"wrote {csv} and {csv.with_suffix('.json')}")


if __name__ == "__main__":
    app.run(main)
