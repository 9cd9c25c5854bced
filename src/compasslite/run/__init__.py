"""From a RunConfig to scores on disk, in layers that import one way:

    plan      which rows of which sub-datasets, their prompts and output budgets
    score     a pure function of stored replies and the data
    outputs   predictions/, results/ and the summary, written from records/
    infer     asking the server(s): passes, healing rounds, replicas, the Ray pass
    pipeline  a whole run (`execute`) and `rescore`

`compasslite.runner` re-exports these names for older imports."""

from .pipeline import RunOutcome, execute, load_resume_config, rescore
from .plan import Plan, load_plans

__all__ = ["Plan", "RunOutcome", "execute", "load_plans", "load_resume_config", "rescore"]
