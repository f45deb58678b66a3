"""Label files with a UTF-8 byte-order mark, CRLF line endings, a trailing delimiter and
trailing whitespace on every line read the same as clean ones, in every reader.

Each reader's fixture corpus is built twice: as written, and with every label file
(``*.csv``, ``*.txt``, ``*.arff``) rewritten that way (CSV lines get their own delimiter
appended; text and ARFF lines only the whitespace)."""

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))
import fixtures  # noqa: E402

from seru.data import corpora, schema  # noqa: E402

WRITERS = {"avec2016": fixtures.write_avec2016, "iemocap": fixtures.write_iemocap,
           "crema_d": fixtures.write_crema_d, "sewa": fixtures.write_sewa,
           "msp_podcast": fixtures.write_msp_podcast}


def _messy(root: Path):
    for f in root.rglob("*"):
        if not f.is_file() or f.suffix not in (".csv", ".txt", ".arff"):
            continue
        lines = f.read_text(encoding="utf-8").splitlines()
        if f.suffix == ".csv" and lines:
            delim = ";" if ";" in lines[0] else ","
            lines = [f"{x}{delim} \t" if x.strip() else x for x in lines]
        else:
            lines = [f"{x}  \t" if x.strip() else x for x in lines]
        f.write_bytes(b"\xef\xbb\xbf" + "\r\n".join(lines).encode("utf-8") + b"\r\n")


def _records(sources):
    return {split: {schema.decode_text(src[i]["id"]): src[i] for i in range(len(src))}
            for split, src in sources.items()}


@pytest.mark.parametrize("corpus", sorted(WRITERS))
def test_bom_crlf_trailing_delimiters_and_whitespace_read_as_clean(corpus, tmp_path):
    WRITERS[corpus](tmp_path / "clean")
    WRITERS[corpus](tmp_path / "messy")
    _messy(tmp_path / "messy")
    b1, s1 = corpora.load(corpus, data_dir=str(tmp_path / "d1"), manual_dir=str(tmp_path / "clean"))
    b2, s2 = corpora.load(corpus, data_dir=str(tmp_path / "d2"), manual_dir=str(tmp_path / "messy"))
    assert b2.info.metadata["skipped"] == b1.info.metadata["skipped"] == []
    r1, r2 = _records(s1), _records(s2)
    assert {k: sorted(v) for k, v in r1.items()} == {k: sorted(v) for k, v in r2.items()}
    for split in r1:
        for rid, rec in r1[split].items():
            for key, value in rec.items():
                np.testing.assert_array_equal(r2[split][rid][key], value, err_msg=f"{rid} {key}")
