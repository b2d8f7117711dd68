"""The training loop: one method, one data set, checkpoints, resume, logging, progress.

:func:`train` learns an encoder with a method of :mod:`infomax.methods` and
writes a run folder (see :mod:`infomax.checkpoint` for its layout).

* **Budget.** Stop after ``epochs``, after ``max_steps`` optimiser steps, or
  after ``minutes`` of training time (data loading and caching excluded;
  counted across resumes), whichever comes first.
* **Checkpoints** are written atomically at the end of every epoch, every
  ``checkpoint_minutes`` of training, at the end, and on SIGINT or SIGTERM
  (after the step in flight; the process then exits with 128 + the signal
  number, as a killed program does).
* **Resume.** ``resume=True`` restores the weights, both optimisers, the
  RNG state, the step and the position inside the epoch (the loader's order
  depends only on the seed and the epoch), so on CPU a resumed run ends with
  exactly the weights of an uninterrupted one.
* **Logging.** Every ``log_every`` steps one JSON line goes to
  ``metrics.jsonl`` (loss, each MI term in nats, images/s, the share of time
  spent making views, the online probe's accuracy) and, when the
  ``tensorboard`` package is installed, to ``tensorboard/``.
* **Online probe.** With labels, a linear classifier trains on the detached
  probe-layer features of each batch (its own optimiser; no gradient reaches
  the encoder), a cheap running signal of representation quality. The final
  number comes from :mod:`infomax.evaluate` on frozen features.
"""

from __future__ import annotations

import json
import math
import os
import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from infomax.checkpoint import (
    CheckpointError,
    build_encoder,
    load_checkpoint,
    save_checkpoint,
    write_json_atomic,
)
from infomax.distributed import (
    World,
    all_reduce_gradients,
    convert_batchnorm,
    init_from_environment,
)
from infomax.progress import Progress
from infomax.validation import InputError

__all__ = ["TrainConfig", "TrainResult", "train"]


@dataclass
class TrainConfig:
    """Everything that defines a training run (saved as ``config.json``).

    Attributes:
        method: a name of :data:`infomax.methods.METHODS`.
        data: a data source for :func:`infomax.data.load_dataset`.
        encoder: a name of :data:`infomax.nets.ENCODERS` (None: "dim-conv", or the
            encoder the method needs, e.g. "patch-dim" for "cpc").
        epochs: passes over the data (None: no epoch limit).
        minutes: training-time budget (None: none).
        max_steps: optimiser-step budget (None: none).
        batch_size: images per step (per process).
        lr: Adam learning rate of the method.
        weight_decay: Adam weight decay.
        seed: seeds the weights, the views and the data order.
        image_size: resize images to this side (None: keep their size).
        out_dim: size of the encoder's output ``y``.
        augment: augmentation preset replacing the method's default.
        method_options: keyword arguments of the method (e.g. ``estimator``).
        encoder_options: keyword arguments of the encoder.
        probe: train an online linear probe when the data has labels.
        probe_lr: the online probe's Adam learning rate.
        log_every: steps between log lines.
        checkpoint_minutes: training minutes between checkpoints inside an epoch.
        threads: torch CPU threads (None: torch's default).
        device: "cpu", "cuda", ...
        precision: "fp32", or "bf16" (autocast: bfloat16 matmuls and convolutions).
    """

    method: str
    data: str
    encoder: str | None = None
    epochs: int | None = None
    minutes: float | None = None
    max_steps: int | None = None
    batch_size: int = 128
    lr: float = 1e-3
    weight_decay: float = 0.0
    seed: int = 0
    image_size: int | None = None
    out_dim: int = 64
    augment: str | None = None
    method_options: dict[str, Any] = field(default_factory=dict)
    encoder_options: dict[str, Any] = field(default_factory=dict)
    probe: bool = True
    probe_lr: float = 1e-3
    log_every: int = 50
    checkpoint_minutes: float = 5.0
    threads: int | None = None
    device: str = "cpu"
    precision: str = "fp32"

    def check(self) -> None:
        """Raise :class:`InputError` on a setting that cannot work."""
        if self.epochs is None and self.minutes is None and self.max_steps is None:
            raise InputError("give a budget: epochs, minutes or max_steps")
        for name in ("epochs", "max_steps", "batch_size", "log_every", "out_dim"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or value < 1):
                raise InputError(f"{name} must be a positive int, got {value!r}")
        if self.batch_size < 2:
            raise InputError(f"batch_size must be at least 2 (negatives), got {self.batch_size}")
        for name in ("minutes", "lr", "checkpoint_minutes", "probe_lr"):
            value = getattr(self, name)
            if value is not None and not (isinstance(value, int | float) and value > 0):
                raise InputError(f"{name} must be positive, got {value!r}")
        if self.precision not in ("fp32", "bf16"):
            raise InputError(f"precision must be 'fp32' or 'bf16', got {self.precision!r}")


@dataclass
class TrainResult:
    """What a run did.

    Attributes:
        run_dir: the run folder.
        steps: optimiser steps in total (including earlier, resumed parts).
        epochs_done: completed epochs.
        seconds: training seconds in total.
        images_per_second: training throughput of this invocation.
        view_share: fraction of this invocation's step time spent making views.
        stopped: "epochs", "steps", "minutes" or "signal".
        last: the last logged metrics.
        signal: the signal number that stopped the run (None otherwise).
    """

    run_dir: Path
    steps: int
    epochs_done: int
    seconds: float
    images_per_second: float
    view_share: float
    stopped: str
    last: dict[str, float] = field(default_factory=dict)
    signal: int | None = None


class _Signals:
    """Turns SIGINT/SIGTERM into a flag the loop checks after each step."""

    def __init__(self) -> None:
        self.received: int | None = None
        self._previous: dict[int, Any] = {}

    def _handle(self, signum: int, frame: object) -> None:
        self.received = signum

    @contextmanager
    def installed(self) -> Iterator[_Signals]:
        import threading

        if threading.current_thread() is not threading.main_thread():
            yield self
            return
        for sig in (signal.SIGINT, signal.SIGTERM):
            self._previous[sig] = signal.signal(sig, self._handle)
        try:
            yield self
        finally:
            for sig, handler in self._previous.items():
                signal.signal(sig, handler)


class _Logger:
    """metrics.jsonl plus TensorBoard when available."""

    def __init__(self, run_dir: Path, resume_step: int) -> None:
        self.path = run_dir / "metrics.jsonl"
        if self.path.exists():
            # Drop lines logged after the last checkpoint: the resumed run logs them again.
            kept = [
                line
                for line in self.path.read_text().splitlines()
                if line.strip() and json.loads(line).get("step", 0) <= resume_step
            ]
            self.path.write_text("".join(line + "\n" for line in kept))
        self.handle = self.path.open("a")
        try:
            from torch.utils.tensorboard import SummaryWriter

            self.writer: Any = SummaryWriter(
                str(run_dir / "tensorboard"), purge_step=resume_step + 1
            )
        except ImportError:
            self.writer = None

    def log(self, step: int, values: dict[str, float]) -> None:
        self.handle.write(json.dumps({"step": step, **values}) + "\n")
        self.handle.flush()
        if self.writer is not None:
            for key, value in values.items():
                if isinstance(value, int | float) and key not in ("epoch",):
                    self.writer.add_scalar(key, value, step)

    def close(self) -> None:
        self.handle.close()
        if self.writer is not None:
            self.writer.close()


def _rng_state() -> dict[str, Any]:
    state: dict[str, Any] = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _config_matches(saved: dict[str, Any], config: TrainConfig) -> None:
    """Resuming must train the same thing; budgets may change."""
    may_differ = {
        "epochs", "minutes", "max_steps", "log_every", "checkpoint_minutes", "threads", "device",
    }  # fmt: skip
    for key, value in asdict(config).items():
        if key in may_differ or key not in saved:
            continue
        if saved[key] != value:
            raise InputError(
                f"cannot resume: the run was trained with {key}={saved[key]!r}, not {value!r}"
            )


@dataclass
class _Setup:
    """The data-dependent parts of a run: the method, its loader and what config.json records."""

    method: Any
    loader: Any  # device -> a loader with len() and epoch(epoch, start)
    num_classes: int
    probe_features: int
    config: dict[str, Any]


def _setup_images(config: TrainConfig, progress: bool | None) -> _Setup:
    from infomax.data import load_dataset
    from infomax.methods import METHOD_ENCODERS, make_method

    dataset = load_dataset(config.data, "train", size=config.image_size, progress=progress)
    channels, height, width = dataset.image_shape
    encoder_config = {
        "encoder": config.encoder or METHOD_ENCODERS.get(config.method, "dim-conv"),
        "encoder_options": config.encoder_options,
        "in_channels": channels,
        "image_size": [height, width],
        "out_dim": config.out_dim,
    }
    encoder = build_encoder(encoder_config)
    method = make_method(
        config.method, encoder, image_size=(height, width), mean=dataset.mean, std=dataset.std,
        augment=config.augment, **config.method_options,
    )  # fmt: skip
    with torch.no_grad():
        encoder.eval()
        probe_features = encoder(torch.zeros(1, channels, height, width)).layer(method.probe_layer)
        encoder.train()

    def loader(device: torch.device, world: World) -> Any:
        return dataset.loader(
            config.batch_size // world.world_size, shuffle=True, drop_last=True,
            seed=config.seed, device=device, dtype=torch.uint8, rank=world.rank,
            world_size=world.world_size,
        )  # fmt: skip

    return _Setup(
        method, loader, dataset.num_classes if dataset.has_labels else 0,
        int(probe_features.shape[1]),
        {**encoder_config, "mean": list(dataset.mean), "std": list(dataset.std),
         "classes": dataset.classes, "num_images": len(dataset)},
    )  # fmt: skip


def _setup_sequences(config: TrainConfig) -> _Setup:
    from infomax.data.sequences import load_sequences
    from infomax.methods.cpc import CPCSequence

    data = load_sequences(config.data, seed=config.seed)
    known = {"hidden", "z_dim", "context_dim", "steps"}
    unknown = sorted(set(config.method_options) - known)
    if unknown:
        raise InputError(
            f"method 'cpc-seq' has no option {unknown[0]!r}; its options are "
            f"{', '.join(sorted(known))}"
        )
    method = CPCSequence(data.input_dim, **config.method_options)
    context_dim = int(method.gru.hidden_size)

    def loader(device: torch.device, world: World) -> Any:
        return data.loader(
            config.batch_size // world.world_size, shuffle=True, seed=config.seed, device=device,
            rank=world.rank, world_size=world.world_size,
        )  # fmt: skip

    return _Setup(
        method, loader, data.num_classes if data.has_labels else 0, context_dim,
        {"encoder": "cpc-seq", "input_dim": data.input_dim, "length": int(data.x.shape[1]),
         "num_sequences": len(data), "num_classes": data.num_classes},
    )  # fmt: skip


def train(
    config: TrainConfig,
    run_dir: str | os.PathLike[str],
    *,
    resume: bool = False,
    progress: bool | None = None,
) -> TrainResult:
    """Train ``config.method`` on ``config.data`` and write the run folder.

    Args:
        config: what to train (see :class:`TrainConfig`).
        run_dir: the run folder; it must not hold a run unless ``resume``.
        resume: continue the run in ``run_dir`` from its checkpoint.
        progress: show a progress bar (None: only on a terminal).

    Returns:
        :class:`TrainResult`. When a signal stopped the run, ``stopped`` is
        "signal" and the checkpoint is up to date.

    Raises:
        InputError: bad settings, data the encoder cannot take, a run folder
            that already holds a run (without ``resume``), or one that holds
            none or a different configuration (with ``resume``).
    """
    config.check()
    run = Path(run_dir)
    checkpoint_path = run / "checkpoint.pt"
    if resume:
        if not checkpoint_path.is_file():
            raise CheckpointError(f"cannot resume: {checkpoint_path} does not exist")
        saved_config = json.loads((run / "config.json").read_text())
        _config_matches(saved_config.get("train", {}), config)
    elif checkpoint_path.exists():
        raise InputError(
            f"{run} already holds a run; pass resume=True (--resume) or another folder"
        )
    if config.threads is not None:
        torch.set_num_threads(config.threads)
    world = init_from_environment(config.device)
    if config.batch_size % world.world_size:
        raise InputError(
            f"batch_size {config.batch_size} is the global batch and must divide evenly among "
            f"the {world.world_size} processes"
        )
    device = torch.device(config.device)
    if device.type == "cuda" and world.world_size > 1:
        device = torch.device("cuda", world.local_rank)
    main = world.is_main
    progress = progress if main else False

    torch.manual_seed(config.seed)
    setup = (
        _setup_images(config, progress) if config.method != "cpc-seq" else _setup_sequences(config)
    )
    method = setup.method.to(device)
    model: nn.Module = method
    if world.world_size > 1:
        method = convert_batchnorm(method, device).to(device)
        ids = [device.index] if device.type == "cuda" else None
        model = nn.parallel.DistributedDataParallel(method, device_ids=ids)
    optimizer = torch.optim.Adam(
        method.parameters(), lr=config.lr, weight_decay=config.weight_decay
    )
    probe: nn.Module | None = None
    probe_optimizer: torch.optim.Optimizer | None = None
    if config.probe and setup.num_classes > 0:
        probe = nn.Linear(setup.probe_features, setup.num_classes).to(device)
        probe_optimizer = torch.optim.Adam(probe.parameters(), lr=config.probe_lr)
    loader = setup.loader(device, world)
    if world.world_size > 1:
        # Views differ between processes: each draws its own random stream.
        torch.manual_seed(_rank_seed(config.seed, 0, world.rank))

    step = epoch = batch_in_epoch = 0
    seconds = 0.0
    if resume:
        state = load_checkpoint(checkpoint_path, map_location=device)
        method.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        if probe is not None and "probe" in state:
            probe.load_state_dict(state["probe"])
            assert probe_optimizer is not None
            probe_optimizer.load_state_dict(state["probe_optimizer"])
        step, epoch = int(state["step"]), int(state["epoch"])
        ranks = state.get("rng_ranks") or [state["rng"]]
        if len(ranks) == world.world_size:
            _set_rng_state(ranks[world.rank])
        else:  # another number of processes: same data order, fresh view streams
            torch.manual_seed(_rank_seed(config.seed, step, world.rank))
        batch_in_epoch, seconds = int(state["batch_in_epoch"]), float(state["seconds"])
    if main:
        run.mkdir(parents=True, exist_ok=True)
        write_json_atomic(
            run / "config.json",
            {"method": config.method, "data": config.data, **setup.config,
             "train": asdict(config), "world_size": world.world_size},
        )  # fmt: skip

    def save() -> None:
        ranks = _gather_rng_states(world)  # collective: every process calls save()
        if not main:
            return
        state: dict[str, Any] = {
            "model": method.state_dict(),
            "optimizer": optimizer.state_dict(),
            "rng": ranks[0],
            "rng_ranks": ranks,
            "step": step,
            "epoch": epoch,
            "batch_in_epoch": batch_in_epoch,
            "seconds": seconds,
        }
        if probe is not None and probe_optimizer is not None:
            state["probe"] = probe.state_dict()
            state["probe_optimizer"] = probe_optimizer.state_dict()
        save_checkpoint(checkpoint_path, state)

    per_epoch = len(loader)
    planned = [
        config.epochs * per_epoch if config.epochs is not None else math.inf,
        config.max_steps if config.max_steps is not None else math.inf,
    ]
    total_steps = min(planned)
    if config.minutes is not None and math.isinf(total_steps):
        bar_total = per_epoch
    else:
        bar_total = int(total_steps) if not math.isinf(total_steps) else per_epoch
    logger = _Logger(run, step) if main else None

    def autocast() -> Any:
        if config.precision == "bf16":
            return torch.autocast(device.type, dtype=torch.bfloat16)
        return nullcontext()

    method.train()
    window = _Window()
    invocation = _Window()
    last: dict[str, float] = {}
    stopped = ""
    checkpoint_due = seconds + config.checkpoint_minutes * 60
    signals = _Signals()
    with signals.installed(), Progress(bar_total, f"train {config.method}", progress) as bar:
        bar.count = step if bar_total != per_epoch else batch_in_epoch
        while not stopped:
            if config.epochs is not None and epoch >= config.epochs:
                stopped = "epochs"
                break
            for batch in loader.epoch(epoch, start=batch_in_epoch):
                started = time.perf_counter()
                with autocast():
                    views = method.make_views(batch.images)
                    made = time.perf_counter()
                    output = model(views)
                optimizer.zero_grad(set_to_none=True)
                output.loss.backward()
                optimizer.step()
                probe_metrics: dict[str, torch.Tensor] = {}
                if (
                    probe is not None
                    and probe_optimizer is not None
                    and output.features is not None
                ):
                    logits = probe(output.features.float())
                    labels = batch.labels.reshape(-1)  # sequences: one label per step
                    probe_loss = nn.functional.cross_entropy(logits, labels)
                    probe_optimizer.zero_grad(set_to_none=True)
                    probe_loss.backward()
                    all_reduce_gradients(probe)
                    probe_optimizer.step()
                    probe_metrics["probe_accuracy"] = (
                        (logits.argmax(1) == labels).float().mean().detach()
                    )
                loss_value = float(output.loss.detach())
                if not math.isfinite(loss_value):  # the checkpoint keeps the last good state
                    raise FloatingPointError(
                        f"the loss became {loss_value} at step {step + 1}; lower the learning "
                        "rate (--lr) or switch the estimator (jsd is the most stable)"
                    )
                finished = time.perf_counter()
                step += 1
                batch_in_epoch += 1
                seconds += finished - started
                images = len(batch.images) * world.world_size
                window.add(finished - started, made - started, images)
                invocation.add(finished - started, made - started, images)
                window.accumulate({"loss": loss_value, **output.metrics, **probe_metrics})
                bar.update(loss=loss_value, img_s=round(window.rate()))
                if step % config.log_every == 0:
                    last = window.flush(epoch, seconds)
                    if logger is not None:
                        logger.log(step, last)
                # Every process must stop (and checkpoint) at the same step: agree on the flags.
                signal_flag, time_up, due = _agree(
                    world,
                    signals.received is not None,
                    config.minutes is not None and seconds >= config.minutes * 60,
                    seconds >= checkpoint_due,
                )
                if signal_flag:
                    stopped = "signal"
                elif config.max_steps is not None and step >= config.max_steps:
                    stopped = "steps"
                elif time_up:
                    stopped = "minutes"
                if stopped:
                    break
                if due:
                    save()
                    checkpoint_due = seconds + config.checkpoint_minutes * 60
            else:
                epoch += 1
                batch_in_epoch = 0
                save()
                if bar_total == per_epoch and not stopped:
                    bar.count = 0
        if window.steps:
            last = window.flush(epoch, seconds)
            if logger is not None:
                logger.log(step, last)
        save()
    if logger is not None:
        logger.close()
    result = TrainResult(
        run_dir=run,
        steps=step,
        epochs_done=epoch,
        seconds=seconds,
        images_per_second=invocation.rate(),
        view_share=invocation.view_share(),
        stopped=stopped,
        last=last,
        signal=signals.received if stopped == "signal" else None,
    )
    if main:
        summary = {k: v for k, v in asdict(result).items() if k != "run_dir"}
        write_json_atomic(run / "summary.json", {**summary, "world_size": world.world_size})
    return result


def _rank_seed(seed: int, step: int, rank: int) -> int:
    """A seed for process ``rank``'s view stream (from the run's seed and the step)."""
    return int(np.random.default_rng([seed, step, rank, 0x1AF0]).integers(2**62))


def _gather_rng_states(world: World) -> list[dict[str, Any]]:
    """Every process's RNG state, in rank order (on every process)."""
    state = _rng_state()
    if world.world_size == 1:
        return [state]
    states: list[Any] = [None] * world.world_size
    torch.distributed.all_gather_object(states, state)
    return states


def _agree(world: World, *flags: bool) -> tuple[bool, ...]:
    """Each flag true if it is true on any process."""
    if world.world_size == 1:
        return flags
    values = torch.tensor([float(f) for f in flags])
    torch.distributed.all_reduce(values, op=torch.distributed.ReduceOp.MAX)
    return tuple(bool(v) for v in values.tolist())


class _Window:
    """Running sums of one logging window."""

    def __init__(self) -> None:
        self.steps = 0
        self.images = 0
        self.step_seconds = 0.0
        self.view_seconds = 0.0
        self.sums: dict[str, float] = {}

    def add(self, step_seconds: float, view_seconds: float, images: int) -> None:
        self.step_seconds += step_seconds
        self.view_seconds += view_seconds
        self.images += images

    def accumulate(self, values: dict[str, Any]) -> None:
        self.steps += 1
        for key, value in values.items():
            self.sums[key] = self.sums.get(key, 0.0) + float(value)

    def rate(self) -> float:
        return self.images / self.step_seconds if self.step_seconds > 0 else 0.0

    def view_share(self) -> float:
        return self.view_seconds / self.step_seconds if self.step_seconds > 0 else 0.0

    def flush(self, epoch: int, seconds: float) -> dict[str, float]:
        values = {key: total / max(self.steps, 1) for key, total in self.sums.items()}
        values.update(
            epoch=epoch,
            seconds=round(seconds, 3),
            images_per_second=self.rate(),
            view_share=self.view_share(),
        )
        self.__init__()  # type: ignore[misc]
        return values


def result_to_json(result: TrainResult) -> dict[str, Any]:
    """A JSON-ready dict of a :class:`TrainResult`."""
    value = asdict(result)
    value["run_dir"] = str(result.run_dir)
    return {
        k: (None if isinstance(v, float) and not np.isfinite(v) else v) for k, v in value.items()
    }
