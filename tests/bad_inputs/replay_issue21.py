"""Replay of issue #21's reproductions, classified by outcome: the figures of the README's "Reliability" section.

    python tests/bad_inputs/replay_issue21.py            # this tree
    PYTHONPATH=OLD_TREE python tests/bad_inputs/replay_issue21.py --skip-unbounded   # a tree before the fixes

Prints one line per case and a JSON count per outcome. Outcomes: "refused" (a clear geohub error or a one-line
CLI error), "fine" (the right result), "raw" (another exception or "unexpected ..." error), "silent" (a wrong result
without a word), "wrongly refused" (valid data refused), "data loss", "stray write" (a file written where none
should be), "skipped" (with
--skip-unbounded: the cases that hang or take unbounded memory on a tree without the caps; the issue reports them).
Not a test (nothing here is collected by pytest); the hostile-input tests assert the same cases one by one.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import stat
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import numpy as np  # noqa: E402


def _cli(args, cwd=None):
    from typer.testing import CliRunner

    from geohub.cli import app

    old = os.getcwd()
    if cwd:
        os.chdir(cwd)
    try:
        result = CliRunner().invoke(app, [str(a) for a in args])
    finally:
        os.chdir(old)
    text = result.output
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        return "raw", result
    if result.exit_code == 2 and "unexpected" not in text:
        return "refused", result
    if result.exit_code != 0:
        return "raw", result
    return "ok", result


def _api(call):
    from geohub.errors import GeohubError

    try:
        call()
        return "ok"
    except GeohubError:
        return "refused"
    except Exception:  # noqa: BLE001
        return "raw"


def _trace(n=6000, **codes):
    from obspy import Trace, UTCDateTime

    header = {"network": "GH", "station": "AAA", "location": "", "channel": "HHZ", "sampling_rate": 100.0,
              "starttime": UTCDateTime("2024-01-01"), **codes}  # fmt: skip
    return Trace(np.random.default_rng(0).normal(size=n).astype(np.float32), header=header)


class Replay:
    def __init__(self, root: Path, skip_unbounded: bool):
        self.root, self.skip = root, skip_unbounded
        from tests.inference.archive_fixtures import save_tiny_magnitude_model, save_tiny_picker

        self.picker = save_tiny_picker(root / "picker")
        self.magnitude = save_tiny_magnitude_model(root / "magnitude")
        self.record = root / "rec.mseed"
        from obspy import Stream

        Stream([_trace(3000, channel=f"HH{c}") for c in "ZNE"]).write(str(self.record), format="MSEED")

    # case 1: header codes as path pieces
    def station_codes(self, field, value):
        work = Path(tempfile.mkdtemp(prefix=f"codes-{field}-", dir=self.root))
        (work / "wav").mkdir(parents=True)
        (work / "a" / "b" / "c").mkdir(parents=True)
        for c in "ZNE":
            _trace(**{field: value, "channel": f"HH{c}"}).write(str(work / "wav" / f"e{c}.sac"), format="SAC")
        before = {p for p in work.rglob("*")}
        outcome, _ = _cli(["annotate", work / "wav", "--model", self.picker, "--output", "out", "--chunk-seconds",
                           "3600", "--save-probabilities", "--no-plot", "--no-progress"], cwd=work / "a" / "b" / "c")  # fmt: skip
        out = work / "a" / "b" / "c" / "out"
        stray = [p for p in work.rglob("*") if p not in before and p.is_file() and out not in p.parents]
        for name in os.listdir("/"):  # an absolute code ("/tmp") made the old code write at the filesystem root
            if name.startswith("tmp.AAA.") and os.path.isfile("/" + name):
                os.unlink("/" + name)
                stray.append(Path("/" + name))
        return "stray write" if stray else ("refused" if outcome == "ok" else outcome)

    # case 3: truncated / corrupt miniSEED
    def corrupt_mseed(self, kind):
        work = self.root / f"mseed-{kind}"
        (work / "wav").mkdir(parents=True)
        _trace(172800).write(str(work / "full.mseed"), format="MSEED", encoding="FLOAT32", reclen=4096)
        data = bytearray((work / "full.mseed").read_bytes())
        if kind == "truncated":
            data = data[: len(data) // 2 + 100]
        else:
            for record in range(50, 54):
                for i in range(16):
                    data[record * 4096 + i] ^= 0xFF
        (work / "wav" / "f.mseed").write_bytes(bytes(data))
        outcome, _ = _cli(["annotate", work / "wav", "--model", self.picker, "--output", work / "out",
                           "--chunk-seconds", "3600", "--no-plot", "--no-progress"])  # fmt: skip
        errors = (work / "out" / "errors.csv").read_text() if (work / "out" / "errors.csv").is_file() else ""
        return "fine" if "f.mseed" in errors else ("silent" if outcome == "ok" else outcome)

    # case 4: overwrites
    def convert_existing(self):
        target = self.root / "existing_model_dir"
        target.mkdir()
        (target / "config.json").write_text('{"mine": 1}')
        outcome, _ = _cli(["convert", "gpd-original", target])
        return "data loss" if (target / "config.json").read_text() != '{"mine": 1}' else outcome

    def convert_empty(self):
        work = self.root / "cwd-convert"
        work.mkdir()
        outcome, _ = _cli(["convert", "gpd-original", ""], cwd=work)
        return "stray write" if any(work.iterdir()) else outcome

    # case 5: memory
    def explain_steps(self):
        if self.skip:
            return "skipped"
        outcome, _ = _cli(["explain", self.picker, self.record, "--output", self.root / "e.json", "--steps",
                           "1000000000", "--max-steps", "1000000000"])  # fmt: skip
        return outcome

    def batch_size(self):
        if self.skip:
            return "skipped"
        from transformers import pipeline

        picker = pipeline("seismic-phase-picking", model=str(self.picker))
        return _api(lambda: picker([str(self.record)] * 2, batch_size=10**9))

    # case 6: export folders
    def _export(self, fmt):
        folder = self.root / f"export-{fmt}"
        if not folder.is_dir():
            _cli(["export", self.magnitude, "--format", fmt, "--output", folder])
        copy = Path(tempfile.mkdtemp(dir=self.root)) / "x"
        shutil.copytree(folder, copy)
        return copy

    def _load(self, folder):
        try:
            from geohub.export import load_exported
        except ImportError:
            from geohub.export_loading import load_exported
        return _api(lambda: load_exported(folder))

    def export_tampered(self, case):
        folder = self._export("onnx" if "onnx" in case else "int8")
        path = folder / "export.json"
        info = json.loads(path.read_text())
        if case.startswith("architecture"):
            info["architecture"] = case.split()[1]
        elif case == "bogus quantized_modules":
            info["quantized_modules"] = ["no.such.module"]
        if case == "a list":
            path.write_text("[1, 2]")
        elif case == "truncated export.json":
            path.write_text(path.read_text()[:40])
        elif case == "missing model.onnx":
            (folder / "model.onnx").unlink()
        elif case == "truncated model.onnx":
            onnx = folder / "model.onnx"
            onnx.write_bytes(onnx.read_bytes()[:1000])
        elif case == "flipped int8 bytes":
            weights = folder / "model.int8.safetensors"
            data = bytearray(weights.read_bytes())
            for k in range(200):
                data[len(data) // 2 + k] ^= 0xFF
            weights.write_bytes(bytes(data))
        else:
            path.write_text(json.dumps(info))
        outcome = self._load(folder)
        return "silent" if outcome == "ok" and case == "flipped int8 bytes" else outcome

    # case 7: pickles
    def pickle_prefix(self, protocol):
        import pickle

        from geohub.hub import is_pickle_file

        class RunsCode:
            def __reduce__(self):
                return (os.system, ("true",))

        path = self.root / f"data-{protocol}.txt"
        path.write_bytes(b"I0\n0" + pickle.dumps(RunsCode(), protocol=protocol))
        return "refused" if is_pickle_file(path) else "silent"

    def pickle_after_padding(self, protocol, padding):
        """Session 6: the scan read the first MiB only (a pickle after 1 MiB of padding was kept); and a word ending
        in `c` just before a protocol-0 GLOBAL hid the GLOBAL from the non-overlapping start search."""
        import pickle

        from geohub.hub import is_pickle_file

        class RunsCode:
            def __reduce__(self):
                return (os.system, ("true",))

        path = self.root / f"padded-{protocol}-{len(padding)}.csv"
        path.write_bytes(padding + pickle.dumps(RunsCode(), protocol=protocol))
        return "refused" if is_pickle_file(path) else "silent"

    # case 4 (session 6): `geohub train --output_dir` into someone's folder
    def train_output_dir(self):
        """`run_recipe` is what `accelerate launch -m geohub.training.launch` (and so `geohub train`) runs."""
        from geohub.training.launch import run_recipe

        folder = self.root / "my_model"
        folder.mkdir()
        (folder / "model.safetensors").write_bytes(b"someone else's weights")
        recipe = self.root / "magnitude.yaml"
        recipe.write_text("task: seismic_magnitude\nconv_channels: '4,8'\nlstm_hidden_size: 6\ndataset: synthetic\n"
                          "num_train_windows: 8\nnum_eval_windows: 4\nwindow_length: 1000\nmax_steps: 1\n"
                          "per_device_train_batch_size: 4\neval_strategy: 'no'\nsave_strategy: 'no'\n"
                          "report_to: none\ndisable_tqdm: true\n")  # fmt: skip
        outcome = _api(lambda: run_recipe(str(recipe), ["--output_dir", str(folder)]))
        return "data loss" if (folder / "model.safetensors").read_bytes() != b"someone else's weights" else outcome

    # case 9 (session 6): a list whose item is a corrupt file
    def _truncated_record(self) -> Path:
        path = self.root / "cut.mseed"
        if not path.exists():
            from obspy import Stream

            full = self.root / "long.mseed"
            Stream([_trace(30000, channel=f"HH{c}") for c in "ZNE"]).write(str(full), format="MSEED",
                                                                            reclen=4096)  # fmt: skip
            data = full.read_bytes()
            path.write_bytes(data[: len(data) - 4096 + 300])  # a last record of 300 bytes
        return path

    def list_corrupt_file(self, mode):
        """[good, truncated file, good]: "raise" must fail before any work (else the good result computed is lost);
        "return" must give the good results and the bad item's error in its place."""
        from transformers import pipeline

        picker = pipeline("seismic-phase-picking", model=str(self.picker))
        calls = []
        forward = type(picker)._forward
        type(picker)._forward = lambda pipe, *a, **k: calls.append(1) or forward(pipe, *a, **k)
        try:
            inputs = [str(self.record), str(self._truncated_record()), str(self.record)]
            if mode == "raise":  # one window per forward: the good first record runs before the bad one is read
                outcome = _api(lambda: picker(inputs, batch_size=1))
                return "data loss" if outcome == "refused" and calls else outcome
            results = []
            outcome = _api(lambda: results.extend(picker(inputs, errors="return")))
        finally:
            type(picker)._forward = forward
        if outcome != "ok":
            return outcome
        good = all("picks" in results[i] for i in (0, 2)) and results[1].get("index") == 1
        return "fine" if good and "error" in results[1] else "silent"

    def landform_list_truncated(self):
        import torch
        from transformers import pipeline

        from geohub.models.landform import LandformCNNForImageClassification, LandformConfig
        from geohub.models.terrain_gan import TerrainImageProcessor

        folder = self.root / "landform"
        torch.manual_seed(0)
        LandformCNNForImageClassification(LandformConfig(image_size=16, hidden_sizes=[4, 8])).save_pretrained(folder)
        TerrainImageProcessor(normalization="patch", spacing_m=50.0, patch_size=16).save_pretrained(folder)
        classify = pipeline("landform-classification", model=str(folder))
        good = np.random.default_rng(0).random((64, 64)) * 300.0
        np.save(self.root / "dem.npy", good.astype(np.float32))
        data = (self.root / "dem.npy").read_bytes()
        (self.root / "cut.npy").write_bytes(data[: len(data) // 2])
        calls = []
        forward = type(classify)._forward
        type(classify)._forward = lambda pipe, *a, **k: calls.append(1) or forward(pipe, *a, **k)
        try:
            outcome = _api(lambda: classify([good, str(self.root / "cut.npy"), good], spacing_m=50.0, batch_size=1))
        finally:
            type(classify)._forward = forward
        return "data loss" if outcome == "refused" and calls else outcome

    # case 8: NER readers
    def ner_commas(self):
        from geohub.data.ner_files import read_conll

        path = self.root / "commas.txt"
        path.write_text("Rocks O\n, O\nsands O\n; O\nthe O\nRoss B-FM\n, I-FM\nFm I-FM\n")
        from geohub.errors import GeohubError

        try:
            tokens = read_conll(path)[0]["tokens"]
        except GeohubError:
            return "wrongly refused"  # valid data ("empty token": the comma inside an entity)
        except Exception:  # noqa: BLE001
            return "raw"
        return "fine" if tokens.count(",") == 2 and ";" in tokens else "silent"

    def ner_header(self):
        from geohub.data.ner_files import read_conll

        path = self.root / "header.txt"
        path.write_text("Word TrueLabel\nThe O\ntill O\n\nGranite ROCK\n")
        try:
            tags = {t for s in read_conll(path) for t in s["tags"]}
        except Exception:  # noqa: BLE001
            return "raw"
        return "silent" if any("TrueLabel" in t for t in tags) else "fine"

    # case 9: raw errors
    def start_notadate(self):
        return _cli(["annotate", self.record, "--model", self.picker, "--output", self.root / "o-start", "--start",
                     "notadate"])[0]  # fmt: skip

    def export_export(self):
        return _cli(["export", self._export("onnx"), "--format", "onnx", "--output", self.root / "again"])[0]

    def list_with_none(self):
        from transformers import pipeline

        picker = pipeline("seismic-phase-picking", model=str(self.picker))
        return _api(lambda: picker([str(self.record), None, str(self.record)]))

    def chunk_seconds(self):
        if self.skip:
            return "skipped"
        return _cli(["annotate", self.record, "--model", self.picker, "--output", self.root / "o-chunk",
                     "--chunk-seconds", "0.001"])[0]  # fmt: skip

    def nan_learning_rate(self):
        import dataclasses

        from geohub.training.arguments import parse_recipe

        @dataclasses.dataclass
        class Args:
            learning_rate: float = 1e-3

        recipe = self.root / "recipe.yaml"
        recipe.write_text("learning_rate: .nan\n")
        outcome = _api(lambda: parse_recipe([Args], recipe))
        return "silent" if outcome == "ok" else outcome

    # case 10: modes
    def umask(self):
        from geohub.models.seismic_picker import SeismicPickerForPhasePicking

        old = os.umask(0o022)
        try:
            SeismicPickerForPhasePicking.from_pretrained(self.picker).save_pretrained(self.root / "saved")
        finally:
            os.umask(old)
        mode = stat.S_IMODE((self.root / "saved" / "model.safetensors").stat().st_mode)
        return "fine" if mode == 0o644 else "silent"

    # case 2: the Hub server (a subprocess of this tree's server script)
    def hub(self, case):
        if self.skip and case == "batch of 100,000 objects":
            return "skipped"
        import httpx

        from geohub.testing import HubServer

        users = {"bob": "hf_bob_token_123456"}
        headers = {"Authorization": "Bearer hf_bob_token_123456"}
        with HubServer(self.root / f"hub-{case.split()[0]}", users) as server:
            body = {"name": "r", "organization": "bob", "type": "model"}
            httpx.post(f"{server.endpoint}/api/repos/create", json=body, headers=headers)
            url = f"{server.endpoint}/bob/r.git/info/lfs/objects/batch"
            if case == "nested JSON":
                status = httpx.post(url, content=b"[" * 100_000, headers=headers, timeout=60).status_code
                return "refused" if status == 400 else "raw"
            objects = [{"oid": "b" * 64, "size": 1}] * 100_000
            began = time.perf_counter()
            try:
                status = httpx.post(url, json={"operation": "upload", "objects": objects}, headers=headers,
                                    timeout=120).status_code  # fmt: skip
            except httpx.TimeoutException:
                return "hang"
            return "refused" if status == 413 else ("fine" if time.perf_counter() - began < 5 else "hang")


CASES = [
    *[("1 station codes", f"{f} {v!r}", "station_codes", (f, v)) for f, v in
      (("network", "../../.."), ("station", "/../../."), ("network", "/tmp"), ("location", ".."))],
    ("2 hub server", "batch of 100,000 objects", "hub", ("batch of 100,000 objects",)),
    ("2 hub server", "nested JSON", "hub", ("nested JSON",)),
    ("3 corrupt miniSEED", "truncated at half + 100 bytes", "corrupt_mseed", ("truncated",)),
    ("3 corrupt miniSEED", "64 flipped header bytes", "corrupt_mseed", ("flipped",)),
    ("4 overwrites", "convert into a model folder", "convert_existing", ()),
    ("4 overwrites", 'convert into ""', "convert_empty", ()),
    ("5 memory", "explain --max-steps 1e9", "explain_steps", ()),
    ("5 memory", "pipeline batch_size=1e9", "batch_size", ()),
    *[("6 export folders", case, "export_tampered", (case,)) for case in
      ("architecture pipeline", "architecture AutoModel", "architecture Trainer", "bogus quantized_modules",
       "a list", "truncated export.json", "missing model.onnx", "truncated model.onnx", "flipped int8 bytes")],
    *[("7 pickles", f"I0\\n0 + protocol {p}", "pickle_prefix", (p,)) for p in range(6)],
    ("8 NER readers", ", and ; tokens", "ner_commas", ()),
    ("8 NER readers", "Word TrueLabel header", "ner_header", ()),
    ("9 raw errors", "--start notadate", "start_notadate", ()),
    ("9 raw errors", "export an export folder", "export_export", ()),
    ("9 raw errors", "[good, None, good]", "list_with_none", ()),
    ("9 raw errors", "--chunk-seconds 0.001", "chunk_seconds", ()),
    ("9 raw errors", "learning_rate: .nan", "nan_learning_rate", ()),
    ("10 modes", "save_pretrained under umask 022", "umask", ()),
    # found open after session 5 (fixed in session 6)
    ("4 overwrites", "train --output_dir someone's folder", "train_output_dir", ()),
    *[("7 pickles", f"protocol {p} after 1 MiB of padding", "pickle_after_padding", (p, b"x" * (1 << 20) + b"\n"))
      for p in (0, 2, 5)],
    ("7 pickles", "...opcodes\\n + protocol 0 GLOBAL", "pickle_after_padding", (0, b"plain text, no opcodes\n")),
    ("9 raw errors", "[good, truncated file, good]", "list_corrupt_file", ("raise",)),
    ("9 raw errors", "same, errors='return'", "list_corrupt_file", ("return",)),
    ("9 raw errors", "landform [good, cut .npy, good]", "landform_list_truncated", ()),
]  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--skip-unbounded", action="store_true")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="replay21-"))
    try:
        replay = Replay(root, args.skip_unbounded)
        outcomes = Counter()
        for group, name, method, call_args in CASES:
            try:
                outcome = getattr(replay, method)(*call_args)
            except Exception as err:  # noqa: BLE001 - the replay itself must go on
                outcome = f"raw ({type(err).__name__})"
            outcomes[outcome.split(" (")[0]] += 1
            print(f"{group:<20} {name:<34} {outcome}", flush=True)
        print(json.dumps({"cases": len(CASES), **outcomes}, sort_keys=True))
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
