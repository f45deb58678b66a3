"""Corpus registry: one TFDS builder per package folder, looked up by name.

Builders are imported lazily so that ``import seru.data`` stays cheap.
Every builder writes ``array_record`` and is read with ``tfds.data_source``:
TensorFlow is never imported.
"""

from __future__ import annotations

import importlib
import os
from pathlib import Path

from seru.data.errors import CorpusBuildError

#: corpus name -> "module:BuilderClass"
CORPORA = {
    "seru_synth_continuous": "seru.data.corpora.seru_synth_continuous.builder:SeruSynthContinuous",
    "seru_synth_utterances": "seru.data.corpora.seru_synth_utterances.builder:SeruSynthUtterances",
    "avec2016": "seru.data.corpora.avec2016.builder:Avec2016",
    "msp_podcast": "seru.data.corpora.msp_podcast.builder:MspPodcast",
    "iemocap": "seru.data.corpora.iemocap.builder:Iemocap",
    "crema_d": "seru.data.corpora.crema_d.builder:CremaD",
    "sewa": "seru.data.corpora.sewa.builder:Sewa",
}

#: Corpora that need files the user provides (``--manual_dir``).
MANUAL = ("avec2016", "msp_podcast", "iemocap", "crema_d", "sewa")


def default_data_dir() -> str:
    """``$SERU_DATA_DIR``, else ``~/seru_datasets``."""
    return os.environ.get("SERU_DATA_DIR", str(Path("~/seru_datasets").expanduser()))


def builder_class(name: str):
    if name not in CORPORA:
        raise ValueError(
            f"unknown corpus {name!r}; known corpora: {', '.join(sorted(CORPORA))}"
        )
    module, cls = CORPORA[name].split(":")
    return getattr(importlib.import_module(module), cls)


def get_builder(name: str, variant: str | None = None, data_dir: str | None = None,
                manual_dir: str | None = None):
    """An instantiated builder. ``variant`` is the builder config name."""
    cls = builder_class(name)
    names = [c.name for c in getattr(cls, "BUILDER_CONFIGS", [])]
    if variant is not None and names and variant not in names:
        raise ValueError(
            f"corpus {name!r} has no variant {variant!r}; variants: {', '.join(names)}"
        )
    kwargs = dict(data_dir=data_dir or default_data_dir(), file_format="array_record")
    if variant is not None:
        kwargs["config"] = variant
    builder = cls(**kwargs)
    builder._seru_manual_dir = manual_dir  # read by download_and_prepare below
    return builder


def prepare(builder, manual_dir: str | None = None):
    """Builds the corpus if it is not built yet (a no-op otherwise)."""
    import tensorflow_datasets as tfds

    manual_dir = manual_dir or getattr(builder, "_seru_manual_dir", None)
    if builder.name in MANUAL and not builder.is_prepared():
        if not manual_dir:
            raise ValueError(
                f"corpus {builder.name!r} is built from files you provide: pass "
                f"--manual_dir DIR pointing at your copy of the corpus"
            )
        if not Path(manual_dir).is_dir():
            raise FileNotFoundError(f"manual dir {manual_dir} does not exist")
    config = tfds.download.DownloadConfig(manual_dir=manual_dir)
    from seru.data.corpora._manual import FormatError

    try:
        builder.download_and_prepare(download_config=config)
    except FormatError as e:  # a file every item needs (a vote table, a header) is malformed
        raise CorpusBuildError(f"corpus {builder.name!r}: the build stopped: {e}") from e
    except Exception as e:  # TFDS' own errors (e.g. "No examples were yielded") included
        skips = getattr(getattr(builder, "_skips", None), "entries", None)
        if skips is None:  # not a reader of files a user provides
            raise
        raise CorpusBuildError(_build_failure(builder, e, skips)) from e
    return builder


#: Skipped items quoted in the message of a failed build (all are in the skip-list file).
FIRST_REASONS = 5


def _build_failure(builder, error: Exception, skips: list[str]) -> str:
    """The message of a build that stopped: the cause, the first skipped items and the file
    the whole skip list is written to (beside the corpus' data directory)."""
    path = Path(builder.data_dir_root) / f"{builder.name}-build-failed-skipped.txt"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"{s}\n" for s in skips))
    first = "".join(f"\n  {s}" for s in skips[:FIRST_REASONS])
    more = f"\n  ... and {len(skips) - FIRST_REASONS} more" if len(skips) > FIRST_REASONS else ""
    cause = str(error).splitlines()[0] if str(error) else type(error).__name__
    if not skips:
        return (f"corpus {builder.name!r}: the build stopped ({cause}); nothing was kept and "
                f"nothing was skipped: the files hold no item for that split")
    return (f"corpus {builder.name!r}: the build stopped ({cause}); nothing was kept. "
            f"{len(skips)} items were skipped, the first:{first}{more}\n"
            f"all of them: {path}")


def load(name: str, variant: str | None = None, data_dir: str | None = None,
         manual_dir: str | None = None, build: bool = True):
    """Returns ``(builder, {split: data_source})``, building the corpus when asked."""
    builder = get_builder(name, variant, data_dir, manual_dir)
    if build:
        prepare(builder, manual_dir)
    elif not builder.is_prepared():
        raise FileNotFoundError(
            f"corpus {name!r} (variant {variant}) is not built in {builder.data_dir}: run "
            f"`python -m seru.data --corpus {name}"
            + (f" --variant {variant}" if variant else "")
            + "` first"
        )
    return builder, builder.as_data_source()
