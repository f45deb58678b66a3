"""The corpus boundary, fuzzed: every reader on its fixture corpus with one file mutated.

A mutation (hypothesis draws the reader, the file, the line and the kind) is one of what
real copies of these corpora show: a file cut short (a table inside a row, at a field
boundary; an IEMOCAP evaluation file before a turn. Not drawn, because no reader can tell
them from a complete file: a cut inside a number, which leaves a valid, different number;
a cut between the rows of a per-rater table or between the evaluator lines of a turn,
which leaves valid, fewer raters), a row with the other delimiter, a missing or an extra
field in a table (in an IEMOCAP category list one category more or less is a valid line:
not drawn), NaN / inf / text / nothing in place of a number, a duplicated row,
an empty file, a byte-order mark with CRLF line endings; for audio, junk bytes, 0 samples,
NaN samples or a Git LFS pointer. The property, for every mutation:

* the build stops with a seru error (:class:`CorpusBuildError`, naming the mutated file in
  its skip list), or
* it succeeds, and every item that differs from the clean build's (missing, or any array
  changed) is in the skip list with the mutated file's name; no item appears that the
  clean build does not have; a mutation that changes no byte a reader reads (BOM + CRLF)
  changes nothing and reports nothing;

never a traceback from inside a library, never a silently changed item.

Examples: ``FUZZ_EXAMPLES`` per reader in the default suite (5 readers); set
``SERU_FUZZ_EXAMPLES`` for a long run (e.g. 500).
"""

import os
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from hypothesis import HealthCheck, given, settings, strategies as st

sys.path.insert(0, str(Path(__file__).parent))
import fixtures  # noqa: E402

from seru.data import corpora, schema  # noqa: E402
from seru.data.errors import CorpusBuildError  # noqa: E402

FUZZ_EXAMPLES = int(os.environ.get("SERU_FUZZ_EXAMPLES", "12"))
WRITERS = {"avec2016": fixtures.write_avec2016, "iemocap": fixtures.write_iemocap,
           "crema_d": fixtures.write_crema_d, "sewa": fixtures.write_sewa,
           "msp_podcast": fixtures.write_msp_podcast}
LABEL_SUFFIXES = (".csv", ".txt", ".arff")
TEXT_KINDS = ("truncate", "other_delimiter", "drop_field", "extra_field", "bad_number",
              "duplicate", "empty_file", "bom_crlf")
AUDIO_KINDS = ("junk", "no_samples", "nan_samples", "lfs_pointer")
BAD_NUMBERS = ("nan", "inf", "-inf", "abc", "", "1e999", "0x1F")


def _records(sources):
    return {split: {schema.decode_text(src[i]["id"]): {k: np.asarray(v) for k, v in
                                                        src[i].items()}
                    for i in range(len(src))}
            for split, src in sources.items()}


@pytest.fixture(scope="module")
def clean(tmp_path_factory):
    """Each reader's fixture corpus and its clean build's records."""
    root = tmp_path_factory.mktemp("fuzz")
    out = {}
    for name, write in WRITERS.items():
        write(root / name / "manual")
        _, sources = corpora.load(name, data_dir=str(root / name / "data"),
                                  manual_dir=str(root / name / "manual"))
        files = sorted(p for p in (root / name / "manual").rglob("*") if p.is_file())
        out[name] = {"manual": root / name / "manual", "records": _records(sources),
                     "labels": [p for p in files if p.suffix in LABEL_SUFFIXES],
                     "audio": [p for p in files if p.suffix == ".wav"]}
    return out


def _mutate_text(path: Path, kind: str, data) -> None:
    raw = path.read_bytes().decode("utf-8")
    lines = raw.splitlines()
    if kind == "empty_file" or not lines:
        path.write_text("")
        return
    if kind == "bom_crlf":
        path.write_bytes(b"\xef\xbb\xbf" + "\r\n".join(lines).encode("utf-8") + b"\r\n")
        return
    i = data.draw(st.integers(0, len(lines) - 1), label="line")
    line = lines[i]
    delim = ";" if ";" in line else ("," if "," in line else None)
    if kind == "truncate":
        if path.suffix == ".txt":  # IEMOCAP: cut before a turn's header (or at the end)
            starts = [k for k, x in enumerate(lines) if x.startswith("[")] + [len(lines)]
            lines = lines[:data.draw(st.sampled_from(starts), label="cut")]
        else:  # inside line i, at a field boundary
            cuts = [m for m in range(1, len(line)) if line[m] == delim] if delim else []
            keep = line[:data.draw(st.sampled_from(cuts), label="cut")] if cuts else None
            lines = lines[:i] + ([keep] if keep else [])
    elif kind == "other_delimiter" and delim:
        lines[i] = line.replace(delim, "," if delim == ";" else ";")
    elif kind in ("drop_field", "extra_field") and path.suffix == ".txt":
        return  # an IEMOCAP category list with one category more or less is a valid line
    elif kind in ("drop_field", "extra_field", "bad_number") and delim:
        fields = line.split(delim)
        numeric = [j for j, f in enumerate(fields) if _is_number(f)]
        if kind == "bad_number" and not numeric:
            return
        j = data.draw(st.sampled_from(numeric) if kind == "bad_number"
                      else st.integers(0, len(fields) - 1), label="field")
        if kind == "drop_field":
            del fields[j]
        elif kind == "extra_field":
            fields.insert(j, "0.5")
        else:
            bad = BAD_NUMBERS
            if "ratings_individual" in path.parts:  # SEWA: '' and 'nan' are its missing rating
                bad = tuple(b for b in bad if b not in ("", "nan"))
            fields[j] = data.draw(st.sampled_from(bad), label="value")
        lines[i] = delim.join(fields)
    elif kind == "bad_number":  # a line without delimiters (IEMOCAP): a number in it
        import re
        nums = list(re.finditer(r"\d+(\.\d+)?", line))
        if nums:
            m = nums[data.draw(st.integers(0, len(nums) - 1), label="number")]
            value = data.draw(st.sampled_from(BAD_NUMBERS), label="value")
            lines[i] = line[:m.start()] + value + line[m.end():]
    elif kind == "duplicate":
        lines.insert(i, line)
    path.write_text("\n".join(lines) + "\n")


def _is_number(text: str) -> bool:
    try:
        float(text.strip().strip('"'))
    except ValueError:
        return False
    return True


def _mutate_audio(path: Path, kind: str) -> None:
    if kind == "junk":
        path.write_bytes(b"RIFF\x10\x00\x00\x00WAVEjunk" + bytes(range(64)))
    elif kind == "no_samples":
        sf.write(path, np.zeros(0, np.float32), 1000)
    elif kind == "nan_samples":
        x, sr = sf.read(path, dtype="float32")
        x[len(x) // 2:] = np.nan
        sf.write(path, x, sr, subtype="FLOAT")
    else:
        path.write_text("version https://git-lfs.github.com/spec/v1\noid sha256:00\nsize 9\n")


def _same(a, b) -> bool:
    return a.keys() == b.keys() and all(
        a[k].shape == b[k].shape and np.array_equal(a[k], b[k], equal_nan=a[k].dtype.kind == "f")
        for k in a)


@settings(max_examples=FUZZ_EXAMPLES, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture,
                                 HealthCheck.data_too_large])
@given(data=st.data())
@pytest.mark.parametrize("corpus", sorted(WRITERS))
def test_a_mutated_corpus_is_built_with_every_change_reported_or_refused(clean, corpus,
                                                                         tmp_path_factory,
                                                                         data):
    ref = clean[corpus]
    work = tmp_path_factory.mktemp(corpus)
    manual = work / "manual"
    shutil.copytree(ref["manual"], manual)
    audio = data.draw(st.booleans(), label="audio file?") and ref["audio"]
    pool = ref["audio"] if audio else ref["labels"]
    target = manual / data.draw(st.sampled_from(pool), label="file").relative_to(ref["manual"])
    if audio:
        kind = data.draw(st.sampled_from(AUDIO_KINDS), label="kind")
        _mutate_audio(target, kind)
    else:
        kind = data.draw(st.sampled_from(TEXT_KINDS), label="kind")
        _mutate_text(target, kind, data)
    try:
        builder, sources = corpora.load(corpus, data_dir=str(work / "data"),
                                        manual_dir=str(manual))
    except CorpusBuildError as e:
        assert target.name in str(e), f"{kind} of {target}: {e}"
        return
    skipped = builder.info.metadata["skipped"]
    got = _records(sources)
    for split, items in ref["records"].items():
        for rid, rec in items.items():
            new = got.get(split, {}).get(rid)
            if new is None or not _same(new, rec):
                assert any(target.name in s for s in skipped), (
                    f"{kind} of {target.relative_to(manual)}: item {rid} "
                    f"{'missing' if new is None else 'changed'} without a report; "
                    f"skipped: {skipped}")
    for split, items in got.items():
        assert set(items) <= set(ref["records"].get(split, {})), f"{kind}: new items"
    if kind == "bom_crlf":
        assert skipped == [] and all(
            _same(got[s][r], ref["records"][s][r]) for s in got for r in got[s])
