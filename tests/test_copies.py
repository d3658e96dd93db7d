"""Copies marked `# Copied from geohub.<module>.<name>` (code a family carries to run as remote code or to own its
hooks) match their originals, and the checker (`geohub.testing.check_copies`) catches a drifted copy."""

from __future__ import annotations

import inspect
import subprocess
import sys
from pathlib import Path

import pytest

from geohub.testing.check_copies import check_file, check_tree, find_copies

PACKAGE = Path(__file__).resolve().parents[1] / "geohub"
TARGET = "geohub.models.eqtransformer.waveform_eqtransformer.trigger_spans"


def test_every_marked_copy_in_geohub_matches_its_original():
    copies = [c for path in PACKAGE.rglob("*.py") for c in find_copies(path)]
    targets = {c.target.rsplit(".", 1)[-1] for c in copies}
    assert {"obspy_bandpass", "trigger_spans", "curve_problem"} <= targets, targets
    assert check_tree(PACKAGE) == []


def _original_source() -> str:
    from geohub.models.eqtransformer import waveform_eqtransformer

    return inspect.getsource(waveform_eqtransformer.trigger_spans)


def test_the_checker_reports_a_drifted_copy_and_accepts_an_exact_one(tmp_path):
    exact = tmp_path / "exact.py"
    exact.write_text(f"import numpy as np\n\n\n# Copied from {TARGET}\n{_original_source()}")
    assert check_file(exact) == []
    drifted = tmp_path / "drifted.py"
    drifted.write_text(f"# Copied from {TARGET}\n" + _original_source().replace("row.max(initial=0.0) < on", "False"))
    problems = check_file(drifted)
    assert len(problems) == 1 and "differs from the original" in problems[0] and "drifted.py:1" in problems[0]
    result = subprocess.run([sys.executable, "-m", "geohub.testing.check_copies", str(tmp_path)], capture_output=True,
                            text=True)  # fmt: skip
    assert result.returncode == 1 and "drifted.py" in result.stdout and "exact.py" not in result.stdout


def test_renames_and_misplaced_or_dangling_markers(tmp_path):
    renamed = tmp_path / "renamed.py"
    source = _original_source().replace("def trigger_spans", "def onset_spans")
    renamed.write_text(f"# Copied from {TARGET} with trigger_spans->onset_spans\n{source}")
    assert check_file(renamed) == []
    dangling = tmp_path / "dangling.py"
    dangling.write_text(
        "# Copied from geohub.models.gpd.waveform_gpd.no_such_function\ndef no_such_function():\n    pass\n"
    )
    assert "not found" in check_file(dangling)[0]
    misplaced = tmp_path / "misplaced.py"
    misplaced.write_text(f"# Copied from {TARGET}\nx = 1\n")
    with pytest.raises(ValueError, match="directly above a def or class"):
        check_file(misplaced)
