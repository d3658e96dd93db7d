"""The GAN training loop on Accelerate (task `terrain_gan`).

    geohub train recipes/terrain_gan/config_jacksboro_64.yaml --config_file recipes/accelerate_configs/cpu.yaml

One plain loop with the features of the supervised backbone:
- two optimisers (Adam, TTUR-style separate learning rates), `critic_steps` discriminator updates per generator
  update, an exponential moving average (EMA) of the generator weights (what is saved and evaluated);
- gradient accumulation (`gradient_accumulation_steps` micro-batches per update, `no_sync` on all but the last),
  mixed precision (`mixed_precision: no | fp16 | bf16`, passed to the Accelerator);
- the generator and the discriminator are prepared as two separate modules, so DDP synchronises both; the
  generator step scores fakes with the *unwrapped* discriminator (frozen), so the discriminator's DDP reducer
  only ever sees its own backward passes;
- checkpoints every `save_steps` with `accelerator.save_state` into a staging folder, renamed to `checkpoint-N`
  when complete (a killed run never leaves a half-written checkpoint); `resume_from_checkpoint: last` restores
  models, optimisers, EMA, RNG states and the loop position, and `accelerate.skip_first_batches` resumes the
  epoch's data order where it stopped: no batch is repeated or skipped;
- reproducible whatever the number of processes: epoch permutations come from (seed, epoch), augmentations from
  (seed, epoch, sample index), latents from (seed, step, micro-batch) drawn for the GLOBAL batch and sliced per
  rank, and the generator uses pixel norm (no batch statistics); a 2-process run therefore matches a 1-process
  run with the same global batch;
- offline trackers (`report_to: tensorboard` or `none`), a tqdm progress bar on the main process, evaluation
  every `eval_steps` on held-out real patches with `gather_for_metrics` (realism distances in metres).

`accelerate launch` on a CPU-only machine: the Accelerator is created with `cpu=True`, so 2 processes started by
`recipes/accelerate_configs/multi_cpu.yaml` form a gloo group.
"""

from __future__ import annotations

import contextlib
import copy
import json
import math
import os
import re
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from ..data.dem import flip_rotate
from ..errors import ConfigError
from ..utils import atomic_write_text, get_logger, progress_output, set_seed
from .supervised import staged_checkpoint

logger = get_logger(__name__)

__all__ = [
    "AdversarialTrainingArguments",
    "PatchDataset",
    "EpochPermutationSampler",
    "train_gan",
    "last_checkpoint",
]

CHECKPOINT_PREFIX = "checkpoint-"


@dataclass
class AdversarialTrainingArguments:
    """Arguments of the GAN loop (recipe keys)."""

    output_dir: str = field(default="runs/terrain_gan", metadata={"help": "checkpoints, logs and the final model"})
    seed: int = field(default=42, metadata={"help": "seed of weights, data order, augmentation and latents"})
    max_steps: int = field(default=2000, metadata={"help": "generator updates"})
    per_device_train_batch_size: int = field(default=32, metadata={"help": "real patches per micro-batch and process"})
    gradient_accumulation_steps: int = field(default=1, metadata={"help": "micro-batches per optimiser update"})
    critic_steps: int = field(default=1, metadata={"help": "discriminator updates per generator update"})
    generator_learning_rate: float = field(default=2e-4, metadata={"help": "Adam learning rate of the generator"})
    discriminator_learning_rate: float = field(default=2e-4, metadata={"help": "Adam learning rate of the critic"})
    adam_beta1: float = field(default=0.0, metadata={"help": "Adam beta1 (0 is usual for GANs)"})
    adam_beta2: float = field(default=0.99, metadata={"help": "Adam beta2"})
    ema_decay: float = field(default=0.999, metadata={"help": "EMA decay of the generator weights (0 = no EMA)"})
    spectral_loss_weight: float = field(
        default=0.0,
        metadata={
            "help": "weight of an auxiliary generator loss: squared log-ratio of the batch's radially averaged "
            "power spectrum to the training patches' (0 = off; cf. Durall et al. 2020)"
        },
    )
    mixed_precision: str = field(default="no", metadata={"help": "no, fp16 or bf16 (passed to the Accelerator)"})
    augment: bool = field(default=True, metadata={"help": "random flips / 90-degree rotations of real patches"})
    logging_steps: int = field(default=20, metadata={"help": "log (and track) every N steps"})
    save_steps: int = field(default=200, metadata={"help": "checkpoint every N steps (0 = only at the end)"})
    save_total_limit: int = field(default=2, metadata={"help": "keep the newest N checkpoints"})
    eval_steps: int = field(
        default=0, metadata={"help": "evaluate on held-out patches every N steps (0 = at the end)"}
    )
    resume_from_checkpoint: str | None = field(
        default=None, metadata={"help": "'last' (newest checkpoint in output_dir, if any) or a checkpoint folder"}
    )
    report_to: str = field(default="tensorboard", metadata={"help": "'tensorboard' or 'none' (offline trackers)"})
    disable_tqdm: bool = field(default=False, metadata={"help": "hide the progress bar"})
    cpu_threads: int = field(
        default=1,
        metadata={
            "help": "torch threads per process on CPU during training (0 = torch's default); small GAN steps gain "
            "little from more, and on a shared machine extra threads spin-wait and slow training many times over"
        },
    )

    def __post_init__(self):
        for name in ("max_steps", "per_device_train_batch_size", "gradient_accumulation_steps", "critic_steps"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be >= 1", field=name, expected="a positive integer")
        if self.mixed_precision not in ("no", "fp16", "bf16"):
            raise ConfigError("unknown mixed_precision", field="mixed_precision", expected="no, fp16 or bf16")
        if self.report_to not in ("tensorboard", "none"):
            raise ConfigError("unknown tracker", field="report_to", expected="tensorboard or none")
        if not 0.0 <= self.ema_decay < 1.0:
            raise ConfigError("ema_decay must lie in [0, 1)", field="ema_decay")
        if not (math.isfinite(self.spectral_loss_weight) and self.spectral_loss_weight >= 0.0):
            raise ConfigError("spectral_loss_weight must be >= 0", field="spectral_loss_weight")


class PatchDataset(Dataset):
    """Normalised real patches `(1, H, W)`, flipped / rotated by a seeded draw from (seed, epoch, index)."""

    def __init__(self, patches: np.ndarray, seed: int, augment: bool):
        self.patches = torch.as_tensor(np.ascontiguousarray(patches, dtype=np.float32))
        self.seed, self.augment, self.epoch = seed, augment, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.patches)

    def __getitem__(self, index: int) -> torch.Tensor:
        patch = self.patches[index]
        if self.augment:
            rng = np.random.default_rng([self.seed, self.epoch, index])
            patch = torch.from_numpy(np.ascontiguousarray(flip_rotate(patch.numpy(), rng)))
        return patch.unsqueeze(0).contiguous()


class EpochPermutationSampler(Sampler[int]):
    """A permutation of range(n) drawn from (seed, epoch): the data order depends on nothing else."""

    def __init__(self, num_samples: int, seed: int):
        self.num_samples, self.seed, self.epoch = num_samples, seed, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __iter__(self):
        generator = torch.Generator().manual_seed(self.seed * 100_003 + self.epoch)
        return iter(torch.randperm(self.num_samples, generator=generator).tolist())

    def __len__(self) -> int:
        return self.num_samples


class LoopState:
    """Position of the loop, saved with `accelerator.save_state` (`register_for_checkpointing`)."""

    def __init__(self):
        self.step, self.epoch, self.batches_in_epoch, self.log_history = 0, 0, 0, []

    def state_dict(self) -> dict:
        return {
            "step": self.step,
            "epoch": self.epoch,
            "batches_in_epoch": self.batches_in_epoch,
            "log_history": json.dumps(self.log_history),
        }

    def load_state_dict(self, state: dict) -> None:
        self.step, self.epoch = int(state["step"]), int(state["epoch"])
        self.batches_in_epoch = int(state["batches_in_epoch"])
        self.log_history = json.loads(state["log_history"])


def last_checkpoint(output_dir: str | os.PathLike) -> str | None:
    """The complete `checkpoint-N` folder with the largest N in `output_dir`, or None."""
    if not os.path.isdir(output_dir):
        return None
    steps = [int(m.group(1)) for name in os.listdir(output_dir) if (m := re.fullmatch(r"checkpoint-(\d+)", name))]
    return os.path.join(output_dir, f"{CHECKPOINT_PREFIX}{max(steps)}") if steps else None


def _resolve_resume(args: AdversarialTrainingArguments) -> str | None:
    value = args.resume_from_checkpoint
    if value is None or str(value).lower() in ("", "none", "false"):
        return None
    if str(value).lower() in ("last", "auto", "true", "latest"):
        return last_checkpoint(args.output_dir)
    if not os.path.isdir(value):
        raise ConfigError("checkpoint folder not found", path=value, field="resume_from_checkpoint")
    return value


class _MicroBatches:
    """Endless iterator over the prepared dataloader that tracks (epoch, batches consumed in the epoch)."""

    def __init__(self, accelerator, loader: DataLoader, sampler, dataset: PatchDataset, state: LoopState):
        self.accelerator, self.loader, self.sampler, self.dataset, self.state = (
            accelerator,
            loader,
            sampler,
            dataset,
            state,
        )
        self.iterator = None

    def _start_epoch(self, skip: int) -> None:
        from accelerate import skip_first_batches

        # accelerate's loaders re-apply their own epoch counter to the sampler at each `iter`: set it there
        self.loader.set_epoch(self.state.epoch)
        self.sampler.set_epoch(self.state.epoch)
        self.dataset.set_epoch(self.state.epoch)
        loader = skip_first_batches(self.loader, skip) if skip else self.loader
        if skip:
            loader.set_epoch(self.state.epoch)
        self.iterator = iter(loader)

    def next(self) -> torch.Tensor:
        if self.iterator is None:
            self._start_epoch(self.state.batches_in_epoch)
        try:
            batch = next(self.iterator)
        except StopIteration:
            self.state.epoch += 1
            self.state.batches_in_epoch = 0
            self._start_epoch(0)
            batch = next(self.iterator)
        self.state.batches_in_epoch += 1
        return batch


def _latents(args, accelerator, latent_shape: tuple[int, ...], step: int, micro: int, kind: int) -> torch.Tensor:
    """Latents `(local batch, *latent_shape)` of this process's share of the global micro-batch, drawn from
    (seed, step, micro, kind): vectors for a "dcgan" generator, latent fields for a "convolutional" one."""
    world, rank, local = accelerator.num_processes, accelerator.process_index, args.per_device_train_batch_size
    generator = torch.Generator().manual_seed(((args.seed * 1_000_003 + step) * 1009 + micro) * 2 + kind)
    latents = torch.randn(world * local, *latent_shape, generator=generator)
    return latents[rank * local : (rank + 1) * local].to(accelerator.device)


def _accumulate(accelerator, module, n: int, compute) -> dict[str, torch.Tensor]:
    """Run `compute(micro)` for n micro-batches, backward each loss / n, syncing DDP gradients on the last only."""
    totals: dict[str, torch.Tensor] = {}
    for micro in range(n):
        context = accelerator.no_sync(module) if micro < n - 1 else contextlib.nullcontext()
        with context:
            with accelerator.autocast():
                loss, logs = compute(micro)
            accelerator.backward(loss / n)
        for key, value in {"loss": loss.detach(), **logs}.items():
            totals[key] = totals.get(key, 0.0) + value.float() / n
    return totals


def _target_log_power(normalised: np.ndarray) -> torch.Tensor:
    """Log of the mean radially averaged power spectrum `(n // 2,)` of the normalised training patches."""
    from ..models.terrain_gan.modeling_terrain_gan import radial_power

    patches = torch.as_tensor(normalised[:, None])
    return torch.log(torch.cat([radial_power(chunk) for chunk in patches.split(512)]).mean(0))


def _spectral_loss(accelerator, fake: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(surrogate to back-propagate, value) of `mean_k (log M_k - target_k)^2`, M the GLOBAL batch's mean power.

    M is the mean of the processes' local means (equal local batches), so the surrogate `sum_k g_k * M_local,k`
    with g = d value / d M (from the gathered M, detached) has, once DDP averages gradients, exactly the gradient
    of the global value: a 2-process run computes what one process does."""
    from ..models.terrain_gan.modeling_terrain_gan import radial_power

    local = radial_power(fake).mean(0)
    merged = accelerator.gather(local.detach()[None]).mean(0)
    target = target.to(merged.device)
    floor = 1e-3 * target.exp()  # -30 dB of the real power: a near-flat early generator gets bounded gradients
    error = torch.log(merged + floor) - target
    grad = (2.0 * error / (merged + floor) / error.numel()).detach()
    value = error.pow(2).mean().detach()
    linear = (grad * local).sum()
    return value + linear - linear.detach(), value


def _update_ema(ema: torch.nn.Module, generator: torch.nn.Module, decay: float) -> None:
    with torch.no_grad():
        for ema_param, param in zip(ema.parameters(), generator.parameters()):
            ema_param.lerp_(param.detach(), 1.0 - decay)
        for ema_buffer, buffer in zip(ema.buffers(), generator.buffers()):
            ema_buffer.copy_(buffer)


def _save_checkpoint(accelerator, args: AdversarialTrainingArguments, step: int) -> None:
    """`save_state` into a staging folder, then rename it to `checkpoint-<step>` (all processes take part)."""
    with staged_checkpoint(accelerator, args.output_dir, f"{CHECKPOINT_PREFIX}{step}",
                           main=accelerator.is_main_process) as staging:  # fmt: skip
        accelerator.save_state(staging)
    if accelerator.is_main_process:
        steps = sorted(
            int(m.group(1)) for n in os.listdir(args.output_dir) if (m := re.fullmatch(r"checkpoint-(\d+)", n))
        )
        for old in steps[: max(0, len(steps) - max(1, args.save_total_limit))]:
            shutil.rmtree(os.path.join(args.output_dir, f"{CHECKPOINT_PREFIX}{old}"), ignore_errors=True)
    accelerator.wait_for_everyone()


def make_accelerator(args: AdversarialTrainingArguments):
    """The Accelerator: `cpu=True` without CUDA (so N CPU processes form a gloo group), trackers offline."""
    from accelerate import Accelerator
    from accelerate.utils import ProjectConfiguration

    return Accelerator(
        cpu=not torch.cuda.is_available(),
        mixed_precision=args.mixed_precision,
        log_with=None if args.report_to == "none" else args.report_to,
        project_config=ProjectConfiguration(
            project_dir=args.output_dir, logging_dir=os.path.join(args.output_dir, "logs")
        ),
    )


def _evaluate(accelerator, ema, eval_loader, args, processor, spacing_m: float, step: int) -> dict[str, float]:
    """Generate as many patches as there are held-out ones (EMA generator), gather both, score realism in metres."""
    from ..metrics.terrain_realism.terrain_realism import realism_scores

    ema.eval()
    reals, fakes = [], []
    with torch.no_grad():
        for index, real in enumerate(eval_loader):
            generator = torch.Generator().manual_seed(args.seed * 7919 + index * 131 + accelerator.process_index)
            shape = accelerator.unwrap_model(ema).latent_shape
            latents = torch.randn(real.shape[0], *shape, generator=generator).to(accelerator.device)
            fake = ema(latents)
            real, fake = accelerator.gather_for_metrics((real, fake))
            reals.append(real.cpu())
            fakes.append(fake.cpu())
    scores = realism_scores(
        processor.postprocess(torch.cat(fakes)), processor.postprocess(torch.cat(reals)), spacing_m
    )
    return {f"eval_{key}": value for key, value in scores.items()}


def train_gan(model, processor, train_patches, eval_patches, spacing_m: float, args) -> dict[str, float]:
    """Train `model` (a `TerrainGAN`) on `(N, H, W)` patches in metres; saves the EMA model in `output_dir`.

    Returns the final metrics (last logged losses and, with `eval_patches`, the realism distances). On CPU the
    loop runs with `args.cpu_threads` torch threads and restores the previous count afterwards.
    """
    from .threads import ThreadAdapter

    previous, adapter = torch.get_num_threads(), ThreadAdapter()
    if args.cpu_threads > 0 and not torch.cuda.is_available():
        torch.set_num_threads(args.cpu_threads)
    elif not torch.cuda.is_available():
        adapter.start()  # cpu_threads 0: geohub's count, fewer while other tasks want the CPUs
    try:
        return _train_gan(model, processor, train_patches, eval_patches, spacing_m, args, adapter)
    finally:
        adapter.restore()
        torch.set_num_threads(previous)


def _train_gan(
    model,
    processor,
    train_patches: np.ndarray,
    eval_patches: np.ndarray | None,
    spacing_m: float,
    args: AdversarialTrainingArguments,
    adapter=None,
) -> dict[str, float]:
    """`train_gan` body (threads already set; `adapter`, a `ThreadAdapter`, reads the load after each step)."""
    accelerator = make_accelerator(args)
    set_seed(args.seed)
    normalised = processor.normalize(np.asarray(train_patches, dtype=np.float32))
    global_batch = args.per_device_train_batch_size * accelerator.num_processes
    usable = (len(normalised) // global_batch) * global_batch  # every epoch the same full batches, any world size
    if usable == 0:
        raise ConfigError(
            f"{len(normalised)} patches are fewer than one global batch of {global_batch}",
            field="per_device_train_batch_size",
        )
    target = _target_log_power(normalised) if args.spectral_loss_weight > 0 else None
    dataset = PatchDataset(normalised[:usable], args.seed, args.augment)
    sampler = EpochPermutationSampler(len(dataset), args.seed)
    loader = DataLoader(dataset, batch_size=args.per_device_train_batch_size, sampler=sampler, drop_last=True)
    ema = copy.deepcopy(model.generator).requires_grad_(False)
    opt_g = torch.optim.Adam(
        model.generator.parameters(), lr=args.generator_learning_rate, betas=(args.adam_beta1, args.adam_beta2)
    )
    opt_d = torch.optim.Adam(
        model.discriminator.parameters(), lr=args.discriminator_learning_rate, betas=(args.adam_beta1, args.adam_beta2)
    )
    generator, discriminator, opt_g, opt_d, loader = accelerator.prepare(
        model.generator, model.discriminator, opt_g, opt_d, loader
    )
    ema.to(accelerator.device)
    eval_loader = None
    if eval_patches is not None and len(eval_patches):
        eval_set = torch.as_tensor(processor.normalize(np.asarray(eval_patches, dtype=np.float32))[:, None])
        eval_loader = accelerator.prepare(DataLoader(eval_set, batch_size=args.per_device_train_batch_size))
    state = LoopState()
    accelerator.register_for_checkpointing(ema, state)
    resume = _resolve_resume(args)
    if resume:
        accelerator.load_state(resume)
        logger.warning(f"resumed from {resume} at step {state.step}")
    if args.report_to != "none":
        accelerator.init_trackers("terrain_gan", config={k: v for k, v in asdict(args).items() if v is not None})
    batches = _MicroBatches(accelerator, loader, sampler, dataset, state)
    raw_discriminator = accelerator.unwrap_model(discriminator)
    from tqdm.auto import tqdm

    stream, description = progress_output.get() or (None, "terrain_gan")
    progress = tqdm(
        total=args.max_steps,
        initial=state.step,
        disable=args.disable_tqdm or not accelerator.is_main_process,
        desc=description,
        file=stream,
    )
    while state.step < args.max_steps:
        d_logs, g_logs = _train_step(
            accelerator,
            args,
            model.config,
            state.step,
            (generator, discriminator),
            raw_discriminator,
            (opt_g, opt_d),
            batches,
            target,
        )
        _update_ema(ema, accelerator.unwrap_model(generator), args.ema_decay if state.step > 0 else 0.0)
        state.step += 1
        progress.update(1)
        if adapter is not None:
            adapter.step()
        if state.step % args.logging_steps == 0 or state.step == args.max_steps:
            _log(
                accelerator,
                state,
                {
                    "d_loss": d_logs["loss"],
                    "g_loss": g_logs["loss"],
                    **({"g_spectral": g_logs["spectral"]} if "spectral" in g_logs else {}),
                    **{k: v for k, v in d_logs.items() if k != "loss"},
                },
            )
            progress.set_postfix(d_loss=state.log_history[-1]["d_loss"], g_loss=state.log_history[-1]["g_loss"])
        if eval_loader is not None and args.eval_steps and state.step % args.eval_steps == 0:
            _log(accelerator, state, _evaluate(accelerator, ema, eval_loader, args, processor, spacing_m, state.step))
        if args.save_steps and state.step % args.save_steps == 0 and state.step < args.max_steps:
            _save_checkpoint(accelerator, args, state.step)
    progress.close()
    return _finish(accelerator, model, ema, processor, eval_loader, args, state, spacing_m)


def _train_step(accelerator, args, config, step: int, modules, raw_discriminator, optimizers, batches, target=None):
    """`critic_steps` discriminator updates, then one generator update (with `target`, the training patches' log
    power spectrum, plus `spectral_loss_weight` times the spectral loss); returns their logs."""
    from ..models.terrain_gan.modeling_terrain_gan import adversarial_generator_loss, critic_loss

    generator, discriminator = modules
    opt_g, opt_d = optimizers
    n = args.gradient_accumulation_steps
    d_logs = {}
    for critic in range(args.critic_steps):

        def critic_micro(micro, critic=critic):
            real = batches.next()
            with torch.no_grad():
                fake = generator(_latents(args, accelerator, config.latent_shape, step, critic * n + micro, 0))
            return critic_loss(discriminator, real, fake, config.loss, config.gradient_penalty_weight)

        d_logs = _accumulate(accelerator, discriminator, n, critic_micro)
        opt_d.step()
        opt_d.zero_grad(set_to_none=True)
    raw_discriminator.requires_grad_(False)  # the generator step must not touch the critic's gradients

    def generator_micro(micro):
        fake = generator(_latents(args, accelerator, config.latent_shape, step, micro, 1))
        loss = adversarial_generator_loss(raw_discriminator, fake)
        if target is None:
            return loss, {}
        surrogate, value = _spectral_loss(accelerator, fake, target)
        return loss + args.spectral_loss_weight * surrogate, {"spectral": value}

    try:
        g_logs = _accumulate(accelerator, generator, n, generator_micro)
    finally:
        raw_discriminator.requires_grad_(True)
    opt_g.step()
    opt_g.zero_grad(set_to_none=True)
    return d_logs, g_logs


def _log(accelerator, state: LoopState, values: dict) -> None:
    """Average over processes, append to the log history and send to the trackers."""
    row = {}
    for key, value in values.items():
        tensor = torch.as_tensor(value, dtype=torch.float32, device=accelerator.device)
        row[key] = (
            round(float(accelerator.reduce(tensor, reduction="mean")), 6)
            if key.startswith(("d_", "g_", "real", "fake", "gradient"))
            else float(value)
        )
    row["step"] = state.step
    state.log_history.append(row)
    accelerator.log({k: v for k, v in row.items() if k != "step"}, step=state.step)


def _finish(accelerator, model, ema, processor, eval_loader, args, state, spacing_m) -> dict[str, float]:
    """Final evaluation, then save the model with the EMA generator weights, its processor and the logs."""
    metrics = {k: v for k, v in state.log_history[-1].items() if k != "step"} if state.log_history else {}
    if eval_loader is not None:
        scores = _evaluate(accelerator, ema, eval_loader, args, processor, spacing_m, state.step)
        metrics.update(scores)
    metrics["step"] = state.step
    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        final = copy.deepcopy(model).cpu()
        final.generator.load_state_dict(accelerator.unwrap_model(ema).state_dict())
        final.discriminator.load_state_dict(accelerator.unwrap_model(model.discriminator).state_dict())
        output = Path(args.output_dir)
        final.save_pretrained(output)
        processor.save_pretrained(output)
        atomic_write_text(output / "all_results.json", json.dumps(metrics, indent=2, sort_keys=True))
        atomic_write_text(output / "trainer_state.json", json.dumps({"log_history": state.log_history}, indent=2))
    accelerator.wait_for_everyone()
    accelerator.end_training()
    return {k: v for k, v in metrics.items() if isinstance(v, (int, float)) and math.isfinite(v)}
