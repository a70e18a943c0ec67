"""Training: the one loop, checkpoints, logging, distributed runs.

    train(config, run_dir, resume=False) -> TrainResult     train or continue a run
    load_model(path, which="best")       -> (model, info)   a trained model in eval() mode
    read_checkpoint_info(path)           -> CheckpointInfo  without building the model
    find_checkpoint(path, which="best")  -> Path
    build_run(config)                    -> Run             data splits, preprocessor, model
"""

from genzoo.runs.checkpoint import CheckpointInfo, find_checkpoint, read_checkpoint_info, run_dir_of
from genzoo.runs.model import load_model
from genzoo.runs.config import DataConfig, RunConfig, TrainConfig, resolve_run_config, run_config_from_dict
from genzoo.train.run import Run, build_run
from genzoo.train.resume import resume_config
from genzoo.train.trainer import TrainResult, train

__all__ = [
    "CheckpointInfo",
    "DataConfig",
    "Run",
    "RunConfig",
    "TrainConfig",
    "TrainResult",
    "build_run",
    "find_checkpoint",
    "load_model",
    "read_checkpoint_info",
    "resolve_run_config",
    "resume_config",
    "run_config_from_dict",
    "run_dir_of",
    "train",
]
