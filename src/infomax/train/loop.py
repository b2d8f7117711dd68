"""The training loop: one method, one data set, checkpoints, resume, logging, progress.

:func:`train` learns an encoder with a method of :mod:`infomax.methods` and
writes a run folder (see :mod:`infomax.train.run_folder` for its layout).

* **Budget.** Stop after ``epochs``, after ``max_steps`` optimiser steps,
  after ``minutes`` of training time (the time inside optimiser steps,
  counted across resumes) or after ``wall_minutes`` of wall-clock time of
  this invocation, whichever comes first.
* **Checkpoints** are written atomically every ``checkpoint_minutes`` of
  wall-clock time (stretched when writing is slow; see
  :class:`~infomax.train.hooks.CheckpointCadence`), at the end, and on SIGINT
  or SIGTERM (after the step in flight; the process then exits with 128 + the
  signal number, as a killed program does).
* **Resume.** ``resume=True`` restores the weights, both optimisers, the
  RNG state, the step and the position inside the epoch (the loader's order
  depends only on the seed and the epoch), so on CPU a resumed run ends with
  exactly the weights of an uninterrupted one.
* **Logging.** Every ``log_every`` steps one JSON line goes to
  ``metrics.jsonl`` (loss, each MI term in nats, images/s, the share of time
  spent making views, the online probe's accuracy) and, when the
  ``tensorboard`` package is installed, to ``tensorboard/``. Progress is a bar
  on a terminal and a plain line every 30 s on any other stderr.
* **Online probe.** With labels, a linear classifier trains on the detached
  probe-layer features of each batch (its own optimiser; no gradient reaches
  the encoder), a cheap running signal of representation quality. The final
  number comes from :mod:`infomax.evaluation` on frozen features.
"""

from __future__ import annotations

import math
import os
import time
from contextlib import nullcontext
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import torch
from torch import nn

from infomax.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from infomax.distributed import (
    all_reduce_gradients,
    check_device,
    convert_batchnorm,
    init_from_environment,
)
from infomax.jsonable import to_jsonable, write_json_atomic
from infomax.progress import Progress
from infomax.train.config import MAY_DIFFER_ON_RESUME, TrainConfig, resolve_data
from infomax.train.hooks import (
    CheckpointCadence,
    MetricsLogger,
    Signals,
    Window,
    agree,
    gather_rng_states,
    rank_seed,
    set_rng_state,
)
from infomax.train.run_folder import read_run_config, write_run_config
from infomax.train.setup import setup_run
from infomax.validation import InputError

__all__ = ["TrainResult", "result_to_json", "train"]

#: Seconds between plain progress lines when stderr is not a terminal.
PROGRESS_LINE_SECONDS = 30.0


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
        stopped: "epochs", "steps", "minutes", "wall_minutes" or "signal".
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


def _config_matches(saved: TrainConfig, config: TrainConfig) -> None:
    """Resuming must train the same thing; budgets, logging and the device may change."""
    for key, value in asdict(config).items():
        if key in MAY_DIFFER_ON_RESUME:
            continue
        old = getattr(saved, key)
        if key == "data":
            old = resolve_data(old)
        if old != value:
            raise InputError(
                f"cannot resume: the run was trained with {key}={old!r}, not {value!r}"
            )


def _budget_left(config: TrainConfig, step: int, epoch: int, seconds: float) -> None:
    """Refuse to resume a run whose budget is already spent (it would run 0 steps)."""
    spent = []
    if config.epochs is not None and epoch >= config.epochs:
        spent.append(f"epochs={config.epochs} (done {epoch})")
    if config.max_steps is not None and step >= config.max_steps:
        spent.append(f"max_steps={config.max_steps} (done {step})")
    if config.minutes is not None and seconds >= config.minutes * 60:
        spent.append(f"minutes={config.minutes:g} (done {seconds / 60:.2f})")
    if spent:
        raise InputError(
            f"nothing to resume: the run's budget {', '.join(spent)} is already spent; give a "
            "larger one (e.g. --epochs, --steps or --minutes above what was done)"
        )


def train(
    config: TrainConfig,
    run_dir: str | os.PathLike[str],
    *,
    resume: bool = False,
    progress: bool | None = None,
) -> TrainResult:
    """Train ``config.method`` on ``config.data`` and write the run folder.

    Args:
        config: what to train (see :class:`TrainConfig`); a data path is
            stored absolute.
        run_dir: the run folder; it must not hold a run unless ``resume``.
        resume: continue the run in ``run_dir`` from its checkpoint.
        progress: a progress bar (None: a bar on a terminal, a plain line
            every 30 s on any other stderr; False: nothing).

    Returns:
        :class:`TrainResult`. When a signal stopped the run, ``stopped`` is
        "signal" and the checkpoint is up to date.

    Raises:
        InputError: bad settings or device, data the encoder cannot take, a
            run folder that already holds a run (without ``resume``), or one
            that holds none, a different configuration or a spent budget
            (with ``resume``).
    """
    invoked = time.monotonic()
    config.check()
    check_device(config.device)
    config = replace(config, data=resolve_data(config.data))
    run = Path(run_dir)
    checkpoint_path = run / "checkpoint.pt"
    if resume:
        if not checkpoint_path.is_file():
            raise CheckpointError(
                f"cannot resume: {checkpoint_path} does not exist (start the run without --resume)"
            )
        _config_matches(read_run_config(run).train, config)
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
    setup = setup_run(config, world.world_size, progress)
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
        torch.manual_seed(rank_seed(config.seed, 0, world.rank))

    step = epoch = batch_in_epoch = 0
    seconds = 0.0
    if resume:
        state = load_checkpoint(checkpoint_path, map_location=device)
        step, epoch = int(state["step"]), int(state["epoch"])
        batch_in_epoch, seconds = int(state["batch_in_epoch"]), float(state["seconds"])
        _budget_left(config, step, epoch, seconds)
        method.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        if probe is not None and "probe" in state:
            probe.load_state_dict(state["probe"])
            assert probe_optimizer is not None
            probe_optimizer.load_state_dict(state["probe_optimizer"])
        ranks = state.get("rng_ranks") or [state["rng"]]
        if len(ranks) == world.world_size:
            set_rng_state(ranks[world.rank])
        else:  # another number of processes: same data order, fresh view streams
            torch.manual_seed(rank_seed(config.seed, step, world.rank))
    if main:
        run.mkdir(parents=True, exist_ok=True)
        write_run_config(run, setup.run_config)

    cadence = CheckpointCadence(config.checkpoint_minutes)

    def save() -> None:
        started = time.monotonic()
        ranks = gather_rng_states(world)  # collective: every process calls save()
        if main:
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
        cadence.written(time.monotonic() - started)

    per_epoch = len(loader)
    planned = [
        config.epochs * per_epoch if config.epochs is not None else math.inf,
        config.max_steps if config.max_steps is not None else math.inf,
    ]
    total_steps = min(planned)
    bar_total = per_epoch if math.isinf(total_steps) else int(total_steps)
    logger = MetricsLogger(run, step) if main else None

    def autocast() -> Any:
        if config.precision == "bf16":
            return torch.autocast(device.type, dtype=torch.bfloat16)
        return nullcontext()

    wall_deadline = (
        invoked + config.wall_minutes * 60 if config.wall_minutes is not None else math.inf
    )
    method.train()
    window = Window()
    invocation = Window()
    last: dict[str, float] = {}
    stopped = ""
    signals = Signals()
    bar = Progress(
        bar_total, f"train {config.method}", progress, lines=True, every=PROGRESS_LINE_SECONDS
    )
    with signals.installed(), bar:
        bar.set_count(step if bar_total != per_epoch else batch_in_epoch)
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
                signal_flag, time_up, wall_up, due = agree(
                    world,
                    signals.received is not None,
                    config.minutes is not None and seconds >= config.minutes * 60,
                    time.monotonic() >= wall_deadline,
                    cadence.due(),
                )
                if signal_flag:
                    stopped = "signal"
                elif config.max_steps is not None and step >= config.max_steps:
                    stopped = "steps"
                elif time_up:
                    stopped = "minutes"
                elif wall_up:
                    stopped = "wall_minutes"
                if stopped:
                    break
                if due:
                    save()
            else:
                epoch += 1
                batch_in_epoch = 0
                if bar_total == per_epoch and not stopped:
                    bar.set_count(0)
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


def result_to_json(result: TrainResult) -> dict[str, Any]:
    """A JSON-ready dict of a :class:`TrainResult`."""
    return to_jsonable(asdict(result))
