"""Pages people look at: the HTML report of a run and the comparison of runs.

`write_report(run_dir)` writes RUN_DIR/summary/report.html; `compare` (compare.py) puts runs
side by side. Both read run directories through `data.load_run`.
"""

from __future__ import annotations

from .html import default_path, write_report, write_report_quietly

__all__ = ["default_path", "write_report", "write_report_quietly"]
