"""`geohub.data.limits.read_waveform_header`, the one header read of a waveform file (the pipelines' check of file
items and `check_waveform_span`): headers only, truncated or corrupt files refused naming the file, and compressed
files read as ObsPy's loaders read them (`.gz` and `.bz2` by name, zip and tar by content), inflated with a bounded
size before any header is read, so that a decompression bomb is refused instead of filling memory."""

from __future__ import annotations

import bz2
import gzip
import lzma
import resource
import tarfile
import time
import zipfile

import obspy
import pytest

from geohub.data import limits
from geohub.data.synthetic_seismic import synthetic_stream
from geohub.errors import WaveformError


@pytest.fixture(scope="module")
def good(tmp_path_factory):
    folder = tmp_path_factory.mktemp("headers")
    stream, _ = synthetic_stream(duration_s=30.0, seed=3)
    path = folder / "good.mseed"
    stream.write(str(path), format="MSEED")
    return path


def _ids(stream) -> list[tuple[str, int]]:
    return sorted((trace.id, int(trace.stats.npts)) for trace in stream)


def _write(path, kind: str, data: bytes, member: str = "record.mseed", repeat: int = 1):
    """`data` repeated `repeat` times, compressed into `path` (gz, bz2, zip or tar.gz) without holding it all."""
    if kind in ("gz", "bz2"):
        with (gzip.open if kind == "gz" else bz2.open)(path, "wb") as handle:
            for _ in range(repeat):
                handle.write(data)
    elif kind == "zip":
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive, archive.open(member, "w") as handle:
            for _ in range(repeat):
                handle.write(data)
    else:  # a tar archive, gzip-compressed
        raw = path.with_name(path.name + ".member")
        with raw.open("wb") as handle:
            for _ in range(repeat):
                handle.write(data)
        with tarfile.open(path, "w:gz") as archive:
            archive.add(raw, arcname=member)
        raw.unlink()
    return path


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def test_one_header_reader_reads_headers_only(good):
    stream = limits.read_waveform_header(good)
    assert _ids(stream) == [(f"GH.SYN..HH{c}", 3000) for c in "ENZ"]
    assert all(trace.data.size == 0 for trace in stream), "samples were decoded"


def test_span_check_of_a_path_refuses_a_truncated_file(good, tmp_path):
    """`check_waveform_span(path)` (the demo's check) reads headers with the same reader, truncation check included."""
    data = good.read_bytes()
    truncated = tmp_path / "cut.mseed"
    truncated.write_bytes(data[: len(data) - 4096 + 300])  # a last record of 300 bytes
    with pytest.raises(WaveformError, match=r"cut\.mseed: file is truncated or corrupt"):
        limits.check_waveform_span(truncated)
    with pytest.raises(WaveformError, match=r"cut\.mseed field 'inputs\[2\]': file is truncated or corrupt"):
        limits.read_waveform_header(truncated, field="inputs[2]")


@pytest.mark.parametrize("kind, name", [("gz", "x.mseed.gz"), ("bz2", "x.mseed.bz2"), ("zip", "x.zip"),
                                        ("tar", "x.tar.gz")])  # fmt: skip
def test_compressed_files_the_loaders_accept_get_their_headers_read(good, tmp_path, kind, name):
    path = _write(tmp_path / name, kind, good.read_bytes())
    expected = _ids(obspy.read(str(good), headonly=True))
    assert _ids(obspy.read(str(path))) == expected  # ObsPy's own full read accepts the file
    stream = limits.read_waveform_header(path)
    assert _ids(stream) == expected and all(trace.data.size == 0 for trace in stream)
    assert limits.check_waveform_span(path) == pytest.approx({tid: 30.0 for tid, _ in expected})


@pytest.mark.parametrize("kind, name", [("gz", "x.mseed.gz"), ("bz2", "x.mseed.bz2"), ("zip", "x.zip"),
                                        ("tar", "x.tar.gz")])  # fmt: skip
def test_a_truncated_record_inside_a_compressed_file_is_found(good, tmp_path, kind, name):
    data = good.read_bytes()
    path = _write(tmp_path / name, kind, data[: len(data) - 4096 + 300])
    with pytest.raises(WaveformError, match=rf"{name.replace('.', r'[.]')}.*truncated or corrupt"):
        limits.read_waveform_header(path)


def test_a_corrupt_or_cut_compressed_stream_is_named(good, tmp_path):
    cut = tmp_path / "cut.mseed.gz"
    cut.write_bytes(gzip.compress(good.read_bytes())[:2000])
    with pytest.raises(WaveformError, match=r"cut\.mseed\.gz: corrupt gzip file"):
        limits.read_waveform_header(cut)
    garbage = tmp_path / "garbage.mseed.bz2"
    garbage.write_bytes(b"BZh9" + bytes(range(256)) * 4)
    with pytest.raises(WaveformError, match=r"garbage\.mseed\.bz2: corrupt bzip2 file"):
        limits.read_waveform_header(garbage)


@pytest.mark.parametrize("kind, name", [("gz", "bomb.mseed.gz"), ("bz2", "bomb.mseed.bz2"), ("zip", "bomb.zip"),
                                        ("tar", "bomb.tar.gz")])  # fmt: skip
def test_a_decompression_bomb_is_refused_within_the_cap(tmp_path, monkeypatch, kind, name):
    monkeypatch.setenv("GEOHUB_MEMORY_BUDGET_MB", "8")  # cap: an eighth of the budget, 1 MiB
    assert limits.max_decompressed_waveform_bytes() == 1 << 20
    # 64 MiB in a file of about 64 KiB (not zeros: a gzip of zeros reads as an empty tar archive to ObsPy, which
    # then never inflates it)
    path = _write(tmp_path / name, kind, b"\x01" * (1 << 20), repeat=64)
    assert path.stat().st_size < 1 << 20
    before, start = _peak_rss_mb(), time.perf_counter()
    with pytest.raises(WaveformError, match=rf"{name.replace('.', r'[.]')}: .*inflates to more than 1,048,576 bytes.*"
                                            r"GEOHUB_MEMORY_BUDGET_MB"):  # fmt: skip
        limits.read_waveform_header(path)
    assert time.perf_counter() - start < 5 and _peak_rss_mb() - before < 32, "the bomb was inflated"


def test_a_format_the_loaders_do_not_inflate_is_refused_like_the_loader_refuses_it(good, tmp_path):
    """ObsPy inflates gzip and bzip2 files by their name only, and never xz: such a file is not a waveform to the
    full read, so its header read refuses it too, naming it (and does not inflate it)."""
    xz, named = lzma.compress(good.read_bytes()), gzip.compress(b"1" * 999)
    for name, data in (("x.mseed.xz", xz), ("gz_named.mseed", named)):
        path = tmp_path / name
        path.write_bytes(data)
        with pytest.raises(TypeError, match="Unknown format"):
            obspy.read(str(path))
        with pytest.raises(WaveformError, match=rf"{name.replace('.', r'[.]')}: cannot read the file's headers"):
            limits.read_waveform_header(path)


def test_an_empty_file_and_an_archive_without_a_record(tmp_path):
    empty = tmp_path / "empty.mseed"
    empty.write_bytes(b"")
    with pytest.raises(WaveformError, match=r"empty\.mseed: waveform file is empty"):
        limits.read_waveform_header(empty)
    blank = _write(tmp_path / "blank.zip", "zip", b"")
    with pytest.raises(WaveformError, match=r"blank\.zip: .*(empty|no traces|cannot read)"):
        limits.read_waveform_header(blank)


def test_every_member_of_an_archive_is_read(good, tmp_path):
    other, _ = synthetic_stream(duration_s=20.0, seed=5, station="OTH")
    second = tmp_path / "other.mseed"
    other.write(str(second), format="MSEED")
    path = tmp_path / "two.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.write(good, "a.mseed")
        archive.write(second, "b.mseed")
    expected = _ids(obspy.read(str(path)))
    assert {tid.split(".")[1] for tid, _ in expected} == {"SYN", "OTH"}
    assert _ids(limits.read_waveform_header(path)) == expected
