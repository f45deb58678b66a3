"""``python -m seru.train --config configs/<x>.py[:args] --workdir DIR [--config.a.b=v]``.

Parses the flags and calls :func:`seru.trainer.train_and_evaluate`, then
evaluates the best checkpoint on ``config.eval.splits``
(:func:`seru.evaluation.evaluate_checkpoint`). Running the same command again
resumes from the latest checkpoint in ``DIR``; a changed config in an existing
``DIR`` is refused with the list of changed fields. A SIGTERM (Slurm, TPU
maintenance) or ``--stop_after_steps N`` saves a checkpoint at one step on
every process and exits 0 without evaluating; the same command resumes. ``--print_config`` prints
every field with its value, default and meaning, and exits.
A config problem is one line on stderr (``config error: ...``) and exit code 2.
"""

from absl import app, flags, logging
from ml_collections import config_flags

FLAGS = flags.FLAGS
config_flags.DEFINE_config_file(
    "config", None, "Experiment config file, e.g. configs/quickstart.py", lock_config=True)
flags.DEFINE_string("workdir", None, "Directory of the run: checkpoints, metrics, eval.")
flags.DEFINE_integer("stop_after_steps", None, "Save a checkpoint and stop once this many "
                     "steps are done (e.g. a job's time limit); the same command resumes.")
flags.DEFINE_bool("print_config", False, "Print every config field (value, default, meaning) "
                  "and exit.")
flags.mark_flag_as_required("config")


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    if not FLAGS["verbosity"].present:
        logging.set_verbosity(logging.WARNING)  # Orbax / TFDS info lines drown the progress bar
    from seru import config as config_lib
    from seru import evaluation, trainer

    config = FLAGS.config
    if FLAGS.print_config:
        return config_lib.exit_on_error(config_lib.print_config, config)
    if not FLAGS.workdir:
        raise app.UsageError("--workdir is required")
    trainer.maybe_initialize_distributed(config)  # before any device is touched
    out = config_lib.exit_on_error(trainer.train_and_evaluate, config, FLAGS.workdir,
                                   stop_after_steps=FLAGS.stop_after_steps)
    if out["stopped"]:  # preempted (SIGTERM) or --stop_after_steps: exit 0, resume later
        return
    for split in config.eval.splits:
        # In a multi-process run every process joins the evaluation; process 0 writes.
        evaluation.evaluate_checkpoint(FLAGS.workdir, split, checkpoint="best")


def run():
    from seru import config as config_lib

    app.run(main, flags_parser=config_lib.parse_flags)


if __name__ == "__main__":
    run()
