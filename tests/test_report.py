"""The report and compare pages without a browser: the loader, the page file, the bootstrap,
the refusal to compare different prompts, and the commands."""

from __future__ import annotations

import json
import logging
import random
import re
import statistics
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from compasslite.cli import main
from compasslite.errors import CompassliteError
from compasslite.report.compare import (
    IncomparableError,
    _binomial,
    bootstrap_binary,
    bootstrap_values,
    compare,
    interval,
)
from compasslite.report.data import index_records, load_run
from compasslite.rundir import read_records
from report_runs import HOSTILE, make_run, rule


@pytest.fixture(scope="module")
def two_model_run(merged_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("report_run")
    out = make_run(
        merged_data, work, [("alpha", rule("a", 70)), ("beta", rule("b", 40))],
        fault_rate=0.08, hostile_at=frozenset({("Xsum", 1), ("Xsum", 2), ("gsm8k", 1)}),
    )  # fmt: skip
    return out.run_dir.root


def _results(root: Path, model: str) -> dict[str, dict]:
    return {p.stem: json.loads(p.read_text()) for p in sorted((root / "results" / model).glob("*.json"))}


def test_loader_counts_match_the_results_and_records(two_model_run: Path) -> None:
    data = load_run(two_model_run)
    assert data.models == ["alpha", "beta"]
    assert data.manifest["status"] == "finished"
    for model in data.models:
        results = _results(two_model_run, model)
        records = read_records(two_model_run / "records" / f"{model}.jsonl")
        facts = {f.abbr: f for f in data.subsets if f.model == model}
        assert set(facts) == set(results)
        for abbr, body in results.items():
            f = facts[abbr]
            assert (f.total, f.scored, f.failed) == (
                body["samples"]["total"], body["samples"]["scored"], body["samples"]["failed_requests"]
            )  # fmt: skip
            verdicts = [d["correct"] for d in body["details"] if "correct" in d]
            assert (f.correct, f.wrong) == (sum(verdicts), len(verdicts) - sum(verdicts))
            samples = list(data.samples(model, abbr))
            assert [s.index for s in samples] == f.indices
            for s in samples:
                rec = records[(abbr, s.index)]
                assert s.prompt == rec.origin_prompt and s.reply == rec.prediction
                assert s.state == ("failed" if rec.error else s.state)
                if rec.error:
                    assert s.verdict is None and s.error == rec.error
            if abbr == "Xsum":  # ROUGE: no verdict, a per-sample score
                assert all(s.verdict is None for s in samples)
                assert any(s.score is not None for s in samples if s.state == "scored")
    assert sum(f.failed for f in data.subsets) > 0, "the fault rate should fail some requests"
    assert data.tokens["total"] > 0
    assert sum(len(v) for v in data.latencies.values()) == sum(f.scored for f in data.subsets)


def test_index_records_keeps_the_last_line_but_never_an_error_over_an_answer(tmp_path: Path) -> None:
    base = {"abbr": "gsm8k", "fingerprint": "f1", "origin_prompt": "Q", "error": None, "attempts": 1,
            "latency_s": 0.5, "usage": {"prompt_tokens": 3, "completion_tokens": 2}}  # fmt: skip
    lines = [
        {**base, "index": 0, "prediction": "first"},
        {**base, "index": 0, "prediction": "second"},
        {**base, "index": 1, "prediction": "answer"},
        {**base, "index": 1, "prediction": None, "error": "HTTP 500"},  # same prompt: the answer stays
        {**base, "index": 2, "prediction": "old", "fingerprint": "f0"},
        {**base, "index": 2, "prediction": None, "error": "HTTP 500", "fingerprint": "f2"},  # new prompt
    ]
    path = tmp_path / "r.jsonl"
    path.write_bytes(b"".join(orjson.dumps(x) + b"\n" for x in lines) + b'{"abbr": "gsm8k", "ind')
    index = index_records(path)
    expected = read_records(path)
    assert set(index) == set(expected)
    for key, info in index.items():
        with open(path, "rb") as f:
            f.seek(info.offset)
            line = orjson.loads(f.readline())
        assert (
            line["prediction"] == expected[key].prediction
            and line["fingerprint"] == expected[key].fingerprint
        )
    assert not index[("gsm8k", 2)].answered


def test_report_is_written_at_the_end_of_a_run_and_escapes_hostile_replies(two_model_run: Path) -> None:
    page = (two_model_run / "summary" / "report.html").read_text()
    assert page.startswith("<!doctype html>")
    # The hostile reply is in the run, but nowhere in the page as markup: its </script> cannot
    # end a block, so the page has exactly its own script elements.
    assert HOSTILE in {r.prediction for r in read_records(two_model_run / "records" / "alpha.jsonl").values()}
    assert "__pwned" not in page and "onerror" not in page
    data = load_run(two_model_run)
    assert page.count("<script") == 2 + len(data.subsets)  # meta, code, one chunk per sub-dataset
    assert page.count("</script>") == page.count("<script")
    # Self-contained: nothing fetched from anywhere.
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", page)


def test_a_report_that_cannot_be_written_is_a_warning_not_a_failed_run(
    merged_data: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    first = make_run(merged_data, tmp_path, [("alpha", rule("a", 50))], datasets=["ARC_c"], limit=3)
    target = first.run_dir.root / "summary" / "report.html"
    target.unlink()
    target.mkdir()  # a directory where the page should go: writing it fails
    (target / "keep").write_text("x")
    from compasslite.runner import rescore

    with caplog.at_level(logging.WARNING, logger="compasslite"):
        outcome = rescore(first.run_dir.root)
    assert outcome.summary.rows
    assert any("could not write the HTML report" in r.getMessage() for r in caplog.records)


def test_report_command_writes_where_asked(
    two_model_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "r.html"
    assert main(["report", str(two_model_run), "-o", str(out)]) == 0
    assert f"Report: {out}" in capsys.readouterr().out
    assert out.stat().st_size > 1000
    assert main(["report", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "not a compasslite run directory" in err and "Traceback" not in err


# ----------------------------------------------------------------- bootstrap
def test_binomial_draws_have_the_binomial_mean_and_variance() -> None:
    rng = random.Random(1)
    for n, p in ((40, 0.1), (1000, 0.3), (200, 0.9)):
        draws = [_binomial(rng, n, p) for _ in range(4000)]
        assert statistics.fmean(draws) == pytest.approx(n * p, rel=0.03)
        assert statistics.variance(draws) == pytest.approx(n * p * (1 - p), rel=0.12)
        assert all(0 <= d <= n for d in draws)


def test_bootstrap_interval_matches_a_direct_resampling_and_is_seeded() -> None:
    # 200 pairs: 30 fixed (+1), 10 broke (-1), the rest equal.
    diffs = [100.0] * 30 + [-100.0] * 10 + [0.0] * 160
    fast = bootstrap_binary(30, 10, 200, random.Random(5))
    direct = bootstrap_values(diffs, random.Random(5))
    assert len(fast) == len(direct) == 1000
    lo_f, hi_f = interval(fast)  # type: ignore[misc]
    lo_d, hi_d = interval(direct)  # type: ignore[misc]
    assert statistics.fmean(fast) == pytest.approx(10.0, abs=0.5)
    assert lo_f == pytest.approx(lo_d, abs=1.5) and hi_f == pytest.approx(hi_d, abs=1.5)
    assert lo_f < 10.0 < hi_f and lo_f > 0  # a clear improvement: the interval excludes 0
    assert bootstrap_binary(30, 10, 200, random.Random(5)) == fast
    assert interval(bootstrap_binary(0, 0, 50, random.Random(1))) == (0.0, 0.0)


# ------------------------------------------------------------------- compare
@pytest.fixture(scope="module")
def second_run(merged_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("report_run2")
    out = make_run(merged_data, work, [("alpha", rule("c", 70)), ("beta", rule("b", 40))], fault_rate=0.08)
    return out.run_dir.root


def test_compare_pairs_each_model_with_the_same_model_and_counts_flips(
    two_model_run: Path, second_run: Path
) -> None:
    comp = compare([two_model_run, second_run])
    labels = [c.label for c in comp.columns]
    assert labels == [f"{two_model_run.name}/alpha", f"{two_model_run.name}/beta",
                      f"{second_run.name}/alpha", f"{second_run.name}/beta"]  # fmt: skip
    assert comp.base_of == [None, None, 0, 1]
    first, second = load_run(two_model_run), load_run(second_run)
    for row in comp.rows:
        if row.is_group:
            continue
        for ci, bi in ((2, 0), (3, 1)):
            model = comp.columns[ci].model
            a = {s.index: s.verdict for s in first.samples(model, row.name)}
            b = {s.index: s.verdict for s in second.samples(model, row.name)}
            both = [i for i in a if a[i] is not None and b.get(i) is not None]
            d = row.deltas[ci]
            assert d is not None
            assert d.fixed == sum(1 for i in both if b[i] and not a[i]), row.name
            assert d.broke == sum(1 for i in both if a[i] and not b[i]), row.name
            if row.name != "Xsum":
                assert d.paired == len(both)
            if row.scores[bi] is not None and row.scores[ci] is not None:
                assert d.delta == pytest.approx(row.scores[ci] - row.scores[bi])
            if d.low is not None:
                assert d.low <= d.high  # type: ignore[operator]
    # beta answered by the same rule in both runs: nothing flipped except through failed requests.
    beta = [r.deltas[3] for r in comp.rows if not r.is_group]
    assert all(d is not None and d.fixed == d.broke == 0 for d in beta)
    assert sum(d.fixed + d.broke for r in comp.rows if not r.is_group for d in [r.deltas[2]] if d) > 0


def test_compare_refuses_different_samples_or_prompts_naming_them(
    two_model_run: Path, merged_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fewer = make_run(
        merged_data, tmp_path / "a", [("alpha", rule("a", 70))], datasets=["ARC_c", "BoolQ"], limit=2
    )
    with pytest.raises(IncomparableError, match=r"ARC-c \(selected samples\); BoolQ \(selected samples\)"):
        compare([two_model_run, fewer.run_dir.root])
    meta = make_run(
        merged_data, tmp_path / "b", [("alpha", rule("a", 70))], datasets=["gsm8k"], meta_template=True
    )
    assert main(["compare", str(two_model_run), str(meta.run_dir.root), "-o", str(tmp_path / "c.html")]) == 2
    err = capsys.readouterr().err
    assert "cannot compare" in err and "gsm8k (prompts sent)" in err and "Traceback" not in err
    assert len(err.strip().splitlines()) <= 3  # one message (wrapped at most by the terminal width)
    assert not (tmp_path / "c.html").exists()


def test_compare_command_prints_a_table_and_writes_the_page(
    two_model_run: Path, second_run: Path, tmp_path: Path
) -> None:
    out = tmp_path / "cmp.html"
    proc = subprocess.run(
        [sys.executable, "-m", "compasslite.cli", "compare", str(two_model_run), str(second_run), "-o", str(out)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert f"{second_run.name}/alpha vs {two_model_run.name}/alpha" in proc.stdout
    assert "95% CI" in proc.stdout and f"Comparison page: {out.resolve()}" in proc.stdout
    page = out.read_text()
    assert page.count("<script") == page.count("</script>") and "__pwned" not in page


def test_compare_of_one_run_puts_its_models_side_by_side(two_model_run: Path) -> None:
    comp = compare([two_model_run])
    assert [c.model for c in comp.columns] == ["alpha", "beta"] and comp.base_of == [None, 0]
    gsm8k = next(r for r in comp.rows if r.name == "gsm8k")
    assert gsm8k.deltas[1] is not None and gsm8k.deltas[1].paired > 0
    with pytest.raises(CompassliteError, match="at least two"):
        compare([])
