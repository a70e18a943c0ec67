"""One rank of a multi-process test run, launched by `torchrun_launch.train_in_processes` under torchrun.

Reads the JSON spec named on the command line, trains (or resumes) with the one Trainer, and
writes OUT_DIR/rank{RANK}.json (status, step, final metrics, images drawn) and
OUT_DIR/rank{RANK}.safetensors (this rank's final model state_dict).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import train_test_models  # noqa: E402
from torchrun_launch import interrupting_at, recording_batches  # noqa: E402
from safetensors.torch import save_file  # noqa: E402

from genzoo.runs.config import run_config_from_dict  # noqa: E402
from genzoo.train.resume import resume_config  # noqa: E402
from genzoo.train.trainer import Trainer  # noqa: E402


def main(spec_path: str) -> None:
    spec = json.loads(Path(spec_path).read_text())
    train_test_models.register()
    resume = spec["config"] is None
    config = resume_config(spec["run_dir"], spec["resume_changes"]) if resume else run_config_from_dict(spec["config"])
    rank = int(os.environ["RANK"])
    interrupt_at = spec["interrupt_at"][rank] if isinstance(spec["interrupt_at"], list) else spec["interrupt_at"]
    with recording_batches() as seen, interrupting_at(interrupt_at):
        trainer = Trainer(config, spec["run_dir"], resume=resume)
        try:
            result = trainer.fit()
            state = {name: value.detach().cpu().contiguous() for name, value in trainer.module.state_dict().items()}
        finally:
            trainer.close()
    out_dir = Path(spec["out_dir"])
    save_file(state, out_dir / f"rank{rank}.safetensors")
    # close() must have dropped DDP before the process group (else a deadlock at exit, see Trainer._release_ddp).
    released = trainer.model is trainer.module and trainer.train_forward is trainer.module
    record = {"status": result.status, "step": result.step, "metrics": result.final_metrics, "batches": seen, "ddp_released": released}
    (out_dir / f"rank{rank}.json").write_text(json.dumps(record))


if __name__ == "__main__":
    main(sys.argv[1])
