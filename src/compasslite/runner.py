"""The run API under its older name: everything lives in `compasslite.run` (plan, score,
outputs, infer, pipeline); this module re-exports it so existing imports keep working."""

from __future__ import annotations

from .run.infer import (
    Redactor,
    heal,
    infer_model,
    make_endpoint,
    probe,
    ray_infer,
    round_backoff,
    run_pass,
    too_long_record,
)
from .run.outputs import (
    NOT_SCORED,
    ScoringStop,
    write_outputs,
    write_outputs_from_records,
    write_summary,
)
from .run.pipeline import RunOutcome, dumps, execute, load_resume_config, rescore
from .run.plan import (
    CONTEXT_MARGIN,
    LOCAL_DEMO_MAX_TOKENS,
    Plan,
    budget_notes,
    check_budget_keys,
    fetch_missing_data,
    load_plans,
    output_budget,
    template_fingerprint,
)
from .run.score import combine_repeats, score_plan

__all__ = [
    "CONTEXT_MARGIN", "LOCAL_DEMO_MAX_TOKENS", "NOT_SCORED", "Plan", "Redactor", "RunOutcome", "ScoringStop",
    "budget_notes", "check_budget_keys", "combine_repeats", "dumps", "execute", "fetch_missing_data", "heal",
    "infer_model", "load_plans", "load_resume_config", "make_endpoint", "output_budget", "probe", "ray_infer",
    "rescore", "round_backoff", "run_pass", "score_plan", "template_fingerprint", "too_long_record",
    "write_outputs", "write_outputs_from_records", "write_summary",
]  # fmt: skip
