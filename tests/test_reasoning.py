"""Thinking models: which part of a reply is scored (`think`), the separate reasoning field,
and replies cut off inside their thinking, end to end through the built-in server."""

from __future__ import annotations

import json

import pytest

from compasslite.reasoning import answer_part
from compasslite.runner import execute, rescore
from compasslite.testing import oracle
from helpers import config, oracle_mapping, plans_for

# (reply, finish_reason, reasoning field) -> (auto, strip) as (scored text, unfinished)
CASES = [
    ("The answer is B.", "stop", None, ("The answer is B.", False), ("The answer is B.", False)),
    ("<think>A? no.</think>\n\nThe answer is B.", "stop", None, ("The answer is B.", False), ("The answer is B.", False)),
    ("<think>a</think>x<think>b</think> B", "stop", None, ("B", False), ("x B", False)),
    ("A looks right... no.\n</think>\n\nB", "stop", None, ("B", False), ("B", False)),
    ("<think>Option A could fit, but", "length", None, ("", True), ("", True)),
    ("  <think>Option A", "stop", None, ("", True), ("", True)),
    ("The answer is B. <think>more", "length", None, ("The answer is B. <think>more", False), ("The answer is B.", False)),
    ("", "length", "Option A could fit", ("", True), ("", True)),
    ("B", "stop", "Option A could fit", ("B", False), ("B", False)),
    ("<think></think>", "stop", None, ("", False), ("", False)),
]  # fmt: skip


@pytest.mark.parametrize("reply,finish,reasoning,auto,strip", CASES)
def test_answer_part(reply, finish, reasoning, auto, strip):
    for mode, (text, unfinished) in (("auto", auto), ("strip", strip)):
        got = answer_part(reply, mode, finish_reason=finish, reasoning=reasoning)
        assert (got.text, got.unfinished) == (text, unfinished), mode
    assert answer_part(reply, "keep", finish_reason=finish, reasoning=reasoning).text == reply


DATASETS = ["gsm8k", "mmlu", "ceval", "bbh", "humaneval"]


def _run(tmp_path, name, fake_server, data, mapping, shape, think, **kw):
    cfg = config(DATASETS, data, tmp_path / f"{name}-{shape}-{think}", limit=3, think=think, **kw)
    server = fake_server(oracle(mapping, "NO ORACLE REPLY"), reasoning=shape)
    cfg.models[0].openai_api_base = server.base_url
    return execute(cfg)


@pytest.fixture(scope="module")
def plain(merged_data, tmp_path_factory):
    """The right replies, and the scores they get from a model that does not think."""
    from compasslite.testing import FakeServer

    tmp = tmp_path_factory.mktemp("plain")
    cfg = config(DATASETS, merged_data, tmp, limit=3)
    mapping, _ = oracle_mapping(cfg, plans_for(cfg), "right")
    with FakeServer(oracle(mapping, "NO ORACLE REPLY")) as server:
        cfg.models[0].openai_api_base = server.base_url
        scores = execute(cfg).scores()["fake-model"]
    return mapping, scores


@pytest.mark.parametrize("shape", ["inline", "open", "field"])
def test_auto_scores_the_answer_after_the_thinking(shape, plain, merged_data, tmp_path, fake_server):
    mapping, expected = plain
    out = _run(tmp_path, "auto", fake_server, merged_data, mapping, shape, "auto")
    scores = out.scores()["fake-model"]
    assert scores == expected
    assert all(r.unfinished == 0 for r in out.results["fake-model"].values())
    records = [json.loads(line) for line in out.run_dir.records_path("fake-model").read_text().splitlines()]
    if shape == "field":  # the reasoning is kept beside the reply, never in it
        assert all(r["reasoning"].startswith("Okay, let me think.") for r in records)
        assert not any("<think>" in r["prediction"] or "Okay, let me" in r["prediction"] for r in records)
    else:  # the raw reply, thinking included, is what the records and predictions keep
        assert all("Okay, let me think." in r["prediction"] for r in records)


@pytest.mark.parametrize("shape", ["inline", "open"])
def test_keep_scores_the_whole_reply_as_opencompass_does(shape, plain, merged_data, tmp_path, fake_server):
    """keep is today's (OpenCompass's) behaviour: the thinking's capital letters and numbers
    are taken for answers, so the scores fall, and they equal scoring the raw replies directly."""
    mapping, expected = plain
    out = _run(tmp_path, "keep", fake_server, merged_data, mapping, shape, "keep")
    scores = out.scores()["fake-model"]
    run_dir = out.run_dir.root
    for plan in plans_for(config(DATASETS, merged_data, tmp_path, limit=3)):
        sub = plan.subset
        preds = json.loads((run_dir / "predictions" / "fake-model" / f"{sub.abbr}.json").read_text())
        replies = [preds[str(k)]["prediction"] for k in range(len(plan.indices))]
        rows = [plan.rows[i] for i in plan.indices]
        direct = sub.score([sub.extract(r) for r in replies], [sub.reference_of(r) for r in rows], rows)
        metric = sub.metrics[0]
        assert scores[sub.abbr][metric] == pytest.approx(direct.metrics[metric]), sub.abbr
    # gsm8k takes the last number (the answer's), mmlu's patterns find "the answer is C" first;
    # ceval's first-capital extractor takes the "O" of "Okay, let me think".
    assert scores["gsm8k"]["accuracy"] == expected["gsm8k"]["accuracy"]
    assert scores["ceval"]["naive_average"] < expected["ceval"]["naive_average"] / 2
    # The same stored replies rescored with auto give the answers' scores: scoring is a pure
    # function of the records and the think mode in the manifest.
    manifest = json.loads((run_dir / "manifest.json").read_text())
    manifest["config"]["think"] = "auto"
    (run_dir / "manifest.json").write_text(json.dumps(manifest))
    assert rescore(run_dir).scores()["fake-model"] == expected


@pytest.mark.parametrize("shape", ["inline", "field", "open"])
def test_thinking_cut_off_by_max_tokens_is_unfinished_reasoning(
    shape, plain, merged_data, tmp_path, fake_server
):
    mapping, _ = plain
    out = _run(tmp_path, "cut", fake_server, merged_data, mapping, shape, "auto", model={"max_tokens_cap": 8})
    results = out.results["fake-model"]
    summary = (out.run_dir.root / f"summary/summary_{out.run_dir.root.name}.txt").read_text()
    if shape == "open":
        # R1-style: the template opened the block, so a reply cut inside it carries no tag at
        # all and cannot be told from an answer; it is scored as it stands.
        assert all(r.unfinished == 0 for r in results.values())
        assert "Unfinished reasoning" not in summary
        return
    for abbr, res in results.items():
        assert res.unfinished == res.answered == res.total, abbr
        body = json.loads((out.run_dir.root / "results" / "fake-model" / f"{abbr}.json").read_text())
        assert body["samples"]["unfinished_reasoning"] == res.total
    # Scored as empty answers: nothing is right.
    assert out.scores()["fake-model"]["gsm8k"]["accuracy"] == 0.0
    assert out.scores()["fake-model"]["openai_humaneval"]["humaneval_pass@1"] == 0.0
    assert "Unfinished reasoning" in summary and "ended inside their thinking" in summary


# ------------------------------------------------------------- output budget, passthrough
class Recorder:
    """A policy that keeps every request body it answers."""

    def __init__(self, reply: str = "The answer is A."):
        self.bodies: list[dict] = []
        self.reply = reply

    def __call__(self, prompt: str, request: dict) -> str:
        self.bodies.append(request)
        return self.reply


def test_max_out_len_overrides_the_datasets_own_and_the_run_says_so(merged_data, tmp_path, fake_server):
    rec = Recorder()
    server = fake_server(rec, context_length=None)
    cfg = config(["gsm8k", "ARC_c", "bbh"], merged_data, tmp_path, limit=2,
                 max_out_len={"gsm8k": 4096, "bbh-navigate": 300, "*": 1000},
                 model={"openai_api_base": server.base_url})  # fmt: skip
    out = execute(cfg)
    asked = {}
    for body in rec.bodies:
        asked.setdefault(body["max_tokens"], 0)
        asked[body["max_tokens"]] += 1
    # gsm8k 2 x 4096; bbh-navigate 2 x 300; ARC_c and the other 26 bbh tasks 1000
    assert asked == {4096: 2, 300: 2, 1000: 2 + 26 * 2}
    manifest = json.loads((out.run_dir.root / "manifest.json").read_text())
    assert manifest["datasets"]["gsm8k"]["gsm8k"]["max_out_len"] == {"fake-model": 4096}
    assert manifest["datasets"]["bbh"]["bbh-navigate"]["max_out_len"] == {"fake-model": 300}
    summary = (out.run_dir.root / f"summary/summary_{out.run_dir.root.name}.txt").read_text()
    assert "Output budget (max_out_len) of fake-model: gsm8k 4096, ARC_c 1000, bbh 300/1000" in summary


def test_without_an_override_each_dataset_keeps_its_own_budget(merged_data, tmp_path, fake_server):
    rec = Recorder()
    server = fake_server(rec, context_length=None)
    cfg = config(["gsm8k", "ARC_c"], merged_data, tmp_path, limit=1, model={"openai_api_base": server.base_url})
    out = execute(cfg)
    assert sorted(b["max_tokens"] for b in rec.bodies) == [512, 2048]  # gsm8k's own, the model's default
    assert "Output budget" not in (out.run_dir.root / f"summary/summary_{out.run_dir.root.name}.txt").read_text()


def test_an_unknown_max_out_len_key_is_one_clear_error(merged_data, tmp_path):
    from compasslite.errors import CompassliteError

    cfg = config(["gsm8k"], merged_data, tmp_path, limit=1, max_out_len={"gsm8": 10})
    with pytest.raises(CompassliteError, match="max_out_len names 'gsm8', not a dataset or sub-dataset"):
        execute(cfg)
    assert not any(tmp_path.iterdir())


def test_request_options_pass_through_untouched(merged_data, tmp_path, fake_server):
    rec = Recorder()
    server = fake_server(rec)
    extra = {"chat_template_kwargs": {"enable_thinking": False}, "top_p": 0.8, "top_k": 20, "min_p": 0.05,
             "repetition_penalty": 1.05}  # fmt: skip
    cfg = config(["ARC_c"], merged_data, tmp_path, limit=2, model={
        "openai_api_base": server.base_url, "extra_body": extra, "stop": ["</s>", "Question:"], "seed": 7,
        "system_prompt": "You are a careful grader."})  # fmt: skip
    out = execute(cfg)
    assert len(rec.bodies) == 2
    for body in rec.bodies:
        for key, value in extra.items():
            assert body[key] == value
        assert body["stop"] == ["</s>", "Question:"] and body["seed"] == 7
        assert body["messages"][0] == {"role": "system", "content": "You are a careful grader."}
        assert body["messages"][1]["role"] == "user" and body["messages"][1]["content"].startswith("Question:")
    # The system prompt is part of what a stored reply belongs to: another one asks again.
    records = out.run_dir.records_path("fake-model").read_text().splitlines()
    without = config(["ARC_c"], merged_data, tmp_path / "b", limit=2, model={"openai_api_base": server.base_url})
    from helpers import plans_for as plans

    plan = plans(without)[0]
    assert json.loads(records[0])["fingerprint"] != plan.prompt(plan.indices[0], without.models[0]).fingerprint


@pytest.mark.parametrize("key", ["max_tokens", "messages", "temperature"])
def test_extra_body_may_not_set_what_compasslite_sets(key, merged_data, tmp_path):
    from compasslite.errors import ConfigError

    with pytest.raises(ConfigError, match=f"extra_body may not set '{key}'"):
        config(["ARC_c"], merged_data, tmp_path, model={"extra_body": {key: 1}})


def test_reasoning_preset_sets_and_says_what_it_set(merged_data, tmp_path, fake_server, caplog):
    import argparse

    from compasslite.cli import _add_run_args, _run_config_from_args

    parser = argparse.ArgumentParser()
    _add_run_args(parser)
    args = parser.parse_args(["--datasets", "gsm8k", "--api-base", "http://127.0.0.1:9/v1", "--model", "m",
                              "--reasoning", "--temperature", "0.7"])  # fmt: skip
    with caplog.at_level("WARNING", logger="compasslite"):
        cfg = _run_config_from_args(args)
    assert cfg.think == "auto" and cfg.max_out_len == 32768
    assert cfg.models[0].temperature == 0.7  # given explicitly: kept
    assert cfg.models[0].extra_body == {"top_p": 0.95}
    assert "--reasoning set: think auto, max_out_len 32768 (bounded by the server's context), top_p 0.95" in caplog.text


# ------------------------------------------------------------- repeats (avg@N)
def test_repeats_ask_each_sample_n_times_with_different_seeds_and_report_mean_and_std(
    merged_data, tmp_path, fake_server
):
    import statistics
    import zlib

    cfg0 = config(["ARC_c"], merged_data, tmp_path / "x", limit=8)
    plan = plans_for(cfg0)[0]
    gold = {plan.prompt(i, cfg0.models[0]).text: plan.rows[i]["answerKey"] for i in plan.indices}

    def policy(prompt: str, request: dict) -> str:
        # Right for about half the (prompt, seed) pairs, so the repeats differ.
        right = zlib.crc32(f"{request['seed']}|{prompt}".encode()) % 3 != 0
        letter = gold[prompt] if right else next(x for x in "ABCD" if x != gold[prompt])
        return f"The answer is {letter}."

    server = fake_server(policy)
    cfg = config(["ARC_c"], merged_data, tmp_path, limit=8, repeats=3,
                 model={"openai_api_base": server.base_url, "temperature": 0.7})  # fmt: skip
    out = execute(cfg)
    assert sum(server.requests.values()) == 3 * 8
    per_repeat = [
        100.0 * sum(zlib.crc32(f"{seed}|{p}".encode()) % 3 != 0 for p in gold) / 8 for seed in range(3)
    ]
    assert len(set(per_repeat)) > 1  # the repeats really differ
    res = out.results["fake-model"]["ARC-c"]
    assert res.metrics["accuracy"] == pytest.approx(statistics.fmean(per_repeat))
    assert res.repeat_std["accuracy"] == pytest.approx(statistics.stdev(per_repeat))
    assert [m["accuracy"] for m in res.repeat_metrics] == pytest.approx(per_repeat)
    root = out.run_dir.root
    assert sorted(p.name for p in (root / "records").iterdir()) == [
        "fake-model.jsonl", "fake-model.repeat1.jsonl", "fake-model.repeat2.jsonl"]  # fmt: skip
    body = json.loads((root / "results/fake-model/ARC-c.json").read_text())
    assert body["repeats"]["n"] == 3 and body["samples"]["total"] == 24
    summary = (root / f"summary/summary_{root.name}.csv").read_text().splitlines()
    assert summary[1].startswith("ARC-c,") and ",accuracy," in summary[1]
    assert summary[2].startswith("ARC-c,") and ",accuracy_std," in summary[2]
    assert float(summary[2].split(",")[-1]) == pytest.approx(round(statistics.stdev(per_repeat), 2))
    # Scoring is a pure function of the stored replies of every repeat.
    again = rescore(root).results["fake-model"]["ARC-c"]
    assert again.metrics == res.metrics and again.repeat_std == res.repeat_std
