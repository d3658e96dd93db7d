"""Lists with bad items through the waveform, landform and text pipelines (`geohub.pipelines.items`, issue #21 case 9).

errors="raise" (default): every item is checked before any work, file headers included, so a corrupt or truncated
file fails before a good item is computed. errors="return": each bad item's result is its error (index, input,
message, type) in its place, the good items their usual results, an item that fails only when its data is read too.
"""

from __future__ import annotations

import gzip
import os

import numpy as np
import obspy
import pytest
import torch
from transformers import BertConfig, BertForTokenClassification, BertTokenizerFast, pipeline

import geohub  # noqa: F401  (registers the pipelines)
from geohub.data.synthetic_seismic import synthetic_stream
from geohub.errors import ConfigError, CorpusError, RasterError, WaveformError

ERROR_KEYS = {"index", "input", "error", "error_type"}


# --- waveform ------------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def records(tmp_path_factory):
    """Good miniSEED and SAC records, and files that are bad in different ways."""
    folder = tmp_path_factory.mktemp("records")
    stream, _ = synthetic_stream(duration_s=30.0, seed=3)
    stream.write(str(folder / "good.mseed"), format="MSEED")
    stream[0].write(str(folder / "good.sac"), format="SAC")
    data = (folder / "good.mseed").read_bytes()
    (folder / "truncated.mseed").write_bytes(data[: len(data) - 4096 + 300])  # a last record of 300 bytes
    sac = (folder / "good.sac").read_bytes()
    (folder / "truncated.sac").write_bytes(sac[: len(sac) // 2])
    (folder / "random.mseed").write_bytes(np.random.default_rng(0).bytes(4096))
    (folder / "empty.mseed").write_bytes(b"")
    # headers fine, data not: a 30-day gap whose filling is over the limit (found only when the record is read)
    gapped = stream.select(component="Z").copy()
    late = gapped[0].copy()
    late.stats.starttime += 30 * 86400
    (gapped + late).write(str(folder / "gap.mseed"), format="MSEED")
    with gzip.open(folder / "gzipped_truncated.mseed", "wb") as handle:  # gzip not named .gz: ObsPy cannot read it
        handle.write(data[: len(data) - 4096 + 300])
    (folder / "truncated.mseed.gz").write_bytes(gzip.compress(data[: len(data) - 4096 + 300]))
    (folder / "good.mseed.gz").write_bytes(gzip.compress(data))
    (folder / "bomb.mseed.gz").write_bytes(gzip.compress(b"\x01" * (64 << 20)))  # 64 MiB in about 64 KiB
    return folder


def _same(a, b) -> bool:
    """Equal results, floats within 1e-5 (batching windows of several records changes float sums slightly)."""
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, float) and isinstance(b, float):
        return a == pytest.approx(b, rel=1e-5, abs=1e-6)
    return a == b


def _count_forward(monkeypatch, pipe) -> list:
    calls = []
    original = type(pipe)._forward
    monkeypatch.setattr(type(pipe), "_forward", lambda self, *a, **k: calls.append(1) or original(self, *a, **k))
    return calls


@pytest.mark.parametrize(
    "bad, message",
    [("truncated.mseed", "truncated or corrupt"), ("truncated.sac", "cannot read the file's headers"),
     ("random.mseed", "cannot read the file's headers"), ("empty.mseed", "file is empty"),
     ("missing.mseed", "not found")],
)  # fmt: skip
def test_raise_mode_reads_file_headers_before_any_work(picker, records, bad, message, monkeypatch):
    calls = _count_forward(monkeypatch, picker)
    with pytest.raises(WaveformError, match=rf"{bad}.*inputs\[1\].*{message}") as err:
        picker([str(records / "good.mseed"), str(records / bad), str(records / "good.sac")])
    assert not calls, "a good item was computed before the bad one was found"
    assert "\n" not in str(err.value).strip() or "Traceback" not in str(err.value)


def test_raise_mode_reads_compressed_files_headers_before_any_work(picker, records, monkeypatch):
    """A compressed file is inflated (within a cap) and its headers read up front like a plain file's; a bomb is
    refused before it is inflated past the cap (1 MiB at an 8 MiB memory budget)."""
    calls = _count_forward(monkeypatch, picker)
    monkeypatch.setenv("GEOHUB_MEMORY_BUDGET_MB", "8")
    for bad, message in (("truncated.mseed.gz", "truncated or corrupt"),
                         ("bomb.mseed.gz", "inflates to more than 1,048,576 bytes"),
                         ("gzipped_truncated.mseed", "cannot read the file's headers")):  # fmt: skip
        with pytest.raises(WaveformError, match=rf"{bad}.*inputs\[1\].*{message}"):
            picker([str(records / "good.mseed"), str(records / bad), str(records / "good.sac")])
    assert not calls, "a good item was computed before the bad one was found"
    assert _same(picker(str(records / "good.mseed.gz")), picker(str(records / "good.mseed")))


def test_return_mode_gives_each_bad_item_its_error_in_place(picker, records):
    good = [str(records / "good.mseed"), str(records / "good.sac")]
    alone = [picker(path) for path in good]
    inputs = [good[0], str(records / "truncated.mseed"), None, str(records / "gap.mseed"), good[1],
              str(records / "gzipped_truncated.mseed")]  # fmt: skip
    for batch_size in (1, 4, 64):  # windows of several records in one batch, or not
        results = picker(inputs, errors="return", batch_size=batch_size)
        assert len(results) == len(inputs)
        assert _same(results[0], alone[0]) and _same(results[4], alone[1])
        for index, pattern in ((1, "truncated or corrupt"), (2, "NoneType.*not a waveform input"),
                               (3, "gap"), (5, "truncated|corrupt|cannot read")):  # fmt: skip
            assert set(results[index]) == ERROR_KEYS and results[index]["index"] == index, results[index]
            assert results[index]["error_type"] == "WaveformError"
            import re

            assert re.search(pattern, results[index]["error"]), results[index]["error"]
        assert results[1]["input"] == str(records / "truncated.mseed") and results[2]["input"] == "NoneType"


def test_raise_mode_still_fails_on_an_item_found_bad_only_when_read(picker, records):
    # the gap is found only when the data is read: raise mode fails then (documented), return mode answers
    with pytest.raises(WaveformError, match="gap"):
        picker([str(records / "good.mseed"), str(records / "gap.mseed")])


def test_return_mode_for_one_input_and_other_waveform_pipelines(picker_dir, records):
    from geohub.models.seismic_magnitude import SeismicMagnitudeConfig, SeismicMagnitudeForRegression

    picker = pipeline("seismic-phase-picking", model=str(picker_dir))
    one = picker(str(records / "random.mseed"), errors="return")
    assert set(one) == ERROR_KEYS and one["index"] is None
    stream = obspy.read(str(records / "good.mseed"))
    assert picker(stream, errors="return") == picker(stream)
    with pytest.raises(ConfigError, match="errors"):
        picker(stream, errors="ignore")
    # the magnitude pipeline shares the waveform base
    folder = picker_dir.parent / "magnitude"
    if not folder.exists():
        torch.manual_seed(0)
        config = SeismicMagnitudeConfig(conv_channels=[4, 8], lstm_hidden_size=6, window_length=1000)
        SeismicMagnitudeForRegression(config).save_pretrained(folder)
        from geohub.models.seismic_picker import SeismicFeatureExtractor

        SeismicFeatureExtractor(sampling_rate=100.0, window_length=1000, return_amplitude=True).save_pretrained(folder)
    magnitude = pipeline("seismic-magnitude", model=str(folder))
    rows = magnitude([str(records / "good.mseed"), str(records / "truncated.mseed")], errors="return")
    assert isinstance(rows[0], list) and rows[0][0]["station"] and rows[1]["index"] == 1


# --- landform ------------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def dems(tmp_path_factory):
    folder = tmp_path_factory.mktemp("dems")
    relief = np.add.outer(np.linspace(0, 300, 32), np.linspace(0, 100, 32)).astype(np.float32)
    np.save(folder / "good.npy", relief)
    (folder / "corrupt.tif").write_bytes(b"II*\x00" + os.urandom(200))
    header = (folder / "good.npy").read_bytes()
    (folder / "truncated.npy").write_bytes(header[: len(header) // 2])
    np.save(folder / "all_nan.npy", np.full((32, 32), np.nan, dtype=np.float32))  # headers fine, pixels not
    (folder / "dem.xyz").write_text("1 2 3\n")
    return folder, relief


def test_landform_raise_mode_reads_headers_before_any_work(landform, dems, monkeypatch):
    folder, relief = dems
    calls = _count_forward(monkeypatch, landform)
    for bad, message in (("corrupt.tif", ""), ("truncated.npy", ""), ("dem.xyz", "unknown DEM format")):
        with pytest.raises(RasterError, match=rf"inputs\[1\].*{message}") as err:
            landform([relief, str(folder / bad), str(folder / "good.npy")], spacing_m=50.0)
        assert bad in str(err.value)
    assert not calls


def test_landform_return_mode(landform, dems):
    folder, relief = dems
    expected = landform(relief, spacing_m=50.0)
    inputs = [relief, str(folder / "corrupt.tif"), str(folder / "all_nan.npy"), None, str(folder / "good.npy")]
    results = landform(inputs, spacing_m=50.0, errors="return", batch_size=2)
    assert _same(results[0], expected) and _same(results[4], expected)
    for index in (1, 2, 3):
        assert set(results[index]) == ERROR_KEYS and results[index]["index"] == index
        assert results[index]["error_type"] == "RasterError"
    assert "nodata" in results[2]["error"] or "NaN" in results[2]["error"] or "nan" in results[2]["error"]


# --- text ------------------------------------------------------------------------------------------------------------
WORDS = ["the", "chalk", "group", "overlies", "gault", "formation", "."]


@pytest.fixture(scope="module")
def extractor(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tagger")
    vocab = folder / "vocab.txt"
    vocab.write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *WORDS]) + "\n")
    tokenizer = BertTokenizerFast(vocab_file=str(vocab))
    labels = ["O", "B-ROCK", "I-ROCK"]
    config = BertConfig(vocab_size=len(WORDS) + 5, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=32, id2label=dict(enumerate(labels)),
                        label2id={name: i for i, name in enumerate(labels)})  # fmt: skip
    torch.manual_seed(0)
    BertForTokenClassification(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return pipeline("knowledge-extraction", model=str(folder))


def test_text_pipeline_both_modes(extractor, monkeypatch):
    text = "The Chalk Group overlies the Gault Formation."
    expected = extractor(text, relation_model="rules")
    calls = _count_forward(monkeypatch, extractor)
    with pytest.raises(CorpusError, match=r"inputs\[1\]"):
        extractor([text, "", text], relation_model="rules")
    assert not calls
    results = extractor([text, "", 3, text], relation_model="rules", errors="return", batch_size=2)
    assert _same(results[0], expected) and _same(results[3], expected)
    assert results[1]["index"] == 1 and "empty" in results[1]["error"] and results[1]["error_type"] == "CorpusError"
    assert results[2]["index"] == 2 and results[2]["input"] == "int"
