"""The hostile-input corpus (tests/bad_inputs/corpus.py), generated once per session into a temporary folder."""

from __future__ import annotations

import pytest

from tests.bad_inputs.corpus import shared_corpus


@pytest.fixture(scope="session")
def bad_inputs(tmp_path_factory):
    """{case name: BadInput} with every file written (about 1.5 MB in all, a few seconds)."""
    return shared_corpus(tmp_path_factory)
