"""Tiny synthetic catalogues for the forecasting tests: simulated from a known ETAS model (seconds, no shared data)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "earthquake-catalogs"
TRUE_ETAS = {"mu": 2.0, "k": 0.02, "alpha": 1.2, "c": 0.01, "omega": 0.2, "tau": 100.0}


def simulate_catalog(days: float = 400.0, seed: int = 0, **overrides):
    """(times in days from 2020-01-01, magnitudes) of a temporal ETAS simulation with `TRUE_ETAS` parameters."""
    from geohub.models.etas import EtasConfig, EtasForForecasting

    model = EtasForForecasting(EtasConfig(**{**TRUE_ETAS, **overrides}))
    _, times, magnitudes = model.simulate([], [], 0.0, days, num_simulations=1, seed=seed, max_events=50_000)
    return times, magnitudes


def write_csv(path: Path, times, magnitudes, origin: str = "2020-01-01") -> Path:
    stamps = np.datetime64(origin, "ms") + (np.asarray(times) * 86_400_000).astype("timedelta64[ms]")
    lines = ["time,magnitude,longitude,latitude,depth"]
    for stamp, magnitude in zip(stamps, magnitudes):
        text = str(stamp).replace("T", " ")
        lines.append(f"{text},{magnitude:.1f},-116.5,33.5,10.0")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def synthetic_catalog(tmp_path_factory) -> Path:
    """A 400-day synthetic ETAS catalogue as CSV (a few thousand events)."""
    times, magnitudes = simulate_catalog()
    keep = np.concatenate([[True], np.diff(np.round(times * 86_400_000)) > 0])  # ms-distinct times
    return write_csv(tmp_path_factory.mktemp("catalog") / "synthetic.csv", times[keep], magnitudes[keep])


needs_shared = pytest.mark.skipif(not (SHARED / "SanJac_catalog.csv").is_file(),
                                  reason=f"shared SanJac catalogue not found at {SHARED}")  # fmt: skip
