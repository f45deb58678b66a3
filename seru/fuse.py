"""``python -m seru.fuse --workdirs A,B [--split test] [--out DIR]``: late fusion of evaluated
runs (han17 Eq. (9)), fitted on dev, scored on the split (:func:`seru.fusion.fuse`).

Each run must have been evaluated on dev and on the split first
(``python -m seru.evaluate --workdir A --split dev``, ``... --split test``). Writes
``DIR/metrics.json`` and ``DIR/predictions.npz`` (default ``A/eval/fused/<split>``), prints
the fused and the single-run metrics.
"""

from absl import app, flags, logging

FLAGS = flags.FLAGS
flags.DEFINE_list("workdirs", None, "Evaluated runs to fuse, comma separated (>= 2).")
flags.DEFINE_string("split", "test", "Split to fuse and score (the fit uses dev).")
flags.DEFINE_string("out", None, "Output folder (default: FIRST_WORKDIR/eval/fused/<split>).")
flags.mark_flags_as_required(["workdirs"])


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    if not FLAGS["verbosity"].present:
        logging.set_verbosity(logging.WARNING)
    from seru import config as config_lib
    from seru import evaluation, fusion

    result = config_lib.exit_on_error(fusion.fuse, FLAGS.workdirs, FLAGS.split, FLAGS.out)
    print(evaluation.format_table(result["fused"], f"fused ({FLAGS.split}, fitted on "
                                                   f"{result['fitted_on']}, "
                                                   f"{result['num_frames']} frames)"))
    for w, m in result["single"].items():
        print(evaluation.format_table(m, w))


if __name__ == "__main__":
    app.run(main)
