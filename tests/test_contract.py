"""The contract every registered dataset keeps, end to end through the real client and the
built-in server: it loads (real data, or our fixture where the real file is absent), renders
deterministic prompts, natural correct replies score the maximum, and a deterministic mix of
right and wrong replies scores exactly what the gold labels say."""

from __future__ import annotations

import pytest

from compasslite import benchmark
from compasslite.runner import execute
from compasslite.testing import oracle
from conftest import REAL_DATA
from helpers import config, oracle_mapping, plans_for
from oracles import all_oracles, expected_scorers

LIMIT = 6
RATE_METRICS = ("accuracy", "score", "humaneval_pass@1")


def _names() -> list[str]:
    return list(benchmark.available())


def test_every_registered_dataset_has_an_oracle():
    missing = sorted(set(_names()) - set(all_oracles()))
    assert not missing, f"datasets without oracles: {missing}"


def _skip_without_files(names: list[str], data) -> None:
    """Datasets whose files exist only in the real data (mmlu, ceval, bbh, agieval and
    GaokaoBench have fixtures for a few subsets only) cannot run without it: skip, naming what
    is missing. With the real data present a missing file stays a failure."""
    if REAL_DATA.is_dir():
        return
    missing = [
        f"{name}: {sub.abbr} ({rel})"
        for name in names
        for sub in benchmark.get(name).subsets
        for rel in sub.files
        if not (data / rel).is_file()
    ]
    if missing:
        more = f" and {len(missing) - 1} more file(s)" if len(missing) > 1 else ""
        pytest.skip(f"real data not found at {REAL_DATA}; the fixtures lack {missing[0]}{more}")


@pytest.mark.parametrize("name", _names())
def test_contract(name, tmp_path, fake_server, merged_data):
    data = merged_data
    _skip_without_files([name], data)
    cfg = config([name], data, tmp_path / "right", limit=LIMIT)
    plans = plans_for(cfg)
    assert plans, f"{name}: nothing loaded from {data}"
    for plan in plans:
        a = [plan.prompt(i, cfg.models[0]).text for i in plan.indices]
        b = [plan.prompt(i, cfg.models[0]).text for i in plan.indices]
        assert a == b and all(a), f"{plan.subset.abbr}: prompts are not deterministic or empty"

    mapping, truth = oracle_mapping(cfg, plans, "right")
    server = fake_server(oracle(mapping, "NO ORACLE REPLY"))
    cfg.models[0].openai_api_base = server.base_url
    out = execute(cfg)
    results = out.results["fake-model"]
    for plan in plans:
        res = results[plan.subset.abbr]
        assert res.errors == 0 and res.answered == len(plan.indices)
        first_metric = plan.subset.metrics[0]
        value = res.metrics[first_metric]
        if first_metric in RATE_METRICS:
            assert value == pytest.approx(_expected(name, plan, truth)), plan.subset.abbr
        else:  # ROUGE: the gold text itself scores (nearly) full marks
            assert value >= 99.0, (plan.subset.abbr, value)

    # A deterministic right/wrong mix scores exactly what the gold labels say.
    cfg = config([name], data, tmp_path / "mixed", limit=LIMIT)
    mapping, truth = oracle_mapping(cfg, plans, "mixed")
    server = fake_server(oracle(mapping, "NO ORACLE REPLY"))
    cfg.models[0].openai_api_base = server.base_url
    results = execute(cfg).results["fake-model"]
    for plan in plans:
        first_metric = plan.subset.metrics[0]
        if first_metric in RATE_METRICS:
            got = results[plan.subset.abbr].metrics[first_metric]
            assert got == pytest.approx(_expected(name, plan, truth)), plan.subset.abbr


def _expected(name: str, plan, truth: dict[str, list[bool]]) -> float:
    flags = truth[plan.subset.abbr]
    fn = expected_scorers().get(name)
    if fn is not None:
        return fn(name, plan.subset, [plan.rows[i] for i in plan.indices], flags)
    return 100.0 * sum(flags) / len(flags)


def test_the_whole_suite_in_one_run_gives_one_summary(tmp_path, fake_server, merged_data):
    """All 48 datasets, --limit 2, one run against the built-in server: one summary table with
    a value for every one of the 241 sub-datasets, and every group average."""
    from compasslite.benchmark import SUITE

    assert list(benchmark.available()) == list(SUITE), "not all 48 datasets are registered"
    _skip_without_files(list(SUITE), merged_data)
    cfg = config(list(SUITE), merged_data, tmp_path, limit=2)
    plans = plans_for(cfg)
    assert len(plans) == 241
    mapping, _ = oracle_mapping(cfg, plans, "right")
    server = fake_server(oracle(mapping, "NO ORACLE REPLY"))
    cfg.models[0].openai_api_base = server.base_url
    out = execute(cfg)
    rows = {(r.dataset, r.metric): r.values[0] for r in out.summary.rows}
    for plan in plans:
        value = rows[(plan.subset.abbr, plan.subset.metrics[0])]
        assert value != "-", plan.subset.abbr
    groups = [r for r in out.summary.rows if r.is_group]
    assert {g.dataset for g in groups} >= {"mmlu", "mmlu-weighted", "ceval", "bbh", "agieval", "GaokaoBench"}
    assert all(g.values[0] != "-" for g in groups)
    txt = (out.run_dir.root / f"summary/summary_{out.run_dir.root.name}.txt").read_text()
    assert txt.count("\n") > 241
