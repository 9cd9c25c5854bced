"""Drop-in names for code written against EvalScope's OpenCompass backend."""

from __future__ import annotations

from pathlib import Path
from typing import Any


class OpenCompassBackendManager:
    """`OpenCompassBackendManager(config).run()` as in evalscope.backend.opencompass."""

    def __init__(self, config: dict[str, Any] | str | Path, **kwargs: Any):
        self.config = config

    @staticmethod
    def list_datasets(return_details: bool = False) -> list[str]:
        from .. import list_datasets

        return list_datasets()

    def run(self) -> dict[str, Any]:
        from .. import run_task

        cfg = self.config
        if isinstance(cfg, dict) and "eval_config" not in cfg:
            cfg = {"eval_backend": "OpenCompass", "eval_config": cfg}
        return run_task(cfg)
