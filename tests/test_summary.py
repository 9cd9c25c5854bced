"""Summary rows and group averages (spec A.11, A.12)."""

from __future__ import annotations

import pytest

from compasslite.benchmark import Benchmark, Group, Subset
from compasslite.scoring import accuracy
from compasslite.summary import build, group_value, to_csv, to_markdown, to_text
from compasslite.types import DatasetResult, Turn


@pytest.mark.parametrize(
    ("group", "values", "metric", "expected", "problem"),
    [
        (Group("g", ("a", "b")), {"a": 50.0, "b": 100.0}, "naive_average", 75.0, None),
        (Group("g", ("a", "b"), (1.0, 3.0)), {"a": 50.0, "b": 100.0}, "weighted_average", 87.5, None),
        (Group("g", ("a", "b")), {"a": None, "b": None}, "naive_average", None, None),
        (Group("g", ("a", "b")), {"a": 10.0, "b": None}, "naive_average", None, "missing metrics"),
    ],
)
def test_group_value(group, values, metric, expected, problem):
    name, value, why = group_value(group, values)
    assert name == metric and value == expected
    assert (why is None) == (problem is None) and (problem is None or problem in why)


def _sub(abbr: str, metrics: tuple[str, ...]) -> Subset:
    return Subset(abbr, "abc123", (), lambda d: [], (Turn.human("x"),), "y", accuracy, metrics)


def test_rows_metric_order_groups_and_footer():
    bench = Benchmark(
        "fam",
        (
            _sub("s1", ("score", "pass", "timeout")),
            _sub("s2", ("rouge1", "rouge2")),
            _sub("s3", ("accuracy",)),
        ),
        (Group("fam-avg", ("s1", "s2")),),
    )
    results = {
        "m": {
            "s1": DatasetResult(
                "s1", {"pass": 3, "score": 60.0, "timeout": 0}, total=5, answered=5, errors=0, missing=0
            ),
            "s2": DatasetResult(
                "s2",
                {"rouge2": 10.0, "rouge1": 40.0},
                total=5,
                answered=4,
                errors=1,
                missing=0,
                error_messages={"HTTP 503: busy (gave up after attempt 6)": 1},
            ),  # fmt: skip
        }
    }
    summ = build([bench], results)
    assert to_csv(summ).splitlines() == [
        "dataset,version,metric,mode,m",
        "s1,abc123,score,gen,60.00",
        "s1,abc123,pass,gen,3.00",
        "s1,abc123,timeout,gen,0.00",
        "s2,abc123,rouge1,gen,40.00",
        "s2,abc123,rouge2,gen,10.00",
        "s3,-,-,-,-",
        "fam-avg,-,naive_average,gen,50.00",  # first metrics: score 60 and rouge1 40
    ]
    text = to_text(summ)
    assert "4/5 scored; 1 failed request(s), e.g. HTTP 503: busy" in text
    assert "group averages" in text
    assert "**fam-avg** (average)" in to_markdown(summ)


def test_progress_clock_of_a_dataset_starts_at_its_first_request(monkeypatch):
    """A dataset queued behind another shows its own rate, not one diluted by its wait."""
    import io

    from rich.console import Console

    from compasslite import progress

    now = [100.0]
    monkeypatch.setattr(progress.time, "monotonic", lambda: now[0])
    out = io.StringIO()
    board = progress.ProgressBoard(console=Console(file=out, width=200, force_terminal=False))
    with board:
        board.add("gsm8k", 4)
        board.add("ARC_c", 4)
        board.add("done_before", 2, already_done=2)
        board.begin("gsm8k")
        now[0] += 10.0
        for _ in range(4):
            board.advance("gsm8k")
        assert board.rate("ARC_c") is None  # not started: no rate, no clock
        board.begin("ARC_c")
        now[0] += 2.0
        for _ in range(4):
            board.advance("ARC_c", error=True)
    assert board.rate("gsm8k") == 4 / 10.0
    assert board.rate("ARC_c") == 4 / 2.0  # not 4 / 12
    assert board.rate("done_before") is None
    # No terminal: plain lines, one at each dataset's end (and every few seconds).
    lines = out.getvalue().splitlines()
    assert "gsm8k: 4/4 (100%), 0.4 req/s, 0 failed, elapsed 10 s, ETA done" in lines
    assert "ARC_c: 4/4 (100%), 2.0 req/s, 4 failed, elapsed 2 s, ETA done" in lines


def test_progress_at_a_terminal_labels_its_columns_and_leaves_waiting_bars_empty():
    import io

    from rich.console import Console

    from compasslite import progress

    out = io.StringIO()
    board = progress.ProgressBoard(console=Console(file=out, width=160, force_terminal=True, color_system=None))
    with board:
        board.add("gsm8k", 40)
        board.add("ARC_c", 40)
        board.begin("gsm8k")
        for _ in range(10):
            board.advance("gsm8k")
    final = out.getvalue().split("\r")[-1]
    waiting = next(line for line in final.splitlines() if "ARC_c" in line)
    assert "0/40" in waiting and "━" not in waiting.split("0/40")[0]  # an empty bar, not a full pulse
    assert "elapsed" in waiting and "ETA" in waiting
    running = next(line for line in final.splitlines() if "gsm8k" in line)
    assert "10/40" in running and "elapsed" in running and "ETA" in running


def test_progress_without_a_terminal_prints_lines_every_few_seconds(monkeypatch):
    import io

    from rich.console import Console

    from compasslite import progress

    now = [0.0]
    monkeypatch.setattr(progress.time, "monotonic", lambda: now[0])
    out = io.StringIO()
    board = progress.ProgressBoard(console=Console(file=out, width=200, force_terminal=False), plain_interval_s=5)
    with board:
        board.add("mmlu", 100)
        board.begin("mmlu")
        for _ in range(60):
            now[0] += 0.5
            board.advance("mmlu")
    lines = [line for line in out.getvalue().splitlines() if line.startswith("mmlu:")]
    assert len(lines) == 6  # at 5, 10, ... 30 s
    assert lines[0] == "mmlu: 10/100 (10%), 2.0 req/s, 0 failed, elapsed 5 s, ETA 45 s"
