"""Session fixtures of tests/data: the ``tiny`` variants of the synthetic corpora, built once."""

import pytest


@pytest.fixture(scope="session")
def synth_data_dir(tmp_path_factory):
    """A TFDS data dir with ``seru_synth_continuous/tiny`` and ``seru_synth_utterances/tiny`` built."""
    from seru.data import corpora

    path = str(tmp_path_factory.mktemp("seru_synth"))
    for name in ("seru_synth_continuous", "seru_synth_utterances"):
        corpora.load(name, "tiny", path)
    return path


@pytest.fixture(scope="session")
def synth_continuous(synth_data_dir):
    """``(builder, {split: data_source})`` of ``seru_synth_continuous/tiny``."""
    from seru.data import corpora

    return corpora.load("seru_synth_continuous", "tiny", synth_data_dir, build=False)


@pytest.fixture(scope="session")
def synth_utterances(synth_data_dir):
    """``(builder, {split: data_source})`` of ``seru_synth_utterances/tiny``."""
    from seru.data import corpora

    return corpora.load("seru_synth_utterances", "tiny", synth_data_dir, build=False)
