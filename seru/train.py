"""``python -m seru.train --config configs/<x>.py[:args] --workdir DIR [--config.a.b=v]``.

Parses the flags and calls :func:`seru.trainer.train_and_evaluate`. Running the
same command again resumes from the latest checkpoint in ``DIR``.
"""

from absl import app, flags, logging
from ml_collections import config_flags

FLAGS = flags.FLAGS
config_flags.DEFINE_config_file(
    "config", None, "Experiment config file, e.g. configs/quickstart.py", lock_config=True)
flags.DEFINE_string("workdir", None, "Directory of the run: checkpoints, metrics, eval.")
flags.mark_flags_as_required(["config", "workdir"])


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    if not FLAGS["verbosity"].present:
        logging.set_verbosity(logging.WARNING)  # Orbax / TFDS info lines drown the progress bar
    from seru import trainer

    trainer.maybe_initialize_distributed(FLAGS.config)  # before any device is touched
    try:
        trainer.validate(FLAGS.config)
    except trainer.ConfigError as e:
        raise SystemExit(f"config error: {e}")
    trainer.train_and_evaluate(FLAGS.config, FLAGS.workdir)
    config = FLAGS.config
    for split in config.eval.splits:
        trainer.evaluate_checkpoint(FLAGS.workdir, split, checkpoint="best")
    # (In a multi-process run every process joins the evaluation; process 0 writes.)


if __name__ == "__main__":
    app.run(main)
