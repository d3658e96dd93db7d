"""Seismic denoising on held-out real records: geohub's denoiser vs ObsPy's band-pass filter, one run.

    python benchmarks/denoise.py --model runs/seismic_denoiser/phasenet_noise \
        --picker runs/seismic_picking/phasenet --data ../shared/data/phasenet-ncedc [--eqt runs/eqtransformer-original]

Data: the PhaseNet-NCEDC records split by station exactly as the denoiser's and the picker's recipes (split_seed 0,
validation 0.15, test 0.2): the test stations were never seen in training. "Clean" windows are the test
records whose own SNR (4 s after P over the 29.5 s before P) is at least `--min-record-snr` dB, cut to 29.5 s
with P at 15 s. Each clean window is mixed with the real pre-P noise of a record from another test station at
-5, 0, 5 and 10 dB (SNR = power ratio over the whole window), twice per level with different noise records.

Rows (same mixtures, one run):
- noisy: the mixture itself;
- bandpass: ObsPy's Butterworth band-pass (4 corners, zero-phase), corners chosen among common choices for the
  best mean SNR gain on the validation stations' mixtures (tuned the same way, never on test);
- geohub: `geohub.inference.denoise.denoise_array` with the trained denoiser.
Columns per SNR level: SNR gain (dB) = SNR of the output against the clean window minus the mixture's SNR;
correlation of the output with the clean window; P recovery = share of windows whose P pick by the picker
(geohub's U-Net; EQTransformer too with --eqt) is within 0.1 s of the analyst pick (the pick on the clean
window is the ceiling); `p_within_0.5s_*` the same within 0.5 s.
"geohub_vs_bandpass": per SNR level, the paired SNR-gain difference with its 95 % interval and, per picker, the
mixtures whose P only geohub's output recovers vs only the band-pass output's, with a sign-test p-value: whether a
margin is more than the noise of 21 records.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import torch  # noqa: E402

from geohub.data.seismic_datasets import from_phasenet_npz, split_by_group  # noqa: E402
from geohub.inference.denoise import denoise_array, load_denoiser  # noqa: E402
from geohub.training.denoising import mix_at_snr, pre_p_noise, snr_db  # noqa: E402

RATE = 100.0
P_IN_WINDOW = 1500
LENGTH = 2950
SNR_LEVELS = (-5.0, 0.0, 5.0, 10.0)
BANDS = ((0.5, 20.0), (1.0, 20.0), (1.0, 10.0), (2.0, 15.0), (2.0, 25.0), (3.0, 20.0), (1.0, 30.0))
TOLERANCE = 10  # samples = 0.1 s
LOOSE_TOLERANCE = 50  # samples = 0.5 s (a second, looser P column: the U-Net's picks are rarely within 0.1 s)


def clean_windows(split, min_snr: float) -> tuple[np.ndarray, list[str]]:
    """(windows `(N, 3, LENGTH)` with P at `P_IN_WINDOW`, their stations) of the records whose own SNR (4 s after
    P over the noise before P) is >= `min_snr` dB."""
    rows = split.with_format("numpy")[:]
    windows, stations = [], []
    for waveforms, p, station in zip(rows["waveforms"], rows["p_arrival_sample"], rows["station_id"]):
        p = int(p)
        signal, noise = waveforms[:, p : p + 400].astype(np.float64), waveforms[:, : p - 50].astype(np.float64)
        record_snr = 10 * np.log10((signal**2).mean() / ((noise**2).mean() + 1e-20))
        if record_snr >= min_snr and p >= P_IN_WINDOW and p - P_IN_WINDOW + LENGTH <= waveforms.shape[-1]:
            window = waveforms[:, p - P_IN_WINDOW : p - P_IN_WINDOW + LENGTH].astype(np.float64)
            windows.append(window - window.mean(axis=-1, keepdims=True))
            stations.append(str(station))
    return np.stack(windows), stations


def mixtures(clean: np.ndarray, stations: list[str], noise: np.ndarray, noise_stations: list[str], seed: int):
    """(noisy, clean, snr) arrays over SNR levels x 2 noise draws, noise always from another station."""
    rng = np.random.default_rng(seed)
    noisy, targets, levels = [], [], []
    for level in SNR_LEVELS:
        for _ in range(2):
            index = [rng.choice([j for j, s in enumerate(noise_stations) if s != st]) for st in stations]
            mixed, _ = mix_at_snr(clean, noise[index][..., :LENGTH] - noise[index][..., :LENGTH].mean(-1, keepdims=True),
                                  np.full(len(clean), level))  # fmt: skip
            noisy.append(mixed)
            targets.append(clean)
            levels.append(np.full(len(clean), level))
    return np.concatenate(noisy), np.concatenate(targets).astype(np.float32), np.concatenate(levels)


def bandpass(windows: np.ndarray, band) -> np.ndarray:
    from obspy.signal.filter import bandpass as obspy_bandpass

    return np.stack([[obspy_bandpass(c.astype(np.float64), band[0], band[1], RATE, corners=4, zerophase=True)
                      for c in w] for w in windows]).astype(np.float32)  # fmt: skip


def denoised(windows: np.ndarray, model, extractor) -> np.ndarray:
    return np.stack([denoise_array(w, model, extractor) for w in windows])


def unet_p_picks(windows: np.ndarray, picker_dir: str) -> np.ndarray:
    """P pick sample per window by geohub's U-Net (highest P probability >= the config's threshold, else -1)."""
    from geohub.inference.loading import load_model_and_processor

    model, extractor = load_model_and_processor(picker_dir)
    picks = []
    for start in range(0, len(windows), 64):
        inputs = extractor(windows[start : start + 64])["inputs"]
        with torch.no_grad():
            p = torch.softmax(model(inputs).logits, dim=1)[:, 1].numpy()
        picks += list(np.where(p.max(-1) >= model.config.p_threshold, p.argmax(-1), -1))
    return np.asarray(picks)


def eqt_p_picks(windows: np.ndarray, eqt_dir: str) -> np.ndarray:
    """P pick sample per window by the converted EQTransformer (windows zero-padded at the end to its 60 s input;
    highest P probability >= its threshold)."""
    from geohub.inference.loading import load_model_and_processor

    model, extractor = load_model_and_processor(eqt_dir)
    length = int(model.config.window_length)
    picks = []
    for start in range(0, len(windows), 16):
        chunk = windows[start : start + 16]
        padded = np.zeros((len(chunk), chunk.shape[1], length), dtype=np.float32)
        padded[..., : chunk.shape[-1]] = chunk
        with torch.no_grad():
            p = model(inputs=extractor(padded)["inputs"]).p_probabilities.numpy()[:, : chunk.shape[-1]]
        picks += list(np.where(p.max(-1) >= model.config.p_threshold, p.argmax(-1), -1))
    return np.asarray(picks)


def scores(output: np.ndarray, clean: np.ndarray, noisy: np.ndarray) -> dict[str, np.ndarray]:
    before = snr_db(clean, noisy - clean)
    after = snr_db(clean, output - clean)
    corr = np.array([np.corrcoef(o.ravel(), c.ravel())[0, 1] for o, c in zip(output, clean)])
    return {"snr_gain_db": after - before, "correlation": corr}


def tune_band(noisy: np.ndarray, clean: np.ndarray) -> tuple[float, float]:
    gains = {band: scores(bandpass(noisy, band), clean, noisy)["snr_gain_db"].mean() for band in BANDS}
    return max(gains, key=gains.get)


def score_table(outputs: dict, clean: np.ndarray, noisy: np.ndarray, levels: np.ndarray, pickers: dict):
    """(rows `{method@level: {metric: mean}}`, per-mixture `{method: {metric: (N,) array}}`): SNR gain,
    correlation, and per picker the P pick within 0.1 s (`p_recovery_*`) and within 0.5 s (`p_within_0.5s_*`)."""
    table, per_mixture = {}, {}
    for method, output in outputs.items():
        values = scores(output, clean, noisy)
        for name, fn in pickers.items():
            error = np.abs(fn(output) - P_IN_WINDOW)
            values[f"p_recovery_{name}"] = (error <= TOLERANCE).astype(float)
            values[f"p_within_0.5s_{name}"] = (error <= LOOSE_TOLERANCE).astype(float)
        per_mixture[method] = values
        for level in SNR_LEVELS:
            sel = levels == level
            table[f"{method}@{level:g}dB"] = {key: float(v[sel].mean()) for key, v in values.items()}
    return table, per_mixture


def margins(per_mixture: dict, levels: np.ndarray) -> dict:
    """geohub minus band-pass per SNR level, paired over the same mixtures: mean SNR-gain difference (dB) with its
    95 % interval (1.96 standard errors), and for each picker the mixtures only geohub's output gets right vs only
    the band-pass output gets right (discordant pairs; a sign test decides whether the difference is noise)."""
    geohub, band = per_mixture["geohub"], per_mixture["bandpass"]
    out = {}
    for level in SNR_LEVELS:
        sel = levels == level
        diff = geohub["snr_gain_db"][sel] - band["snr_gain_db"][sel]
        half = 1.96 * diff.std(ddof=1) / np.sqrt(sel.sum())
        row = {"snr_gain_diff_db": float(diff.mean()), "snr_gain_diff_ci95": [float(diff.mean() - half),
               float(diff.mean() + half)]}  # fmt: skip
        for key in (k for k in geohub if k.startswith("p_recovery_")):
            only_geohub = int(((geohub[key] == 1) & (band[key] == 0))[sel].sum())
            only_band = int(((geohub[key] == 0) & (band[key] == 1))[sel].sum())
            row[key.replace("p_recovery_", "only_geohub_vs_only_bandpass_")] = [only_geohub, only_band]
            row[key.replace("p_recovery_", "sign_test_p_")] = _sign_test(only_geohub, only_band)
        out[f"{level:g}dB"] = row
    return out


def _sign_test(wins: int, losses: int) -> float:
    """Two-sided exact binomial (sign) test p-value of `wins` vs `losses` discordant pairs."""
    from scipy.stats import binomtest

    return float(binomtest(wins, wins + losses).pvalue) if wins + losses else 1.0


def print_tables(table: dict, margin: dict) -> None:
    columns = list(next(iter(table.values())))
    print(f"{'method@SNR':<14}" + "".join(f"{c:>22}" for c in columns))
    for name, row in table.items():
        print(f"{name:<14}" + "".join(f"{row[c]:>22.3f}" for c in columns))
    print("geohub - band-pass (paired):")
    for level, row in margin.items():
        low, high = row["snr_gain_diff_ci95"]
        picks = "; ".join(f"{k.split('_')[-1]} P within 0.1 s only geohub {v[0]} vs only band-pass {v[1]} "
                          f"(sign test p={row['sign_test_p_' + k.split('_')[-1]]:.2g})"
                          for k, v in row.items() if k.startswith("only_"))  # fmt: skip
        print(f"  {level:>5}: SNR gain {row['snr_gain_diff_db']:+.2f} dB [{low:+.2f}, {high:+.2f}]; {picks}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True, help="trained denoiser folder")
    parser.add_argument("--picker", help="trained U-Net picker folder (P recovery)")
    parser.add_argument("--eqt", help="converted EQTransformer folder (geohub convert eqtransformer-original)")
    parser.add_argument("--data", default="../shared/data/phasenet-ncedc")
    parser.add_argument("--min-record-snr", type=float, default=10.0)
    parser.add_argument("--seed", type=int, default=123)
    parser.add_argument("--split", default="test", choices=("test", "validation"),
                        help="stations to score (validation: for choosing models; the band is tuned there too)")  # fmt: skip
    args = parser.parse_args()
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    splits = split_by_group(from_phasenet_npz(args.data), by="station_id", validation_fraction=0.15,
                            test_fraction=0.2, seed=0)  # fmt: skip
    model, extractor = load_denoiser(args.model)
    sets = {}
    for name in ("validation", "test"):
        clean, stations = clean_windows(splits[name], args.min_record_snr)
        noise, kept = pre_p_noise(splits[name], return_kept=True)
        noise_stations = [str(splits[name]["station_id"][int(i)]) for i in kept]
        sets[name] = mixtures(clean, stations, noise, noise_stations, args.seed)
    band = tune_band(*sets["validation"][:2])
    noisy, clean, levels = sets[args.split]
    outputs = {"noisy": noisy, "bandpass": bandpass(noisy, band)}
    start = time.perf_counter()
    outputs["geohub"] = denoised(noisy, model, extractor)
    seconds = time.perf_counter() - start
    pickers = {}
    if args.picker:
        pickers["unet"] = lambda w: unet_p_picks(w, args.picker)
    if args.eqt:
        pickers["eqt"] = lambda w: eqt_p_picks(w, args.eqt)
    ceiling = {name: float((np.abs(fn(clean[levels == SNR_LEVELS[0]]) - P_IN_WINDOW) <= TOLERANCE).mean())
               for name, fn in pickers.items()}  # fmt: skip
    table, per_mixture = score_table(outputs, clean, noisy, levels, pickers)
    record = {
        "benchmark": "denoise", "model": args.model, "picker": args.picker, "eqt": args.eqt, "split": args.split,
        "clean_windows": int((levels == SNR_LEVELS[0]).sum() // 2), "mixtures": len(noisy),
        "bandpass_hz": band, "p_recovery_clean_ceiling": ceiling, "rows": table,
        "geohub_vs_bandpass": margins(per_mixture, levels),
        "geohub_mixtures_per_second": len(noisy) / max(seconds, 1e-9), "torch_threads": torch.get_num_threads(),
        "machine": platform.machine(),
    }  # fmt: skip
    print("BENCHMARK_JSON " + json.dumps(record, default=float))
    print_tables(table, record["geohub_vs_bandpass"])
    print(f"band-pass {band[0]:g}-{band[1]:g} Hz (tuned on validation stations); clean-window P recovery {ceiling}")


if __name__ == "__main__":
    main()
