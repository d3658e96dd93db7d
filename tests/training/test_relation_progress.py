"""The relation classifier's encoder pre-pass draws a progress line where the quickstart wants one."""

from __future__ import annotations

import io

from geohub.training.relations import _pre_pass
from geohub.utils import progress_output


def test_pre_pass_draws_a_bar_on_the_progress_stream_and_nothing_otherwise():
    documents = [{"pairs": [(0, 1)]}, {"pairs": []}, {"pairs": [(1, 0)]}]
    assert list(_pre_pass(documents)) == list(enumerate(documents))  # no progress stream: plain enumerate

    stream = io.StringIO()
    token = progress_output.set((stream, "relation_classification"))
    try:
        assert [number for number, _ in _pre_pass(documents)] == [0, 1, 2]
    finally:
        progress_output.reset(token)
    assert "relation_classification: encoder pre-pass" in stream.getvalue()
    assert "/3 " in stream.getvalue()  # the bar counts the documents
