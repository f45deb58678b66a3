"""Builds (if needed) and summarises a corpus.

    python -m seru.data --corpus seru_synth_continuous --variant quickstart
    python -m seru.data --corpus msp_podcast --manual_dir ~/MSP-Podcast --json summary.json

Corpora are built through :func:`seru.data.corpora.load` into ``--data_dir``
(default ``$SERU_DATA_DIR`` or ``~/seru_datasets``).
"""

from __future__ import annotations

import argparse
import sys

from seru.data import corpora
from seru.data.summary import format_summary, summarize, to_json


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m seru.data", description=__doc__.split("\n")[0])
    p.add_argument("--corpus", required=True, choices=sorted(corpora.CORPORA),
                   help="registered corpus name")
    p.add_argument("--variant", default=None, help="builder config (e.g. tiny, quickstart, full)")
    p.add_argument("--data_dir", default=None, help="TFDS data dir (default $SERU_DATA_DIR)")
    p.add_argument("--manual_dir", default=None, help="your copy of a licensed corpus")
    p.add_argument("--splits", default=None, help="comma-separated splits to summarise (default all)")
    p.add_argument("--json", default=None, metavar="PATH",
                   help="also write the summary as JSON to PATH ('-' for stdout)")
    p.add_argument("--no_progress", action="store_true", help="no progress bar")
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    builder, sources = corpora.load(args.corpus, args.variant, args.data_dir, args.manual_dir)
    if args.splits:
        wanted = [s.strip() for s in args.splits.split(",") if s.strip()]
        missing = [s for s in wanted if s not in sources]
        if missing:
            raise SystemExit(f"corpus {args.corpus!r} has no split(s) {missing}; "
                             f"splits: {sorted(sources)}")
        sources = {s: sources[s] for s in wanted}
    summary = summarize(builder, sources, progress=not args.no_progress)
    if args.json == "-":
        print(to_json(summary))
    else:
        print(format_summary(summary))
        if args.json:
            with open(args.json, "w") as f:
                f.write(to_json(summary) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
