"""geohub.runtime: thread count and OpenMP wait policy set before torch loads, and the automatic precision choice."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from types import SimpleNamespace

import pytest

from geohub import runtime
from geohub.runtime import (
    BF16_MIN_AGREEMENT,
    chosen_by_geohub,
    configure_environment,
    resolve_precision,
    threads_per_process,
    usable_cpus,
)


def test_fresh_environment_gets_affinity_threads_and_sleeping_openmp_threads():
    env = {}
    changed = configure_environment(env)
    assert env["OMP_NUM_THREADS"] == str(usable_cpus())
    assert env["OMP_WAIT_POLICY"] == "PASSIVE" and int(env["GOMP_SPINCOUNT"]) <= 100_000
    assert changed == {k: env[k] for k in ("OMP_NUM_THREADS", "OMP_WAIT_POLICY", "GOMP_SPINCOUNT")}
    assert all(chosen_by_geohub(k, env) for k in changed)


def test_the_users_settings_are_kept():
    env = {"OMP_NUM_THREADS": "7", "OMP_WAIT_POLICY": "ACTIVE"}
    configure_environment(env)
    assert env["OMP_NUM_THREADS"] == "7" and env["OMP_WAIT_POLICY"] == "ACTIVE" and "GOMP_SPINCOUNT" not in env
    assert not chosen_by_geohub("OMP_NUM_THREADS", env)
    env = {"GOMP_SPINCOUNT": "5"}  # a spin count of the user's: no wait policy imposed on top of it
    configure_environment(env)
    assert env["GOMP_SPINCOUNT"] == "5" and "OMP_WAIT_POLICY" not in env


def test_off_switch_and_fixed_thread_count():
    env = {"GEOHUB_RUNTIME": "off"}
    assert configure_environment(env) == {} and set(env) == {"GEOHUB_RUNTIME"}
    env = {"GEOHUB_THREADS": "3"}
    configure_environment(env)
    assert env["OMP_NUM_THREADS"] == "3"


def test_processes_under_accelerate_share_the_cpus(monkeypatch):
    monkeypatch.setattr(runtime, "usable_cpus", lambda: 8)
    assert threads_per_process({}) == 8
    assert threads_per_process({"LOCAL_WORLD_SIZE": "4", "WORLD_SIZE": "8"}) == 2
    assert threads_per_process({"WORLD_SIZE": "16"}) == 1  # never 0
    # a child launched from a geohub process recomputes its share instead of inheriting the parent's count
    env = {}
    configure_environment(env)
    assert env["OMP_NUM_THREADS"] == "8"
    env["LOCAL_WORLD_SIZE"] = "2"
    configure_environment(env)
    assert env["OMP_NUM_THREADS"] == "4"


def _child(env_extra: dict) -> dict:
    code = ("import json, os, geohub, torch; print(json.dumps({'threads': torch.get_num_threads(), "
            "'policy': os.environ.get('OMP_WAIT_POLICY')}))")  # fmt: skip
    env = {k: v for k, v in os.environ.items()
           if k not in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OMP_WAIT_POLICY", "GOMP_SPINCOUNT")
           and not k.startswith("GEOHUB_")}  # fmt: skip
    env.update(env_extra)
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300, check=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_import_geohub_sets_torch_threads_before_torch_loads():
    fresh = _child({})
    assert fresh == {"threads": usable_cpus(), "policy": "PASSIVE"}
    assert _child({"LOCAL_WORLD_SIZE": str(usable_cpus())})["threads"] == 1
    old = _child({"GEOHUB_RUNTIME": "off"})
    assert old["policy"] is None


def test_precision_auto_needs_native_bf16_and_a_recorded_agreement(monkeypatch):
    agreeing, disagreeing = SimpleNamespace(bf16_agreement=0.995), SimpleNamespace(bf16_agreement=0.97)
    monkeypatch.setattr(runtime, "_cpu_flags", lambda: {"avx512f", "amx_bf16"})
    assert resolve_precision("auto", agreeing) == "bf16"
    assert resolve_precision(None, agreeing) == "bf16"
    assert resolve_precision("auto", disagreeing) == "fp32"
    assert resolve_precision("auto", SimpleNamespace()) == "fp32"  # nothing measured: fp32
    assert resolve_precision("auto", SimpleNamespace(bf16_agreement=BF16_MIN_AGREEMENT)) == "bf16"
    monkeypatch.setattr(runtime, "_cpu_flags", lambda: {"avx2"})  # emulated bf16 is slow: fp32
    assert resolve_precision("auto", agreeing) == "fp32"
    assert resolve_precision("bf16", disagreeing) == "bf16"  # an explicit choice is kept
    assert resolve_precision("FP32", agreeing) == "fp32"
    with pytest.raises(ValueError, match="auto, fp32, bf16"):
        resolve_precision("fp16", agreeing)
