"""compasslite: OpenCompass's numbers for any OpenAI-compatible endpoint, fast, light, resumable."""

from __future__ import annotations

from pathlib import Path
from typing import Any

__version__ = "0.1.0"

__all__ = ["__version__", "list_datasets", "run_task", "rescore"]


def list_datasets() -> list[str]:
    """The 48 short names of the suite (as EvalScope's OpenCompass backend lists them)."""
    from .benchmark import SUITE

    return list(SUITE)


def run_task(task_cfg: dict[str, Any] | str | Path, *, resume: str | Path | None = None) -> dict[str, Any]:
    """Run an evaluation from EvalScope's task config (dict, or a YAML/JSON path) or our own form.

    Returns {model: {abbr or group: {metric: value}}}."""
    from .config import from_task_config
    from .run import execute
    from .rundir import RunDir

    cfg = from_task_config(task_cfg)
    run_dir = None
    if resume is not None:
        run_dir = RunDir.open(resume)
    elif cfg.reuse:
        run_dir = RunDir.find(cfg.work_dir, cfg.reuse)
    return execute(cfg, resume=run_dir).scores()


def rescore(run_dir: str | Path, data_dir: str | Path | None = None) -> dict[str, Any]:
    """Recompute results and the summary of a run from its stored replies (no server)."""
    from .run import rescore as _rescore

    return _rescore(run_dir, data_dir).scores()
