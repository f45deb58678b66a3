"""``python -m seru.evaluate --workdir DIR [--split dev|test] [--num_samples N] [--checkpoint best]
[--corpus NAME] [--variant NAME]``.

Reads ``DIR/config.json``, loads the selected checkpoint, runs the system's
vectorised MC prediction on the split, reassembles recordings, median-filters,
computes every metric and writes ``DIR/eval/<split>/metrics.json``,
``predictions.npz`` and the figures (see :func:`seru.trainer.evaluate_checkpoint`).

Cross-corpus evaluation (sridhar21 Tables I-II): ``--corpus`` / ``--variant``
override ``config.data.corpus`` / ``config.data.variant``; the features are
standardised with the *training* corpus' statistics and the results go to
``DIR/eval/<corpus>-<variant>/<split>/`` (:func:`seru.trainer.crosscorpus_dataset`)::

    python -m seru.evaluate --workdir DIR --split test \
        --corpus seru_synth_utterances --variant crosscorpus
"""

from absl import app, flags, logging

FLAGS = flags.FLAGS
flags.DEFINE_string("workdir", None, "A training workdir (holds config.json and checkpoints/).")
flags.DEFINE_string("split", "dev", "Split to evaluate.")
flags.DEFINE_integer("num_samples", None, "MC passes (default: config.eval.num_samples).")
flags.DEFINE_enum("checkpoint", "best", ["best", "latest", "best_train_loss", "best_dev"],
                  "best = the one config.train.select_by selects.")
flags.DEFINE_integer("seed", None, "PRNG seed of the MC passes (default: config.seed).")
flags.DEFINE_string("corpus", None, "Evaluate on this corpus instead of config.data.corpus "
                    "(cross-corpus; features standardised with the training corpus' statistics).")
flags.DEFINE_string("variant", None, "Evaluate on this variant instead of config.data.variant.")
flags.mark_flags_as_required(["workdir"])


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    if not FLAGS["verbosity"].present:
        logging.set_verbosity(logging.WARNING)  # Orbax / TFDS info lines drown the progress bar
    from seru import trainer

    trainer.evaluate_checkpoint(FLAGS.workdir, FLAGS.split, FLAGS.num_samples,
                                FLAGS.checkpoint, seed=FLAGS.seed,
                                corpus=FLAGS.corpus, variant=FLAGS.variant)


if __name__ == "__main__":
    app.run(main)
