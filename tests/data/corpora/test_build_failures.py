"""A build that cannot finish stops with a seru error that keeps the skip list.

A CREMA-D copy cloned without ``git lfs pull``: every ``AudioWAV/*.wav`` is a three-line Git
LFS pointer. Each is skipped with the reason (a pointer, run ``git lfs pull``); the first
split has no item, so TFDS cannot write it: the build stops with :class:`CorpusBuildError` quoting
the first reasons and the file that holds every one of them, and leaves no corpus that a
later run would take as built."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
import fixtures  # noqa: E402

from seru.data import corpora  # noqa: E402
from seru.data.errors import CorpusBuildError  # noqa: E402

POINTER = ("version https://git-lfs.github.com/spec/v1\n"
           "oid sha256:4d7a214614ab2935c943f9e0ff69d22eadbb8f32b1258daaa5e2ca24d17e2393\n"
           "size 74812\n")


def test_a_corpus_of_lfs_pointers_stops_with_the_skip_list(tmp_path):
    fixtures.write_crema_d(tmp_path / "manual")
    wavs = sorted((tmp_path / "manual" / "AudioWAV").glob("*.wav"))
    for w in wavs:
        w.write_text(POINTER)
    with pytest.raises(CorpusBuildError) as e:
        corpora.load("crema_d", data_dir=str(tmp_path / "data"),
                     manual_dir=str(tmp_path / "manual"))
    msg = str(e.value)
    assert msg.startswith("corpus 'crema_d': the build stopped (")
    # The build stops at its first split (train: 8 of the 10 clips), every clip it tried listed.
    listed = (tmp_path / "data" / "crema_d-build-failed-skipped.txt").read_text().splitlines()
    assert 0 < len(listed) <= len(wavs)
    assert all("a Git LFS pointer, not audio" in s and "git lfs pull" in s for s in listed)
    assert f"{len(listed)} items were skipped, the first:\n  {listed[0]}" in msg
    assert f"all of them: {tmp_path / 'data' / 'crema_d-build-failed-skipped.txt'}" in msg
    builder = corpora.get_builder("crema_d", data_dir=str(tmp_path / "data"))
    assert not builder.is_prepared()
