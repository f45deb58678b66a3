"""``python -m seru.evaluate --workdir DIR [--split dev|test] [--num_samples N] [--checkpoint best]
[--seed S] [--corpus NAME] [--variant NAME] [--pass_shards P] [--distributed]
[--conformal [--conformal_alpha A] [--conformal_unit recording|frame]]``.

Reads ``DIR/config.json``, loads the selected checkpoint, runs the system's
vectorised MC prediction on the split, post-processes, runs the evaluators of
``config.eval.evaluators`` and writes ``DIR/eval/<split>/metrics.json``,
``predictions.npz`` and the figures (:func:`seru.evaluation.evaluate_checkpoint`).
With ``--conformal`` it also fits split-conformal intervals (regression) and
prediction sets (classes) on dev and reports their coverage on the split
(``seru/conformal_eval.py``)::

    python -m seru.evaluate --workdir DIR --split test --conformal
With ``--distributed`` it is one process of a multi-process job: the items are
shared over every device of every process, process 0 writes.

Cross-corpus evaluation (sridhar21 Tables I-II): ``--corpus`` / ``--variant``
override ``config.data.corpus`` / ``config.data.variant``; the input is
prepared as the training run expects it (features standardised with the
*training* corpus' statistics) and the results go to
``DIR/eval/<corpus>-<variant>/<split>/``::

    python -m seru.evaluate --workdir DIR --split test \\
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
                    "(cross-corpus; the input prepared as the training run expects it).")
flags.DEFINE_string("variant", None, "Evaluate on this variant instead of config.data.variant.")
flags.DEFINE_integer("pass_shards", None, "Devices the MC passes are split over (default: "
                     "config.eval.pass_shards); the items go over the others.")
flags.DEFINE_bool("distributed", False, "One process of a multi-process job "
                  "(jax.distributed.initialize(): Slurm, TPU pods, or JAX_COORDINATOR_ADDRESS / "
                  "JAX_NUM_PROCESSES / JAX_PROCESS_ID); every process evaluates its share of the "
                  "items, process 0 writes.")
flags.DEFINE_bool("conformal", None, "Fit split-conformal intervals / sets on data.dev_split "
                  "and report their coverage and width on the split (default: "
                  "config.eval.conformal; seru/conformal_eval.py). The Predictor then returns "
                  "them too.")
flags.DEFINE_float("conformal_alpha", None, "Conformal miscoverage (default: "
                   "config.eval.conformal_alpha, 0.1 = 90 %).")
flags.DEFINE_enum("conformal_unit", None, ["recording", "frame"], "Frame-level data: "
                  "calibrate on one frame per dev recording (a guarantee over recordings) or on "
                  "every frame (no guarantee) (default: config.eval.conformal_unit).")
flags.mark_flags_as_required(["workdir"])


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    if not FLAGS["verbosity"].present:
        logging.set_verbosity(logging.WARNING)  # Orbax / TFDS info lines drown the progress bar
    from seru import config as config_lib
    from seru import evaluation, sharding

    if FLAGS.distributed:
        sharding.initialize_distributed()  # before any device is touched
    config_lib.exit_on_error(evaluation.evaluate_checkpoint, FLAGS.workdir, FLAGS.split,
                             FLAGS.num_samples, FLAGS.checkpoint, seed=FLAGS.seed,
                             corpus=FLAGS.corpus, variant=FLAGS.variant,
                             pass_shards=FLAGS.pass_shards, conformal=FLAGS.conformal,
                             conformal_alpha=FLAGS.conformal_alpha,
                             conformal_unit=FLAGS.conformal_unit)


if __name__ == "__main__":
    app.run(main)
