"""Physics-grounded synthetic seismograms: labelled 3-component windows and continuous records.

The generator is geohub's embedded default data set for the seismic recipes and tests. Each event window is built
from a few textbook ingredients, vectorised over the batch with numpy FFTs (thousands of windows per second):

- P and S travel times from the hypocentral distance `R = sqrt(epicentral^2 + depth^2)` and crustal velocities
  (`vp` ~ 5.6-6.4 km/s, `vp/vs` ~ 1.68-1.80);
- a Brune (1970) omega-squared source spectrum `1 / (1 + (f/fc)^2)` whose corner frequency follows the seismic
  moment, `fc = 4.9e6 * beta * (stress_drop / M0)^(1/3)` (beta in km/s, stress drop in bar, M0 in dyne-cm,
  `log10 M0 = 1.5 M + 16.1`), times anelastic attenuation `exp(-pi f t / Q)`;
- S-wave peak amplitudes consistent with the local-magnitude scale of Hutton & Boore (1987):
  `log10 A[mm] = ML - 1.11 log10(R/100) - 0.00189 (R - 100) - 3.0`; P peaks a random factor 2-6 smaller;
- P and S wave trains with an impulsive onset and an exponentially decaying coda (`exp(-t / tau)`, tau growing
  with magnitude and distance), P energy mostly on Z, S energy mostly on the horizontals;
- coloured background noise: a secondary-microseism peak near 0.2 Hz plus a `1/f` trend and a flat
  high-frequency floor, scaled to a target signal-to-noise ratio (dB, power in the 4 s after P over noise power).

Components are ordered `ZNE`; amplitudes are in Wood-Anderson-equivalent millimetres.

    >>> from geohub.data.synthetic_seismic import generate_synthetic_windows
    >>> batch = generate_synthetic_windows(8, seed=0)
    >>> batch["waveforms"].shape
    (8, 3, 3000)
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

__all__ = [
    "COMPONENTS",
    "generate_synthetic_windows",
    "synthetic_stream",
    "write_example_mseed",
    "coloured_noise",
    "brune_corner_frequency",
    "local_magnitude_amplitude",
]

COMPONENTS = "ZNE"
_STRESS_DROP_BAR = 30.0


def brune_corner_frequency(magnitude: np.ndarray, beta_km_s: np.ndarray | float = 3.5) -> np.ndarray:
    """Brune corner frequency (Hz) for moment magnitude `magnitude` and shear velocity `beta_km_s` (km/s)."""
    moment_dyne_cm = 10.0 ** (1.5 * np.asarray(magnitude, dtype=np.float64) + 16.1)
    return 4.9e6 * np.asarray(beta_km_s) * (_STRESS_DROP_BAR / moment_dyne_cm) ** (1.0 / 3.0)


def local_magnitude_amplitude(magnitude: np.ndarray, hypocentral_km: np.ndarray) -> np.ndarray:
    """Peak Wood-Anderson amplitude (mm) from the Hutton & Boore (1987) ML distance correction."""
    r = np.maximum(np.asarray(hypocentral_km, dtype=np.float64), 1.0)
    log_a = np.asarray(magnitude) - 1.11 * np.log10(r / 100.0) - 0.00189 * (r - 100.0) - 3.0
    return 10.0**log_a


def coloured_noise(rng: np.random.Generator, shape: tuple[int, ...], sampling_rate: float) -> np.ndarray:
    """Unit-std coloured noise `(..., T)`: microseism peak near 0.2 Hz, 1/f trend, flat high-frequency floor."""
    length = shape[-1]
    freqs = np.fft.rfftfreq(length, d=1.0 / sampling_rate)
    f = np.maximum(freqs, 1.0 / (length / sampling_rate))
    lead = shape[:-1]
    peak = rng.uniform(0.12, 0.3, size=lead + (1,))
    micro = rng.uniform(2.0, 20.0, size=lead + (1,)) * np.exp(-0.5 * (np.log(f / peak) / 0.35) ** 2)
    amplitude = micro + 0.3 / np.sqrt(f) + rng.uniform(0.1, 0.6, size=lead + (1,))
    spectrum = np.fft.rfft(rng.standard_normal(shape), axis=-1) * amplitude
    noise = np.fft.irfft(spectrum, n=length, axis=-1)
    noise -= noise.mean(axis=-1, keepdims=True)
    return noise / (noise.std(axis=-1, keepdims=True) + 1e-12)


def _wave_trains(rng, n, length, sampling_rate, onset, corner, travel_time, q, tau, rise_s):
    """`(n, 3, length)` unit-peak wave trains with a Brune spectrum, attenuation and exponential coda."""
    freqs = np.fft.rfftfreq(length, d=1.0 / sampling_rate)[None, :]
    spectrum_shape = 1.0 / (1.0 + (freqs / corner[:, None]) ** 2)
    spectrum_shape *= np.exp(-np.pi * freqs * travel_time[:, None] / q[:, None])
    spectrum_shape *= 1.0 - np.exp(-((freqs / 0.8) ** 2))  # the source radiates little below ~1 Hz here
    white = rng.standard_normal((n, 3, length))
    trains = np.fft.irfft(np.fft.rfft(white, axis=-1) * spectrum_shape[:, None, :], n=length, axis=-1)
    t = (np.arange(length)[None, :] - onset[:, None]) / sampling_rate
    rise = rise_s[:, None]
    envelope = np.where(t < 0, 0.0, np.minimum(t / rise, 1.0) * np.exp(-np.maximum(t - rise, 0.0) / tau[:, None]))
    trains *= envelope[:, None, :]
    peak = np.abs(trains).max(axis=(1, 2), keepdims=True)
    return trains / (peak + 1e-12)


def _event_parameters(rng, n, magnitude_range, distance_range_km):
    magnitude = rng.uniform(*magnitude_range, size=n)
    epicentral = rng.uniform(*distance_range_km, size=n)
    depth = rng.uniform(2.0, 20.0, size=n)
    hypocentral = np.sqrt(epicentral**2 + depth**2)
    vp = rng.uniform(5.6, 6.4, size=n)
    vs = vp / rng.uniform(1.68, 1.80, size=n)
    return magnitude, hypocentral, vp, vs


def _render_events(rng, n, length, sampling_rate, p_sample, magnitude, hypocentral, vp, vs):
    """Noise-free event signals `(n, 3, length)` and S sample indices for P onsets at `p_sample`."""
    tp, ts = hypocentral / vp, hypocentral / vs
    s_sample = p_sample + np.round((ts - tp) * sampling_rate).astype(np.int64)
    corner = brune_corner_frequency(magnitude, vs)
    q = rng.uniform(150.0, 600.0, size=n)
    coda_s = 0.6 * 10 ** (0.3 * magnitude) + 0.02 * hypocentral
    p_train = _wave_trains(
        rng, n, length, sampling_rate, p_sample, corner * 1.5, tp, q, coda_s * 0.5, np.full(n, 0.05)
    )
    s_train = _wave_trains(rng, n, length, sampling_rate, s_sample, corner, ts, q, coda_s, np.full(n, 0.1))
    s_amp = local_magnitude_amplitude(magnitude, hypocentral)
    p_amp = s_amp / rng.uniform(2.0, 6.0, size=n)
    p_weights = np.stack([np.ones(n), rng.uniform(0.2, 0.5, n), rng.uniform(0.2, 0.5, n)], axis=1)
    s_weights = np.stack([rng.uniform(0.3, 0.6, n), np.ones(n), rng.uniform(0.6, 1.0, n)], axis=1)
    signal = p_train * (p_amp[:, None] * p_weights)[:, :, None] + s_train * (s_amp[:, None] * s_weights)[:, :, None]
    return signal, s_sample


def generate_synthetic_windows(
    num_windows: int,
    *,
    window_length: int = 3000,
    sampling_rate: float = 100.0,
    seed: int = 0,
    noise_fraction: float = 0.2,
    snr_db_range: tuple[float, float] = (0.0, 30.0),
    magnitude_range: tuple[float, float] = (0.5, 4.5),
    distance_range_km: tuple[float, float] = (5.0, 120.0),
    p_position_range: tuple[float, float] = (0.05, 0.7),
    chunk_size: int = 512,
) -> dict[str, np.ndarray]:
    """Labelled synthetic windows, reproducible by `seed`.

    Returns a dict of arrays over N = `num_windows`:
        waveforms `(N, 3, window_length)` float32 (ZNE, mm), p_sample / s_sample `(N,)` int64 (-1 when absent
        from the window or for noise), magnitude `(N,)` float32 (NaN for noise), snr_db `(N,)` float32 (NaN for
        noise), label `(N,)` int64 (1 event, 0 noise), distance_km `(N,)` float32 hypocentral distance.
    """
    if num_windows < 0 or window_length < 16:
        raise ValueError("num_windows must be >= 0 and window_length >= 16")
    rng = np.random.default_rng(seed)
    parts = [
        _generate_chunk(
            rng,
            min(chunk_size, num_windows - start),
            window_length,
            sampling_rate,
            noise_fraction,
            snr_db_range,
            magnitude_range,
            distance_range_km,
            p_position_range,
        )
        for start in range(0, num_windows, chunk_size)
    ]
    if not parts:
        parts = [
            _generate_chunk(
                rng,
                0,
                window_length,
                sampling_rate,
                noise_fraction,
                snr_db_range,
                magnitude_range,
                distance_range_km,
                p_position_range,
            )
        ]
    return {key: np.concatenate([part[key] for part in parts]) for key in parts[0]}


def _generate_chunk(rng, n, length, sampling_rate, noise_fraction, snr_db_range, magnitude_range,
                    distance_range_km, p_position_range):  # fmt: skip
    magnitude, hypocentral, vp, vs = _event_parameters(rng, n, magnitude_range, distance_range_km)
    is_event = rng.random(n) >= noise_fraction
    p_sample = (rng.uniform(*p_position_range, size=n) * length).astype(np.int64)
    signal, s_sample = _render_events(rng, n, length, sampling_rate, p_sample, magnitude, hypocentral, vp, vs)
    snr_db = rng.uniform(*snr_db_range, size=n)
    window = (np.arange(length)[None, :] >= p_sample[:, None]) & (
        np.arange(length)[None, :] < p_sample[:, None] + int(4 * sampling_rate)
    )
    power = (signal**2 * window[:, None, :]).sum(axis=(1, 2)) / (3 * window.sum(axis=1) + 1e-12)
    noise_std = np.sqrt(power / 10 ** (snr_db / 10.0))
    noise_std = np.where(is_event, noise_std, local_magnitude_amplitude(magnitude, hypocentral) / 10 ** (snr_db / 20))
    noise = coloured_noise(rng, (n, 3, length), sampling_rate) * noise_std[:, None, None]
    waveforms = noise + signal * is_event[:, None, None]
    return {
        "waveforms": waveforms.astype(np.float32),
        "p_sample": np.where(is_event, p_sample, -1).astype(np.int64),
        "s_sample": np.where(is_event & (s_sample < length), s_sample, -1).astype(np.int64),
        "magnitude": np.where(is_event, magnitude, np.nan).astype(np.float32),
        "snr_db": np.where(is_event, snr_db, np.nan).astype(np.float32),
        "label": is_event.astype(np.int64),
        "distance_km": hypocentral.astype(np.float32),
    }


def synthetic_stream(
    duration_s: float = 120.0,
    events: list[dict] | None = None,
    *,
    sampling_rate: float = 100.0,
    seed: int = 0,
    noise_mm: float = 1e-4,
    station: str = "SYN",
    network: str = "GH",
    starttime: str = "2024-01-01T00:00:00",
):
    """A continuous 3-component `obspy.Stream` (ZNE, mm) with events and coloured noise, plus its true picks.

    `events`: dicts with `time_s` (P onset, s after start), `magnitude`, `distance_km`; default: two events.
    Returns `(stream, truth)` where `truth` lists dicts with `p_time`, `s_time` (`UTCDateTime`), `magnitude`.
    """
    from obspy import Stream, Trace, UTCDateTime

    rng = np.random.default_rng(seed)
    length = int(round(duration_s * sampling_rate))
    events = (
        events
        if events is not None
        else [
            {"time_s": 0.25 * duration_s, "magnitude": 2.5, "distance_km": 30.0},
            {"time_s": 0.65 * duration_s, "magnitude": 3.2, "distance_km": 60.0},
        ]
    )
    data = coloured_noise(rng, (3, length), sampling_rate) * noise_mm
    start = UTCDateTime(starttime)
    truth = []
    for event in events:
        magnitude = np.array([float(event["magnitude"])])
        hypocentral = np.array([float(event["distance_km"])])
        vp = np.array([6.0])
        vs = vp / 1.73
        p_sample = np.array([int(round(float(event["time_s"]) * sampling_rate))])
        signal, s_sample = _render_events(rng, 1, length, sampling_rate, p_sample, magnitude, hypocentral, vp, vs)
        data += signal[0]
        truth.append(
            {
                "p_time": start + p_sample[0] / sampling_rate,
                "s_time": start + int(s_sample[0]) / sampling_rate,
                "magnitude": float(magnitude[0]),
            }
        )
    traces = [
        Trace(
            data=data[i].astype(np.float32),
            header={
                "network": network,
                "station": station,
                "location": "",
                "channel": f"HH{component}",
                "sampling_rate": sampling_rate,
                "starttime": start,
            },  # fmt: skip
        )
        for i, component in enumerate(COMPONENTS)
    ]
    return Stream(traces), truth


def write_example_mseed(path: str | os.PathLike, *, duration_s: float = 120.0, seed: int = 0) -> list[dict]:
    """Write a small example miniSEED file (two local events on station GH.SYN, 100 Hz, ZNE) atomically.

    Returns the true picks (see `synthetic_stream`). The demo offers this file as a bundled example.
    """
    import io

    from ..utils import atomic_write_bytes

    stream, truth = synthetic_stream(duration_s, seed=seed)
    buffer = io.BytesIO()
    stream.write(buffer, format="MSEED", encoding="FLOAT32")
    atomic_write_bytes(Path(path), buffer.getvalue())
    return truth
