"""Training: the loop, the run folder and the hooks around the loop.

==============  =====================================================================
module          what it holds
==============  =====================================================================
``config``      :class:`TrainConfig` (what a run is asked to do) and the resume rules
``run_folder``  :class:`RunConfig`, the typed, versioned ``config.json``: its only
                reader and writer, the migration of older files, the run's encoder
``setup``       the data, the method around its encoder, the loader
``hooks``       signals, ``metrics.jsonl`` / TensorBoard, checkpoint cadence, windows
``loop``        :func:`train` and :class:`TrainResult`
==============  =====================================================================
"""

from __future__ import annotations

from infomax.train.config import TrainConfig, merge_for_resume
from infomax.train.loop import TrainResult, result_to_json, train
from infomax.train.run_folder import (
    RUN_CONFIG_VERSION,
    RunConfig,
    build_encoder,
    load_encoder,
    migrate_run_config,
    read_run_config,
    write_run_config,
)

__all__ = [
    "RUN_CONFIG_VERSION",
    "RunConfig",
    "TrainConfig",
    "TrainResult",
    "build_encoder",
    "load_encoder",
    "merge_for_resume",
    "migrate_run_config",
    "read_run_config",
    "result_to_json",
    "train",
    "write_run_config",
]
