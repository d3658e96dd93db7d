"""How geohub runs on this machine: CPU threads, the OpenMP wait policy, and the inference precision.

    import geohub                        # calls configure_environment() before anything imports torch
    from geohub.runtime import threads_per_process, resolve_precision, bf16_native

Threads (set once, at `import geohub`, before torch loads; only what the user has not set):

- `OMP_NUM_THREADS` = the CPUs this process may use (`os.sched_getaffinity`, not the machine's count) divided by
  the processes on this host under `accelerate launch` / `torchrun` (`LOCAL_WORLD_SIZE`, else `WORLD_SIZE`), at
  least 1. torch's CPU wheel reads it for its intra-op pool.
- `OMP_WAIT_POLICY=PASSIVE` and a short `GOMP_SPINCOUNT`: torch's CPU wheel uses GNU OpenMP, whose threads
  otherwise spin up to ~300,000 iterations at every barrier waiting for work. On a machine busy with other
  processes those spins burn the time slices the waiting threads' siblings need, and a step that should slow by
  the share of the CPU it loses (2-3x) slows 25-40x. libgomp reads these once, when it loads, so they must be in
  the environment before `import torch`; `geohub/__init__.py` calls `configure_environment()` first thing.
- What geohub set is recorded in `GEOHUB_RUNTIME_SET`, so a child process (e.g. one of N processes started by
  `accelerate launch` from a geohub command) recomputes its own share instead of inheriting its parent's count.
- `GEOHUB_RUNTIME=off` leaves the environment as it is (the old behaviour, for comparisons:
  `benchmarks/busy_machine.py --settings old`); `GEOHUB_THREADS=N` fixes the thread count.

Threads while training (`adaptive_threads_enabled`, `other_runnable`, `ThreadPolicy`; applied by
`geohub.training.threads`): on a busy machine each OpenMP thread of a parallel region waits at its barrier for a
sibling that the scheduler has taken off the CPU, so a 2-thread step beside other CPU-bound work runs many times
slower than its share. About once a second the training loop reads how many other tasks are runnable (the
kernel's running count in `/proc/loadavg` less this process's own running threads); the policy asks for
`min(threads, cpus - others)` threads (at least 1), with hysteresis: fewer after 2 busy readings in a row, all
again after 3 quiet ones. While it asks for fewer, the training loop times a few steps at each count and keeps
the faster (`geohub.training.threads`); loops outside a Trainer inside a training task (embedding inference)
report their batches with `loop_step`. Only where geohub chose the thread count (not `OMP_NUM_THREADS` / `GEOHUB_THREADS` of
the user's, nor a `torch.set_num_threads` of theirs); `GEOHUB_ADAPT_THREADS=off` turns it off.

Precision (`resolve_precision`): "fp32", "bf16", or "auto" = bf16 where the CPU runs bfloat16 natively
(AMX-BF16 or AVX512-BF16; any CUDA device with bf16 support) AND the model's feature extractor records that its
bf16 picks agree with its fp32 picks (`bf16_agreement` >= `BF16_MIN_AGREEMENT`, written into
`preprocessor_config.json` by `geohub check-precision MODEL` / `record_bf16_agreement`), fp32 otherwise.
This module imports nothing heavy (no torch, no numpy) at import time.
"""

from __future__ import annotations

import os

__all__ = [
    "PRECISIONS",
    "BF16_MIN_AGREEMENT",
    "configure_environment",
    "usable_cpus",
    "local_processes",
    "threads_per_process",
    "chosen_by_geohub",
    "bf16_native",
    "resolve_precision",
    "adaptive_threads_enabled",
    "running_tasks",
    "own_running_threads",
    "other_runnable",
    "ThreadPolicy",
    "loop_step",
]

PRECISIONS = ("auto", "fp32", "bf16")
BF16_MIN_AGREEMENT = 0.99  # share of fp32 picks that bf16 must reproduce (same phase within 0.1 s)
# spins before a waiting OpenMP thread sleeps (libgomp default: 300,000); one spin is a pause instruction, ~17 ns on
# this CPU, so ~0.2 ms. 1,000 spent less CPU beside other work but trained the denoiser ~15 % slower alone (2 threads)
SPINCOUNT = "10000"
_MARK = "GEOHUB_RUNTIME_SET"


def usable_cpus() -> int:
    """CPUs this process may run on (its affinity mask; `os.cpu_count()` where that is unavailable)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def local_processes(environ=None) -> int:
    """Processes sharing this host's CPUs under `accelerate launch` / `torchrun` (1 when run alone)."""
    environ = os.environ if environ is None else environ
    for name in ("LOCAL_WORLD_SIZE", "OMPI_COMM_WORLD_LOCAL_SIZE", "MPI_LOCALNRANKS", "WORLD_SIZE", "PMI_SIZE"):
        try:
            value = int(environ.get(name, ""))
        except ValueError:
            continue
        if value > 0:
            return value
    return 1


def threads_per_process(environ=None) -> int:
    """Intra-op threads for one process: `GEOHUB_THREADS` if set, else usable CPUs // local processes (>= 1)."""
    environ = os.environ if environ is None else environ
    fixed = environ.get("GEOHUB_THREADS", "").strip()
    if fixed.isdigit() and int(fixed) > 0:
        return int(fixed)
    return max(1, usable_cpus() // local_processes(environ))


def chosen_by_geohub(name: str, environ=None) -> bool:
    """Whether the environment variable `name` was set by `configure_environment` (not by the user)."""
    environ = os.environ if environ is None else environ
    return name in environ.get(_MARK, "").split(",")


def configure_environment(environ=None) -> dict[str, str]:
    """Set the thread count and OpenMP wait policy in `environ` (default `os.environ`) where the user has not;
    returns what was set. Must run before torch is imported to take effect (libgomp reads it once)."""
    environ = os.environ if environ is None else environ
    if environ.get("GEOHUB_RUNTIME", "").strip().lower() in ("off", "0", "false", "no"):
        return {}
    ours = {name for name in environ.get(_MARK, "").split(",") if name}
    wanted = {"OMP_NUM_THREADS": str(threads_per_process(environ))}
    if "OMP_WAIT_POLICY" not in environ or "OMP_WAIT_POLICY" in ours:
        if "GOMP_SPINCOUNT" not in environ or "GOMP_SPINCOUNT" in ours:
            wanted.update({"OMP_WAIT_POLICY": "PASSIVE", "GOMP_SPINCOUNT": SPINCOUNT})
    changed = {}
    for name, value in wanted.items():
        if name in environ and name not in ours:
            continue  # the user's choice
        environ[name] = value
        changed[name] = value
        ours.add(name)
    if ours:
        environ[_MARK] = ",".join(sorted(ours))
    return changed


def adaptive_threads_enabled(current_threads: int, environ=None) -> bool:
    """Whether training may change its thread count with the machine's load: geohub chose the count (the user set
    neither `OMP_NUM_THREADS` nor `GEOHUB_THREADS`), nobody changed it since (`current_threads`, torch's count
    now, is still that choice), it is above 1, and `GEOHUB_ADAPT_THREADS` is not off."""
    environ = os.environ if environ is None else environ
    if environ.get("GEOHUB_ADAPT_THREADS", "").strip().lower() in ("off", "0", "false", "no"):
        return False
    if not chosen_by_geohub("OMP_NUM_THREADS", environ) or environ.get("GEOHUB_THREADS", "").strip():
        return False
    try:
        chosen = int(environ.get("OMP_NUM_THREADS", ""))
    except ValueError:
        return False
    return chosen > 1 and current_threads == chosen


def running_tasks(path: str = "/proc/loadavg") -> int | None:
    """Tasks (threads) runnable on the machine now: the numerator of the 4th field of `/proc/loadavg`
    ("0.52 0.61 1.20 3/456 7890" -> 3); None where it cannot be read (not Linux)."""
    try:
        with open(path, encoding="ascii") as handle:
            return int(handle.read().split()[3].split("/")[0])
    except (OSError, IndexError, ValueError):
        return None


def own_running_threads(task_dir: str = "/proc/self/task") -> int:
    """This process's threads in state R (running or runnable), at least 1 (the one reading)."""
    count = 0
    try:
        names = os.listdir(task_dir)
    except OSError:
        return 1
    for name in names:
        try:
            with open(os.path.join(task_dir, name, "stat"), encoding="ascii", errors="replace") as handle:
                count += handle.read().rsplit(")", 1)[1].split()[0] == "R"
        except (OSError, IndexError):
            continue
    return max(1, count)


def other_runnable(loadavg: str = "/proc/loadavg", task_dir: str = "/proc/self/task") -> int | None:
    """Runnable tasks that are not this process's threads (None where /proc cannot be read)."""
    running = running_tasks(loadavg)
    return None if running is None else max(0, running - own_running_threads(task_dir))


class ThreadPolicy:
    """How many intra-op threads to run with, from readings of the other runnable tasks.

    `full` threads on `cpus` CPUs: a reading of `others` runnable tasks asks for `min(full, cpus - others)`
    threads (at least 1). The count goes down once `down_after` readings in a row ask for fewer, and back up
    (to the most the last `up_after` readings allow) once that many in a row ask for more: one short burst of
    another process does not move it, and it does not flap on a machine whose load hovers at the edge.
    """

    def __init__(self, full: int, cpus: int, *, down_after: int = 2, up_after: int = 3):
        if full < 1 or cpus < 1 or down_after < 1 or up_after < 1:
            raise ValueError(f"ThreadPolicy needs positive counts, got full={full} cpus={cpus}")
        self.full, self.cpus = full, cpus
        self.down_after, self.up_after = down_after, up_after
        self.threads = full
        self._recent: list[int] = []

    def wanted(self, others: int) -> int:
        """Threads one reading of `others` runnable tasks asks for."""
        return max(1, min(self.full, self.cpus - max(0, others)))

    def update(self, others: int | None) -> int:
        """Take one reading (None = unreadable: no change); returns the thread count to run with now."""
        if others is None:
            return self.threads
        self._recent = (self._recent + [self.wanted(others)])[-max(self.down_after, self.up_after) :]
        below = self._recent[-self.down_after :]
        above = self._recent[-self.up_after :]
        if len(below) == self.down_after and all(w < self.threads for w in below):
            self.threads = max(below)
        elif len(above) == self.up_after and all(w > self.threads for w in above):
            self.threads = min(above)
        return self.threads


_LOOP_HOOKS: list = []  # the thread adapter in charge while a training task runs (geohub.training.threads)


def loop_step(kind: str = "inference") -> None:
    """One batch of a loop outside a Trainer done (e.g. a frozen encoder embedding a corpus inside a training task):
    the training task's thread adaptation, if one is running, reads the load and times it like a training step
    (`geohub.training.threads`); anywhere else, nothing. Cheap enough to call once per batch from any layer."""
    for hook in tuple(_LOOP_HOOKS):
        hook(kind)


def _cpu_flags() -> set[str]:
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as handle:
            for line in handle:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def bf16_native(device=None) -> bool:
    """Whether `device` (default CPU) computes bfloat16 natively: CPU flags `amx_bf16` or `avx512_bf16` (Linux),
    or a CUDA device that reports bf16 support."""
    kind = getattr(device, "type", device) or "cpu"
    if str(kind).startswith("cuda"):
        import torch

        return bool(torch.cuda.is_available() and torch.cuda.is_bf16_supported())
    if str(kind) != "cpu":
        return False
    return bool(_cpu_flags() & {"amx_bf16", "avx512_bf16"})


def resolve_precision(precision: str | None, feature_extractor=None, device=None) -> str:
    """ "fp32" or "bf16" for one model: an explicit choice is kept; "auto" (or None) gives bf16 only where the
    hardware runs it natively and the model's recorded `bf16_agreement` (feature extractor) is at least
    `BF16_MIN_AGREEMENT`. Unknown values raise ValueError naming the choices."""
    precision = (precision or "auto").lower()
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    if precision != "auto":
        return precision
    agreement = getattr(feature_extractor, "bf16_agreement", None)
    if agreement is None or float(agreement) < BF16_MIN_AGREEMENT:
        return "fp32"
    return "bf16" if bf16_native(device) else "fp32"
