"""Precision per call is thread-safe (issue #20 item 8): two threads annotating with one model at different
precisions each get their own precision's outputs, and the model's config is never changed."""

from __future__ import annotations

import threading

import numpy as np
import obspy
import torch

from geohub.inference.waveform import WaveformModel
from geohub.models.eqtransformer import EqTransformerConfig, EqTransformerForPhasePicking
from geohub.models.eqtransformer.processing_eqtransformer import EqTransformerFeatureExtractor
from geohub.models.gpd import GPDConfig, GPDFeatureExtractor, GPDForWindowClassification, modeling_gpd


def record(seconds: float = 30.0) -> obspy.Stream:
    rng = np.random.default_rng(0)
    n = int(seconds * 100)
    data = rng.standard_normal((3, n))
    data[:, n // 3 :] += 8 * np.sin(np.arange(n - n // 3) / 3.0) * np.exp(-np.arange(n - n // 3) / 300.0)
    header = {"network": "XX", "station": "THR", "sampling_rate": 100.0, "starttime": obspy.UTCDateTime(2024, 1, 1)}
    return obspy.Stream([obspy.Trace(d.astype(np.float32), header={**header, "channel": f"HH{c}"})
                         for d, c in zip(data, "ZNE")])  # fmt: skip


def run_concurrently(wrappers: dict, stream, expected: dict, rounds: int) -> list[str]:
    """Each wrapper annotates `stream` `rounds` times in its own thread, all starting together; the precisions
    whose outputs differed from `expected` at least once."""
    barrier, failures = threading.Barrier(len(wrappers)), []

    def work(precision):
        barrier.wait()
        for _ in range(rounds):
            got = wrappers[precision].annotate_records(stream)[0].probabilities
            if not np.array_equal(got, expected[precision]):
                failures.append(precision)

    threads = [threading.Thread(target=work, args=(p,)) for p in wrappers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return failures


def test_gpd_two_threads_at_different_precisions_get_their_own_outputs():
    torch.manual_seed(0)
    model = GPDForWindowClassification(
        GPDConfig(window_length=400, conv_filters=[4, 6], conv_kernel_sizes=[5, 3], hidden_sizes=[8])
    ).eval()
    extractor, stream = GPDFeatureExtractor(window_length=400), record()
    wrappers = {p: WaveformModel(model, extractor, precision=p) for p in ("fp32", "bf16")}
    expected = {p: w.annotate_records(stream)[0].probabilities for p, w in wrappers.items()}
    assert not np.array_equal(expected["fp32"], expected["bf16"])  # the two precisions do differ
    built = []
    original = modeling_gpd.GPDInference.__init__

    def counting_init(self, *args, **kwargs):
        built.append(1)
        original(self, *args, **kwargs)

    modeling_gpd.GPDInference.__init__ = counting_init
    try:
        assert run_concurrently(wrappers, stream, expected, rounds=15) == []
    finally:
        modeling_gpd.GPDInference.__init__ = original
    assert built == []  # one cached fast path per precision, never rebuilt by the other thread's calls
    assert model.config.inference_dtype == "float32"


def test_eqt_two_threads_at_different_precisions_get_their_own_outputs():
    torch.manual_seed(0)
    config = EqTransformerConfig(encoder_filters=[2, 2, 2, 2, 2, 4, 4], res_kernel_sizes=[3, 2], num_lstm_blocks=1,
                                 lstm_units=4, attention_units=4, feed_forward_units=4, decoder_filters=[2] * 7)  # fmt: skip
    model, extractor, stream = EqTransformerForPhasePicking(config).eval(), EqTransformerFeatureExtractor(), record(90)
    wrappers = {p: WaveformModel(model, extractor, precision=p) for p in ("fp32", "bf16")}
    expected = {p: w.annotate_records(stream)[0].probabilities for p, w in wrappers.items()}
    assert not np.array_equal(expected["fp32"], expected["bf16"])
    assert run_concurrently(wrappers, stream, expected, rounds=4) == []
