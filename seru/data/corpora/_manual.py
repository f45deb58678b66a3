"""Shared helpers of the readers of manually downloaded corpora.

* :func:`require` checks the manual directory and names what is missing.
* :class:`FormatError` is the error of a malformed file: it names the file,
  the row (1-based line number, header = line 1) and what was expected.
* :class:`SkipLog` collects what a reader skipped. One bad file never loses
  the rest: a reader catches the :class:`FormatError` (or
  :class:`seru.data.audio.AudioError`) of one item, records it here, and goes
  on. Every entry is logged with ``absl.logging.warning`` and stored in the
  built dataset's ``info.metadata["skipped"]`` (a list of
  ``"<file>:<row>: <reason> (skipped <what>)"`` strings, read back with ``builder.info.metadata``)
  so that a build reports what it left out.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import Iterator, Sequence

from absl import logging

__all__ = ["FormatError", "SkipLog", "require", "read_csv", "split_fields", "parse_float", "rel",
           "discover"]


class FormatError(ValueError):
    """A malformed corpus file: ``<file>, row <row>: <what was expected>``."""

    def __init__(self, path, row, message: str):
        self.path, self.row, self.reason = str(path), row, message
        where = f"{path}, row {row}" if row is not None else f"{path}"
        super().__init__(f"{where}: {message}")


class SkipLog:
    """What a reader skipped, with file, row and reason."""

    def __init__(self, corpus: str):
        self.corpus = corpus
        self.entries: list[str] = []

    def add(self, path, row, reason: str, what: str = "item") -> None:
        where = f"{path}:{row}" if row is not None else f"{path}"
        entry = f"{where}: {reason} (skipped {what})"
        self.entries.append(entry)
        logging.warning("%s: %s", self.corpus, entry)

    def add_error(self, err: Exception, what: str = "item") -> None:
        if isinstance(err, FormatError):
            self.add(err.path, err.row, err.reason, what)
        else:
            entry = f"{err} (skipped {what})"
            self.entries.append(entry)
            logging.warning("%s: %s", self.corpus, entry)

    def __len__(self) -> int:
        return len(self.entries)


def require(manual_dir, *relative: str, corpus: str, instructions: str = "") -> Path:
    """The manual dir as a Path, checking that each ``relative`` path exists in it."""
    if manual_dir is None:
        raise FileNotFoundError(
            f"{corpus}: no manual dir given; pass --manual_dir DIR.\n{instructions}"
        )
    root = Path(manual_dir)
    if not root.is_dir():
        raise FileNotFoundError(f"{corpus}: manual dir {root} does not exist.\n{instructions}")
    missing = [r for r in relative if not (root / r).exists()]
    if missing:
        raise FileNotFoundError(
            f"{corpus}: {', '.join(str(root / m) for m in missing)} not found in the "
            f"manual dir {root}.\n{instructions}"
        )
    return root


def discover(directory, pattern: str) -> list[Path]:
    """The files of ``directory`` matching ``pattern`` (``Path.glob``), sorted, without the
    hidden and foreign ones every copy of a corpus picks up: names starting with ``.``
    (macOS AppleDouble ``._*`` companions, ``.DS_Store``, editor swap files) and editor
    backups (``*~``, ``#*#``)."""
    return sorted(p for p in Path(directory).glob(pattern)
                  if p.is_file() and not p.name.startswith((".", "#"))
                  and not p.name.endswith("~"))


def unique_keys(examples, skips: "SkipLog", source: str):
    """``examples`` (``(key, record)`` pairs of one split) without repeated keys: a key
    seen before is reported in ``skips`` (``source`` names where the keys come from) and
    its repeat left out, so that TFDS never meets a duplicated key."""
    seen = set()
    for key, record in examples:
        if key in seen:
            skips.add(source, None, f"item {key!r} a second time", f"the repeat of {key}")
            continue
        seen.add(key)
        yield key, record


def keep_overlap(ratings: dict, seconds: float, hop_s: float, audio_name: str,
                 rating_names: dict, skips: "SkipLog") -> dict:
    """The ratings of one recording cut to what its audio and every dimension cover.

    ``ratings``: ``{dim: [frames, ...]}``, one frame per ``hop_s`` seconds from t = 0;
    ``seconds``: the audio's duration (its frames: ``floor(seconds / hop_s) + 1``).
    Rule: files agree when their frame counts differ by at most one frame. Otherwise the
    overlap is kept -- the first ``min`` frames of every dimension; audio past the last
    kept frame is not used (the pipeline cuts it) -- and every rating file
    (``rating_names[dim]``; one entry per distinct file) that disagrees is reported in
    ``skips`` with both file names, both lengths in rows and seconds, and what was left
    out."""
    audio_frames = int(math.floor(seconds / hop_s + 1e-6)) + 1
    rows = {dim: len(r) for dim, r in ratings.items()}
    keep = min(audio_frames, *rows.values())
    if max(audio_frames, *rows.values()) - keep <= 1:
        return ratings
    reported = set()
    for dim, n in rows.items():
        name = rating_names[dim]
        if (abs(n - audio_frames) <= 1 and n - keep <= 1) or name in reported:
            continue
        reported.add(name)
        what = (f"{n - keep} rating rows after {keep * hop_s:.2f} s" if n > keep
                else f"the audio after {keep * hop_s:.2f} s")
        skips.add(name, None, f"{n} rating rows ({n * hop_s:.2f} s) but {audio_name} lasts "
                  f"{seconds:.2f} s ({audio_frames} frames): kept the first {keep} frames", what)
    return {dim: r[:keep] for dim, r in ratings.items()}


def rel(path, root) -> str:
    """``path`` relative to ``root`` when possible (shorter skip entries)."""
    try:
        return str(Path(path).relative_to(root))
    except ValueError:
        return str(path)


def read_csv(path, delimiter: str = ",", expect: Sequence[str] = ()) -> tuple[list[str], Iterator]:
    """Header (stripped names) and an iterator of ``(row_number, fields)`` of a CSV file.

    ``row_number`` is the 1-based line number of the record (header = 1). A UTF-8
    byte-order mark, CRLF line endings and a trailing delimiter (empty fields
    after the last column, on the header or a row) read as in a clean file.
    Raises :class:`FormatError` when the file is empty or a column of
    ``expect`` is missing from the header.
    """
    path = Path(path)
    f = open(path, newline="", encoding="utf-8-sig")
    reader = csv.reader(f, delimiter=delimiter)
    try:
        header = next(reader)
    except StopIteration:
        f.close()
        raise FormatError(path, 1, "empty file, expected a header row") from None
    header = _without_trailing_empty([h.strip() for h in header])
    missing = [c for c in expect if c not in header]
    if missing:
        f.close()
        raise FormatError(
            path, 1, f"header {header} lacks column(s) {missing}; expected columns {list(expect)}"
        )

    def rows():
        with f:
            for fields in reader:
                if not fields or all(not x.strip() for x in fields):
                    continue
                yield reader.line_num, _without_trailing_empty(fields, len(header))

    return header, rows()


def _without_trailing_empty(fields: list[str], keep: int = 0) -> list[str]:
    """``fields`` without the empty (or blank) fields at its end beyond the first ``keep``
    (a trailing delimiter)."""
    n = len(fields)
    while n > keep and not fields[n - 1].strip():
        n -= 1
    return fields[:n]


def split_fields(line: str, delimiter: str, expected: int = 0) -> list[str]:
    """The stripped fields of one delimited line; empty fields after the first ``expected``
    (a trailing delimiter) are dropped, empty ones within them (a missing value) kept."""
    return _without_trailing_empty([x.strip() for x in line.split(delimiter)], expected)


def parse_float(text: str, path, row, what: str) -> float:
    """``float(text)`` or a :class:`FormatError` naming file, row and field; ``nan``,
    ``inf`` and numbers beyond float range are refused (no corpus writes them: a rating
    that is missing is an empty field where a format allows one)."""
    try:
        value = float(text)
    except (TypeError, ValueError):
        raise FormatError(path, row, f"expected a number for {what}, got {text!r}") from None
    if not math.isfinite(value):
        raise FormatError(path, row, f"expected a finite number for {what}, got {text!r}")
    return value
