"""A waveform file's format is detected as ObsPy detects it BEFORE ObsPy reads it (`geohub.data.limits.
check_waveform_format`): a reader that ignores `headonly` (WIN: junk of 0x01 bytes is autodetected as WIN, and its
reader keeps about 80 bytes per byte of file) is refused when the file's size times its memory factor passes
`$GEOHUB_MEMORY_BUDGET_MB`, and a pickle or a CSS wfdisc is never read. The header read, the full read
(`load_stream`), the annotate archive's indexing and a pipeline's items all go through it; real WIN files pass."""

from __future__ import annotations

import pickle
import time
import tracemalloc
from pathlib import Path

import numpy as np
import obspy
import pytest

from geohub.data import limits
from geohub.data.synthetic_seismic import synthetic_stream
from geohub.data.waveforms import load_stream
from geohub.errors import WaveformError
from geohub.inference.archive_sources import FolderSource

OBSPY_IO = Path(obspy.__file__).parent / "io"
REAL_WIN = OBSPY_IO / "win" / "tests" / "data" / "10030302.00"  # ObsPy's own WIN test record (2 channels, 1 min)
JUNK_BYTES = 4 << 20


@pytest.fixture
def budget_64(monkeypatch):
    monkeypatch.setenv("GEOHUB_MEMORY_BUDGET_MB", "64")  # WIN: 64 MiB / 80 = 838,860 bytes at most


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("formats")
    stream, _ = synthetic_stream(duration_s=30.0, seed=3)
    stream.write(str(folder / "good.mseed"), format="MSEED")
    (folder / "junk.win").write_bytes(b"\x01" * JUNK_BYTES)
    return folder


def _refused_cheaply(call, match: str) -> None:
    """`call()` raises WaveformError matching `match`, in under 2 s and with under 3 bytes traced per byte of junk at
    its peak (the format tests read a first line of text whole: twice the 4 MiB here; ObsPy's WIN reader would
    hold about 320 MiB for the junk, and take about a minute)."""
    tracemalloc.start()
    start = time.perf_counter()
    try:
        with pytest.raises(WaveformError, match=match):
            call()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert time.perf_counter() - start < 2, "the file was read"
    assert peak < 3 * JUNK_BYTES, f"{peak / 2**20:.0f} MiB traced: the file was read"


WIN_REFUSAL = (r"junk\.win: the file is detected as ObsPy format WIN, .* 4,194,304 bytes would need about 320 MiB, "
               r"over the memory budget of 64 MiB \(\$GEOHUB_MEMORY_BUDGET_MB\).*at most 838,860 bytes")  # fmt: skip


def test_junk_detected_as_win_is_refused_before_the_header_read(files, budget_64):
    assert limits.detect_waveform_format(files / "junk.win") == "WIN"  # as ObsPy's autodetection sees it
    _refused_cheaply(lambda: limits.read_waveform_header(files / "junk.win"), WIN_REFUSAL)
    _refused_cheaply(lambda: limits.check_waveform_span(files / "junk.win"), WIN_REFUSAL)


def test_junk_in_a_gzip_file_is_refused_by_its_inflated_size(files, tmp_path, budget_64):
    import gzip

    path = tmp_path / "junk.win.gz"
    path.write_bytes(gzip.compress((files / "junk.win").read_bytes()[: 2 << 20]))  # 2 MiB: under the 8 MiB cap
    match = r"junk\.win\.gz: the file is detected as ObsPy format WIN, .*2,097,152 bytes"
    _refused_cheaply(lambda: limits.read_waveform_header(path), match)
    _refused_cheaply(lambda: load_stream(path), match)


def test_the_factor_is_what_the_win_reader_really_holds(tmp_path):
    """64 KiB of the junk, under every limit, reaches ObsPy's WIN reader, which holds >= 40 bytes per byte (the
    factor of 80 is the 77x measured in RSS at 1 and 4 MiB), and fails as an unreadable file."""
    path = tmp_path / "small.win"
    path.write_bytes(b"\x01" * (64 << 10))
    tracemalloc.start()
    try:
        with pytest.raises(WaveformError, match=r"small\.win: cannot read the file's headers"):
            limits.read_waveform_header(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak > 40 * (64 << 10), f"{peak / 2**20:.1f} MiB traced"
    assert limits.WAVEFORM_MEMORY_FACTORS["WIN"] == 80


def test_the_full_read_and_the_archive_index_refuse_it_too(files, budget_64):
    _refused_cheaply(lambda: load_stream(files / "junk.win"), WIN_REFUSAL)
    source = FolderSource(files)  # annotate's index: the junk is an error of its own, the good record indexed
    assert [Path(p).name for p, _ in source.errors] == ["junk.win"]
    assert "WIN" in source.errors[0][1] and "GEOHUB_MEMORY_BUDGET_MB" in source.errors[0][1]
    assert list(source.spans) == ["GH.SYN..HH"]


@pytest.mark.skipif(not REAL_WIN.is_file(), reason="ObsPy installed without its WIN test data")
def test_a_real_win_file_is_read(budget_64):
    expected = obspy.read(str(REAL_WIN))
    assert limits.detect_waveform_format(REAL_WIN) == "WIN"
    headers = limits.read_waveform_header(REAL_WIN)
    assert [(t.id, t.stats.npts) for t in headers] == [(t.id, t.stats.npts) for t in expected]
    assert [t.id for t in load_stream(REAL_WIN)] == [t.id for t in expected]


def test_a_pickle_is_never_loaded(tmp_path):
    """ObsPy's autodetection unpickles a file whose first 100 bytes name obspy.core.stream: code in it runs."""
    marker = tmp_path / "code_ran"

    class Payload:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    path = tmp_path / "record.pickle"
    path.write_bytes(pickle.dumps(("obspy.core.stream", Payload()), protocol=2))
    with pytest.raises(Exception):  # noqa: B017 - ObsPy unpickles it twice (test, then read), then fails on it
        obspy.read(str(path))
    assert marker.exists(), "ObsPy's own read no longer runs the pickle: this test needs another payload"
    marker.unlink()
    for call in (limits.read_waveform_header, load_stream, limits.check_waveform_read):
        with pytest.raises(WaveformError, match=r"record\.pickle: the file is ObsPy format PICKLE, .*runs .*code"):
            call(path)
    assert not marker.exists()


def test_a_css_wfdisc_is_refused(tmp_path):
    """A wfdisc names data files anywhere on the machine (here /etc/hostname-like paths would do)."""
    wfdisc = OBSPY_IO / "css" / "tests" / "data" / "test_nnsa.wfdisc"
    if not wfdisc.is_file():
        pytest.skip("ObsPy installed without its CSS test data")
    with pytest.raises(WaveformError, match=r"test_nnsa\.wfdisc: the file is ObsPy format NNSA_KB_CORE"):
        limits.read_waveform_header(wfdisc)


def test_pipeline_return_mode_reports_the_junk_and_computes_the_good_record(picker, files, budget_64):
    good, junk = str(files / "good.mseed"), str(files / "junk.win")
    tracemalloc.start()
    start = time.perf_counter()
    try:
        results = picker([good, junk], errors="return")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert time.perf_counter() - start < 30 and peak < 64 << 20, f"{peak / 2**20:.0f} MiB traced"
    assert results[0] == picker(good)
    assert results[1]["index"] == 1 and results[1]["error_type"] == "WaveformError"
    assert "junk.win" in results[1]["error"] and "ObsPy format WIN" in results[1]["error"]
    with pytest.raises(
        WaveformError, match=r"junk\.win field 'inputs\[1\]': the file is detected as ObsPy format WIN"
    ):
        picker([good, junk])


def test_a_first_line_over_a_quarter_of_the_budget_is_refused_before_the_format_tests(tmp_path, monkeypatch):
    """ObsPy's text-format tests (SACXY, GSE1, SLIST, TSPAIR, CSS, PDAS) read the first line whole: a 3 MiB line
    with a budget of 8 MiB (2 MiB a quarter) is refused unread; a 4 MiB binary SAC record (line breaks among its
    bytes) is still read."""
    monkeypatch.setenv("GEOHUB_MEMORY_BUDGET_MB", "8")
    line = tmp_path / "one_line.txt"
    line.write_bytes(b"a" * (3 << 20))
    _refused_cheaply(lambda: limits.read_waveform_header(line), r"one_line\.txt: the file has no line break in its "
                     r"first 2,097,152 bytes.*GEOHUB_MEMORY_BUDGET_MB")  # fmt: skip
    trace = obspy.Trace(np.random.default_rng(0).standard_normal(1 << 20).astype(np.float32))
    trace.stats.sampling_rate = 100.0
    sac = tmp_path / "long.sac"
    trace.write(str(sac), format="SAC")
    assert sac.stat().st_size > 4 << 20
    assert [t.stats.npts for t in limits.read_waveform_header(sac)] == [1 << 20]
