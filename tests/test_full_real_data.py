"""Every dataset on the whole of its real data, end to end through the built-in server:
natural correct replies score the maximum (100, or the documented maximum where OpenCompass's
own extraction cannot reach it), a deterministic mix scores exactly what the gold labels say.
gsm8k, ARC_c, mmlu and ceval are covered in test_core_run.py."""

from __future__ import annotations

import pytest

from compasslite import benchmark
from compasslite.runner import execute, load_plans
from compasslite.testing import oracle
from conftest import REAL_DATA
from helpers import config, oracle_mapping

pytestmark = [pytest.mark.realdata, pytest.mark.slow]

CORE = {"gsm8k", "ARC_c", "mmlu", "ceval"}


def _with_real_data() -> list[str]:
    names = []
    for name, bench in benchmark.available().items():
        if name in CORE:
            continue
        if REAL_DATA.is_dir() and any(s.files and (REAL_DATA / s.files[0]).is_file() for s in bench.subsets):
            names.append(name)
    return names


@pytest.mark.parametrize("name", _with_real_data())
@pytest.mark.parametrize("mode", ["right", "mixed"])
def test_full_dataset(name, mode, tmp_path, fake_server):
    """The score through the server equals the score of the same replies computed directly
    from the gold references (the scorers themselves are checked against the spec, row by
    row, in each family's tests); correct replies reach at least 95 (GaokaoBench's
    never-scored subsets aside: 0)."""
    cfg = config([name], REAL_DATA, tmp_path, concurrency=64)
    skipped: dict[str, str] = {}
    plans = load_plans(benchmark.resolve([name]), REAL_DATA, None, "first", skipped)
    assert plans
    mapping, _ = oracle_mapping(cfg, plans, mode)
    server = fake_server(oracle(mapping, "NO ORACLE REPLY"))
    cfg.models[0].openai_api_base = server.base_url
    out = execute(cfg)
    results = out.results["fake-model"]
    model = cfg.models[0]
    for plan in plans:
        sub = plan.subset
        res = results[sub.abbr]
        assert res.answered == len(plan.indices) and res.errors == 0
        rows = [plan.rows[i] for i in plan.indices]
        replies = [mapping[plan.prompt(i, model).text].strip() for i in plan.indices]
        direct = sub.score([sub.extract(r) for r in replies], [sub.reference_of(r) for r in rows], rows)
        metric = sub.metrics[0]
        assert res.metrics[metric] == pytest.approx(direct.metrics[metric]), sub.abbr
        never_scored = bool(direct.details) and all(d.get("scored") is False for d in direct.details)
        if mode == "right" and not never_scored:
            assert res.metrics[metric] >= 95.0, (sub.abbr, res.metrics[metric])
    assert sum(server.requests.values()) == sum(len(p.indices) for p in plans)
