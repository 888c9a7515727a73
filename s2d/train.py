"""``s2d train``: train the S2D model (Sec. 3.4) on a dataset in s2d's layout.

``model.architecture`` picks S2D or a keypoint baseline (FOMM, Monkey-Net, :mod:`s2d.baselines`):
the baselines are driven by the driving frame instead of landmarks and add FOMM's equivariance
losses; the rest (sample stream, logs, checkpoints, resume, DDP) is the same.

- Adam with learning-rate milestones; batch size and steps from the profile.
- A tqdm bar with the losses; ``losses.csv`` with every step's loss terms.
- ``checkpoint.pt`` (models, optimisers, schedulers, step, RNG states, config, code
  version) written atomically every ``train.checkpoint_every`` steps and at the end.
- ``--resume`` continues exactly: the sample stream is a pure function of (seed, step),
  so a run killed mid-way and resumed ends with the weights of an uninterrupted run.
- Under ``torchrun`` it trains with DistributedDataParallel (NCCL on GPU, gloo on
  CPU); each process takes its share of every batch.
"""

from __future__ import annotations

import csv
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, Dataset
from tqdm.auto import tqdm

from s2d import __version__
from s2d.baselines.equivariance import RandomTransform, equivariance_losses
from s2d.checkpoint import MODEL_NAME, CheckpointError, load_checkpoint, save_checkpoint
from s2d.config import Config
from s2d.data.format import PARSING_LABELS
from s2d.data.loaders import PairDataset
from s2d.io import atomic_path, write_json
from s2d.losses import (
    PerceptualPyramid,
    discriminator_loss,
    foreground_prior_loss,
    generator_gan_loss,
    l1_loss,
    parsing_prior_loss,
    total_loss,
)
from s2d.models import build_model
from s2d.models.discriminator import MultiScaleDiscriminator
from s2d.runtime import git_commit, pick_device, seed_everything

LOSS_COLUMNS = ("perceptual", "l1", "gan", "parsing", "foreground", "equivariance_value", "equivariance_jacobian",
                "total", "discriminator")


class _SampleStream(Dataset):
    """Sample number k of the training stream: epoch k // N, a seeded permutation within it."""

    def __init__(self, pairs: PairDataset, seed: int):
        self.pairs, self.seed = pairs, seed
        self._perms: dict[int, np.ndarray] = {}

    def __len__(self) -> int:  # the stream is unbounded; the batch sampler decides what is read
        return 2**62

    def __getitem__(self, k: int) -> dict[str, torch.Tensor]:
        n = len(self.pairs)
        epoch, pos = divmod(k, n)
        if epoch not in self._perms:
            self._perms[epoch] = np.random.default_rng([self.seed, 1_000_003, epoch]).permutation(n)
        return self.pairs.item(int(self._perms[epoch][pos]), epoch)


@dataclass
class _Dist:
    rank: int = 0
    world: int = 1

    @property
    def main(self) -> bool:
        return self.rank == 0


def _init_distributed(device: torch.device) -> _Dist:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world == 1:
        return _Dist()
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return _Dist(dist.get_rank(), world)


def build_models(config: Config) -> tuple[nn.Module, MultiScaleDiscriminator | None]:
    """The generator network of ``model.architecture`` (S2DModel, or a KeypointAnimator baseline) and,
    when the GAN loss is on, the discriminator."""
    m = config.model
    model = build_model(config)
    disc = (MultiScaleDiscriminator(m.disc_scales, m.disc_block_expansion, m.disc_max_features, m.disc_blocks)
            if config.loss.gan > 0 else None)
    return model, disc


def train(config: Config, data_root: str | Path, out_dir: str | Path, resume: bool = False,
          progress: bool = True, landmarks: str | Path | None = None) -> Path:
    """Train on ``data_root`` (train split) into ``out_dir``; return the checkpoint path.

    ``landmarks``: a folder of detected landmarks (:mod:`s2d.data.detections`) to learn from
    instead of the dataset's annotated ones (Table 5).
    """
    device = pick_device(config.device)
    ddp = _init_distributed(device)
    if device.type == "cuda" and ddp.world > 1:
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        torch.cuda.set_device(device)
    out_dir = Path(out_dir)
    ckpt_path, log_path = out_dir / "checkpoint.pt", out_dir / "losses.csv"
    t = config.train
    if t.batch_size % ddp.world:
        raise ValueError(f"batch size {t.batch_size} is not divisible by the {ddp.world} processes")
    local_batch = t.batch_size // ddp.world

    seed_everything(config.seed)
    model, disc = build_models(config)
    perceptual = PerceptualPyramid(config.loss.perceptual_scales, config.loss.perceptual, config.loss.perceptual_backbone,
                                   config.loss.perceptual_layers)
    # channels-last: the layout of oneDNN's and cuDNN's fastest convolutions. On 2 CPU cores, 20 steps at the cpu
    # profile: Monkey-Net 0.87 s a step against 1.06, First-order 1.12 against 1.22, S2D 0.63 against 0.71, in
    # runs that varied by 20%; make reproduce's models took as long as the run before (First-order 183-199 s against
    # 181-192, Monkey-Net 148-155 against 156-160, S2D 98-111 against 100-134), so no gain shows there
    model, perceptual = (m.to(device, memory_format=torch.channels_last) for m in (model, perceptual))
    disc = disc.to(device, memory_format=torch.channels_last) if disc is not None else None
    opt_g = torch.optim.Adam(model.parameters(), lr=generator_lr(config), betas=tuple(t.betas))
    milestones = [round(f * t.steps) for f in t.milestones]
    sched_g = torch.optim.lr_scheduler.MultiStepLR(opt_g, milestones, gamma=0.1)
    opt_d = sched_d = None
    if disc is not None:
        opt_d = torch.optim.Adam(disc.parameters(), lr=t.lr_discriminator, betas=tuple(t.betas))
        sched_d = torch.optim.lr_scheduler.MultiStepLR(opt_d, milestones, gamma=0.1)

    start = 0
    if resume and ckpt_path.is_file():
        state = load_checkpoint(ckpt_path, config)
        model.load_state_dict(state["model"])
        opt_g.load_state_dict(state["opt_g"])
        sched_g.load_state_dict(state["sched_g"])
        if disc is not None:
            disc.load_state_dict(state["discriminator"])
            opt_d.load_state_dict(state["opt_d"])
            sched_d.load_state_dict(state["sched_d"])
        torch.set_rng_state(state["rng_cpu"])
        if device.type == "cuda" and state.get("rng_cuda") is not None:
            torch.cuda.set_rng_state(state["rng_cuda"], device)
        start = int(state["step"])
    elif not resume and ckpt_path.exists():
        raise CheckpointError(f"{ckpt_path} exists: pass --resume to continue it, or choose another --out")

    net_g = DistributedDataParallel(model) if ddp.world > 1 else model
    net_d = DistributedDataParallel(disc) if (disc is not None and ddp.world > 1) else disc
    pairs = PairDataset(data_root, "train", seed=config.seed, landmarks=landmarks)
    stream = _SampleStream(pairs, config.seed)
    batches = [list(range(s * t.batch_size + ddp.rank * local_batch, s * t.batch_size + (ddp.rank + 1) * local_batch))
               for s in range(start, t.steps)]
    loader = DataLoader(stream, batch_sampler=batches, num_workers=t.num_workers,
                        persistent_workers=False, pin_memory=device.type == "cuda")
    logged_seconds = 0.0
    if ddp.main:
        out_dir.mkdir(parents=True, exist_ok=True)
        logged_seconds = _truncate_log(log_path, start)
    rows: list[dict] = []
    began = time.perf_counter() - logged_seconds  # "seconds" in the log count training time across resumes
    bar = tqdm(total=t.steps, initial=start, desc="train", unit="step", disable=not (progress and ddp.main))
    keep = snapshot_steps(t.steps, t.snapshots)
    if ddp.main and start == 0 and 0 in keep:
        _snapshot(out_dir, config, 0, model)
    for step, batch in enumerate(loader, start=start + 1):
        batch = {k: v.to(device, non_blocking=True) for k, v in batch.items()}
        losses = train_step(config, net_g, net_d, perceptual, opt_g, opt_d, batch, _step_generator(config, step, ddp))
        sched_g.step()
        if sched_d is not None:
            sched_d.step()
        if ddp.main:
            rows.append({"step": step, "lr": sched_g.get_last_lr()[0], **losses,
                         "seconds": round(time.perf_counter() - began, 3)})
            bar.update()
            bar.set_postfix({k: f"{v:.3f}" for k, v in losses.items() if k in ("total", "l1", "perceptual")})
            if step in keep:
                _snapshot(out_dir, config, step, model)
            if step % t.checkpoint_every == 0 or step == t.steps:
                _append_log(log_path, rows)
                rows = []
                _save(ckpt_path, config, step, model, disc, opt_g, opt_d, sched_g, sched_d, device)
    bar.close()
    if ddp.main:
        write_json(out_dir / "train.json", {
            "model": MODEL_NAME, "architecture": config.model.architecture, "profile": config.profile,
            "steps": t.steps, "resumed_from": start,
            "wall_time_s": round(time.perf_counter() - began, 2), "device": str(device), "processes": ddp.world,
            "parameters": sum(p.numel() for p in model.parameters()),
            "perceptual_backbone": config.loss.perceptual_backbone, "data": str(data_root),
            "landmarks": str(landmarks) if landmarks else "annotations",
            "git_commit": git_commit(), "s2d_version": __version__,
        })
    if ddp.world > 1:
        dist.barrier()
    return ckpt_path


def _step_generator(config: Config, step: int, ddp: _Dist) -> torch.Generator:
    """The random numbers of one step (the baselines' equivariance transforms): a pure function of
    (seed, step, rank) like the sample stream, so a resumed run draws what an uninterrupted one did."""
    seed = int(np.random.default_rng([config.seed, 2_000_003, step, ddp.rank]).integers(2**62))
    return torch.Generator().manual_seed(seed)


def train_step(config: Config, net_g, net_d, perceptual, opt_g, opt_d, batch: dict,
               generator: torch.Generator | None = None) -> dict[str, float]:
    """One generator (and discriminator) update; ``generator`` draws the baselines' random transforms
    (the global RNG when None)."""
    w = config.loss
    net_g.train()
    keypoints = config.model.architecture != "s2d"
    if keypoints:  # FOMM / Monkey-Net: driven by the driving frame itself, equivariance on its keypoints
        transform = None
        if w.equivariance_value > 0 or w.equivariance_jacobian > 0:
            transform = RandomTransform(len(batch["driving"]), generator=generator, device=batch["driving"].device,
                                        dtype=batch["driving"].dtype)
        out = net_g(batch["source"], batch["driving"], transform)
    else:
        out = net_g(batch["source"], batch["source_landmarks"], batch["driving_landmarks"])
    pred, target = out.prediction, batch["driving"]
    terms = {"perceptual": perceptual(pred, target), "l1": l1_loss(pred, target)}
    if net_d is not None:
        terms["gan"] = generator_gan_loss(net_d(pred))
    # The parsing prior (Eq. (7)) is S2D's: FOMM and Monkey-Net were trained without it, so the baselines
    # skip it whatever loss.parsing says (their dense motion ``out.grid`` could take it, but then they
    # would no longer be the published baselines).
    if not keypoints and w.parsing > 0 and "source_parsing" in batch:
        terms["parsing"] = parsing_prior_loss(out.motion.grid, batch["source_parsing"], batch["driving_parsing"],
                                              len(PARSING_LABELS))
    if not keypoints and w.foreground > 0 and "source_parsing" in batch and out.motion.still_weight is not None:
        terms["foreground"] = foreground_prior_loss(out.motion.still_weight, batch["source_parsing"],
                                                    batch["driving_parsing"], w.foreground_near_head)
    if keypoints and transform is not None:
        value, jacobian = equivariance_losses(out.driving_keypoints, out.transformed_keypoints, transform)
        if w.equivariance_value > 0:
            terms["equivariance_value"] = value
        if jacobian is not None and w.equivariance_jacobian > 0:
            terms["equivariance_jacobian"] = jacobian
    total = total_loss(terms, w)  # Eq. (8)
    opt_g.zero_grad(set_to_none=True)
    total.backward()
    opt_g.step()
    logged = {k: float(v.detach()) for k, v in terms.items()}
    logged["total"] = float(total.detach())
    if net_d is not None:
        d_loss = discriminator_loss(net_d(target), net_d(pred.detach()))
        opt_d.zero_grad(set_to_none=True)
        d_loss.backward()
        opt_d.step()
        logged["discriminator"] = float(d_loss.detach())
    return logged


def generator_lr(config: Config) -> float:
    """The generator's learning rate: ``train.lr_generator`` for S2D, ``train.lr_baselines`` for a keypoint
    baseline (each method its own, measured at the profile's budget)."""
    return config.train.lr_generator if config.model.architecture == "s2d" else config.train.lr_baselines


def snapshot_steps(steps: int, count: int) -> set[int]:
    """The steps whose weights are kept for the learning curves: 0 and ``count`` evenly spaced ones up to ``steps``
    (none when ``count`` is 0)."""
    return {round(k * steps / count) for k in range(count + 1)} if count > 0 else set()


def snapshot_path(out_dir: str | Path, step: int) -> Path:
    """Where the weights at ``step`` of the run in ``out_dir`` are kept (:func:`snapshot_steps`)."""
    return Path(out_dir) / "snapshots" / f"step{step:07d}.pt"


def _snapshot(out_dir: Path, config: Config, step: int, model) -> None:
    """The model's weights at ``step``, readable by :func:`s2d.checkpoint.load_model` (no optimiser state)."""
    save_checkpoint(snapshot_path(out_dir, step), {"step": step, "model": model.state_dict(),
                                                   "config": config.to_dict(),
                                                   "code": {"s2d_version": __version__, "git_commit": git_commit()}})


def _save(path: Path, config: Config, step: int, model, disc, opt_g, opt_d, sched_g, sched_d,
          device: torch.device) -> None:
    state = {
        "step": step,
        "model": model.state_dict(),
        "opt_g": opt_g.state_dict(),
        "sched_g": sched_g.state_dict(),
        "rng_cpu": torch.get_rng_state(),
        "rng_cuda": torch.cuda.get_rng_state(device) if device.type == "cuda" else None,
        "config": config.to_dict(),
        "code": {"s2d_version": __version__, "git_commit": git_commit()},
    }
    if disc is not None:
        state.update(discriminator=disc.state_dict(), opt_d=opt_d.state_dict(), sched_d=sched_d.state_dict())
    save_checkpoint(path, state)


def _append_log(path: Path, rows: list[dict]) -> None:
    if not rows:
        return
    fields = ["step", "lr", *LOSS_COLUMNS, "seconds"]
    new = not path.exists()
    with path.open("a", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields, restval="")
        if new:
            writer.writeheader()
        writer.writerows({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in r.items()} for r in rows)


def _truncate_log(path: Path, step: int) -> float:
    """Keep only the log rows up to ``step`` (a resumed run rewrites what came after its checkpoint);
    return the training seconds logged so far."""
    if not path.exists():
        return 0.0
    with path.open(newline="") as f:
        rows = list(csv.DictReader(f))
    keep = [r for r in rows if r["step"] and int(r["step"]) <= step]
    with atomic_path(path) as tmp:
        with tmp.open("w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=["step", "lr", *LOSS_COLUMNS, "seconds"])
            writer.writeheader()
            writer.writerows(keep)
    return float(keep[-1]["seconds"]) if keep else 0.0
