"""The hostile-input corpus through geohub's readers (the same files the demo tests upload), each refused with its
specific clear error, from headers, before the expensive step; plus the checks of `geohub.data.limits` alone."""

from __future__ import annotations

import re
import resource

import numpy as np
import pytest

from geohub.data import limits
from geohub.data.dem import read_dem
from geohub.errors import ConfigError, CorpusError, DataError, RasterError, WaveformError
from tests.bad_inputs.corpus import CASES, PENDING

READER_CASES = [name for name in CASES if name not in ("text_not_utf8", "miniseed_gzip_bomb", "dem_huge_spacing")]


def _read(case):
    if case.reader == "dem":
        return read_dem(case.path, **case.reader_kwargs)
    if case.reader == "waveform":
        from geohub.data.waveforms import read_waveforms

        return read_waveforms(case.path, **case.reader_kwargs)
    text = case.args[0] if case.path is None else case.path.read_text(encoding="utf-8")
    return limits.check_text(text, **({"max_characters": 20_000} | case.reader_kwargs))


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@pytest.mark.parametrize("name", READER_CASES)
def test_the_reader_refuses_the_hostile_input_with_its_clear_error(bad_inputs, name):
    if name in PENDING:
        pytest.xfail(PENDING[name])
    case = bad_inputs[name]
    assert case.reader, f"{name} has no library reader"
    before = _peak_rss_mb()
    with pytest.raises(DataError) as info:
        _read(case)
    assert re.search(case.reader_error or case.error, str(info.value)), str(info.value)
    assert _peak_rss_mb() - before < 200, "the check ran after an expensive step"


def test_every_case_has_a_reader_or_an_endpoint(bad_inputs):
    for name, case in bad_inputs.items():
        assert case.reader or case.endpoint, name
        assert case.path is None or case.path.stat().st_size < 1_000_000, f"{name} is not a small file"


def test_a_valid_dem_and_a_gap_free_record_still_read(tmp_path):
    from geohub.data.synthetic_seismic import synthetic_stream
    from geohub.data.waveforms import read_waveforms

    path = tmp_path / "ok.npy"
    np.save(path, np.linspace(-400, 8800, 64 * 64, dtype=np.float32).reshape(64, 64))
    assert read_dem(path, spacing_m=30.0).elevation.shape == (64, 64)
    array = np.full((64, 64), 120.0, dtype=np.float32)
    array[0, :] = -32768.0  # a nodata marker, declared: masked, not "absurd"
    np.save(path, array)
    assert np.isnan(read_dem(path, spacing_m=30.0, nodata=-32768).elevation[0]).all()
    stream, _ = synthetic_stream(duration_s=30.0, seed=3)
    assert read_waveforms(stream)[0].num_samples > 0
    assert read_dem("jacksboro").elevation.shape == (344, 403)


def test_check_count_refuses_fractions_booleans_and_out_of_range():
    assert limits.check_count(3, "num_samples") == 3
    assert limits.check_count(2.0, "num_samples") == 2
    assert limits.check_count(np.int64(4), "num_samples") == 4
    for bad, message in ((2.7, "2.7 is not a whole number"), (0, "0 is out of range"), (True, "True is not a whole"),
                         (float("nan"), "nan is not a whole"), ("3", "'3' is not a whole"), (-1, "-1 is out of range")):  # fmt: skip
        with pytest.raises(ConfigError, match=f"field 'num_samples': {message}"):
            limits.check_count(bad, "num_samples")
    with pytest.raises(RasterError, match=r"field 'size': 5 is out of range \(expected a whole number >= 1 and <= 4"):
        limits.check_count(5, "size", 1, 4, error=RasterError)


def test_check_seed_and_top_k():
    assert limits.check_seed(None) is None and limits.check_seed(7.0) == 7
    with pytest.raises(ConfigError, match=r"field 'seed': 2.7 is not a whole number"):
        limits.check_seed(2.7)
    with pytest.raises(ConfigError, match=r"field 'seed': -1 is out of range"):
        limits.check_seed(-1)
    assert limits.check_top_k(None, 4) is None and limits.check_top_k(9, 4) == 4
    with pytest.raises(ConfigError, match=r"field 'top_k': -1 is out of range"):
        limits.check_top_k(-1, 4)


def test_check_positive_and_check_finite_array():
    assert limits.check_positive(0.5, "sampling_rate") == 0.5
    for bad in (0, -3.0, float("inf"), float("nan"), None, "10"):
        with pytest.raises(DataError, match="field 'sampling_rate'"):
            limits.check_positive(bad, "sampling_rate")
    grid = np.zeros((4, 4), dtype=np.float32)
    grid[1, 2] = np.nan
    limits.check_finite_array(grid, "elevation", 1e5, allow_nan=True)
    with pytest.raises(DataError, match=r"field 'elevation': 1 non-finite value\(s\) \(nan at index \(1, 2\)\)"):
        limits.check_finite_array(grid, "elevation")
    grid[1, 2] = -2e5
    with pytest.raises(DataError, match=r"absurd value -200000 at index \(1, 2\)"):
        limits.check_finite_array(grid, "elevation", 1e5)


def test_resampled_shape_matches_the_processor_and_the_check_runs_before_resampling():
    from geohub.data.dem import DEM
    from geohub.models.terrain_gan import TerrainProcessor

    processor = TerrainProcessor(normalization="patch", spacing_m=50.0, patch_size=32)
    for shape, spacing in (((40, 52), (30.0, 30.0)), ((33, 17), (90.0, 45.0)), ((64, 64), (12.5, 12.5))):
        dem = DEM(np.zeros(shape, dtype=np.float32), spacing)
        square = dem.square_cells()
        expected = processor.resample(square.elevation, square.spacing_m[0]).shape
        assert limits.resampled_shape(shape, spacing, 50.0) == expected
    before = _peak_rss_mb()
    with pytest.raises(RasterError, match=r"15360 x 15360 = 235,929,600 cells at the model's 50 m"):
        limits.check_resampled_cells((64, 64), 12000.0, 50.0, 1_048_576)
    assert _peak_rss_mb() - before < 50


def test_check_decompressed_size_stops_early(tmp_path):
    import bz2
    import gzip
    import lzma

    for opener, suffix in ((gzip.open, "gz"), (bz2.open, "bz2"), (lzma.open, "xz")):
        path = tmp_path / f"zeros.{suffix}"
        with opener(path, "wb") as handle:
            handle.write(bytes(8 << 20))
        assert limits.check_decompressed_size(path, 16 << 20) == 8 << 20
        with pytest.raises(DataError, match=rf"zeros\.{suffix}: the \w+ file inflates to more than 1,048,576 bytes"):
            limits.check_decompressed_size(path, 1 << 20)
    plain = tmp_path / "plain.bin"
    plain.write_bytes(b"abc")
    assert limits.check_decompressed_size(plain, 1) == 3  # not compressed: its own size (the upload limit applies)
    broken = tmp_path / "broken.gz"
    broken.write_bytes(gzip.compress(b"x" * 1000)[:20])
    with pytest.raises(DataError, match=r"broken\.gz: corrupt gzip file"):
        limits.check_decompressed_size(broken, 1 << 20)


def test_check_waveform_span_counts_gaps_from_headers(bad_inputs):
    path = bad_inputs["miniseed_gap_30_days"].path
    spans = limits.check_waveform_span(path)
    assert set(spans) == {f"XX.GAP..HH{c}" for c in "ZNE"}
    assert spans["XX.GAP..HHZ"] == pytest.approx(30 * 86400 + 20)
    with pytest.raises(
        WaveformError, match=r"has 2592020 s of data, over the limit of 600 s \(2592000 s of it in gaps"
    ):
        limits.check_waveform_span(path, 600)
    with pytest.raises(WaveformError, match=r"filling the gaps would add 259,200,000 samples"):
        limits.check_waveform_span(path, max_fill_samples=limits.MAX_GAP_FILL_SAMPLES)
    with pytest.raises(WaveformError, match=r"the record has 1 stations, over the limit of 0"):
        limits.check_waveform_span(path, max_stations=0)


def test_check_text():
    assert limits.check_text("Basalt, 3 km thick.", 100) == "Basalt, 3 km thick."
    with pytest.raises(CorpusError, match=r"the text has 101 characters, over the limit of 100"):
        limits.check_text("a" * 101, 100)
    with pytest.raises(CorpusError, match="field 'text': got bytes"):
        limits.check_text(b"basalt", 100)
