"""Hidden and foreign files beside a corpus (macOS AppleDouble ``._*`` companions,
``.DS_Store``, editor backups) are not items: every reader's file discovery ignores them.

Each reader's fixture corpus is built twice, once as written and once with a ``._<name>``
companion (binary junk, as macOS writes them) beside every file, a ``.DS_Store`` and a
``<name>~`` backup in every directory: the same items, nothing skipped."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
import fixtures  # noqa: E402

from seru.data import corpora, schema  # noqa: E402
from seru.data.corpora import _manual  # noqa: E402

WRITERS = {"avec2016": fixtures.write_avec2016, "iemocap": fixtures.write_iemocap,
           "crema_d": fixtures.write_crema_d, "sewa": fixtures.write_sewa,
           "msp_podcast": fixtures.write_msp_podcast}
JUNK = b"\x00\x05\x16\x07\x00\x02\x00\x00Mac OS X        \x00\x02\x00\x00\x00\t\x00\x00\x002"


def _litter(root: Path):
    for f in [p for p in root.rglob("*") if p.is_file()]:
        (f.parent / f"._{f.name}").write_bytes(JUNK)
        (f.parent / f"{f.name}~").write_bytes(f.read_bytes())
    for d in [root, *[p for p in root.rglob("*") if p.is_dir()]]:
        (d / ".DS_Store").write_bytes(JUNK)


def _ids(sources):
    return {split: sorted(schema.decode_text(src[i]["id"]) for i in range(len(src)))
            for split, src in sources.items()}


@pytest.mark.parametrize("corpus", sorted(WRITERS))
def test_hidden_and_backup_files_are_not_items(corpus, tmp_path):
    clean, littered = tmp_path / "clean", tmp_path / "littered"
    WRITERS[corpus](clean)
    WRITERS[corpus](littered)
    _litter(littered)
    b1, s1 = corpora.load(corpus, data_dir=str(tmp_path / "d1"), manual_dir=str(clean))
    b2, s2 = corpora.load(corpus, data_dir=str(tmp_path / "d2"), manual_dir=str(littered))
    assert _ids(s2) == _ids(s1) and sum(map(len, _ids(s1).values())) > 0
    assert b2.info.metadata["skipped"] == b1.info.metadata["skipped"] == []


def test_discover(tmp_path):
    for name in ("a.wav", "b.wav", "._a.wav", ".DS_Store", "a.wav~", "#a.wav#", "c.txt"):
        (tmp_path / name).write_bytes(b"x")
    (tmp_path / "d.wav").mkdir()
    assert [p.name for p in _manual.discover(tmp_path, "*.wav")] == ["a.wav", "b.wav"]
