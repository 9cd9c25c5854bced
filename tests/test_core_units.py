"""Prompt mechanics, core datasets against the spec, config forms, limits, errors, the client."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from compasslite import benchmark, list_datasets
from compasslite.benchmarks import gsm8k
from compasslite.client import Client, Endpoint
from compasslite.config import from_task_config, normalize_api_base, select_indices
from compasslite.errors import ConfigError, DataError, ServerError, UnknownDatasetError
from compasslite.prompt import assemble, estimate_length, fill, flatten, meta_template_messages, render_sample
from compasslite.testing import Faults, fixed
from compasslite.types import Prompt, Turn
from conftest import FIXTURE_DATA, REAL_DATA
from helpers import check_worked_example

SPEC = REAL_DATA.parent / "spec" / "datasets.json"

# ------------------------------------------------------------------ prompt mechanics


@pytest.mark.parametrize(
    ("text", "row", "expected"),
    [
        ("Q: {q}\nA:", {"q": "hi"}, "Q: hi\nA:"),
        ("{a}{b}", {"a": "{b}", "b": "x"}, "xx"),  # sequential replacement, row order
        ("{b}{a}", {"b": "{a}", "a": "1"}, "11"),
        ("\\boxed{} {x}", {"x": 5}, "\\boxed{} 5"),  # braces that are not a column stay
        ("{missing} {n}", {"n": None}, "{missing} None"),
        ("{flag}", {"flag": True}, "True"),
    ],
)
def test_fill(text, row, expected):
    assert fill(text, row) == expected


@pytest.mark.parametrize(
    ("turns", "flat"),
    [
        ([Turn.human("a"), Turn.bot("b\n"), Turn.human("c")], "a\nb\n\nc"),
        ([Turn.human("a"), Turn.bot("")], "a"),  # an empty final BOT turn adds nothing
        ([Turn.human(""), Turn.human("x")], "\nx"),  # the separator turns to LF after any turn
        ([Turn.human("q"), Turn.bot("A:")], "q\nA:"),  # a trailing BOT text is included
    ],
)
def test_flatten(turns, flat):
    assert flatten(turns) == flat


def test_meta_template_drops_the_final_bot_turn_and_keeps_examples():
    turns = [Turn.human("e1"), Turn.bot("a1"), Turn.human("q"), Turn.bot("A:")]
    assert meta_template_messages(turns) == [
        {"role": "HUMAN", "prompt": "e1"},
        {"role": "BOT", "prompt": "a1"},
        {"role": "HUMAN", "prompt": "q"},
    ]


def test_output_column_is_blanked_in_the_test_item_only():
    ice = (Turn.human("Q {q}"), Turn.bot("{a}"))
    turns = assemble(
        (Turn.human("Q {q}"), Turn.bot("{a}")), {"q": "2", "a": "B"}, "a", ice, [{"q": "1", "a": "A"}]
    )
    assert flatten(turns) == "Q 1\nA\nQ 2"


def test_length_guard_drops_examples_from_the_end():
    ice_rows = [{"q": "word " * 10, "a": "x"} for _ in range(5)]
    tpl = (Turn.human("{q}"), Turn.bot("{a}"))
    prompt = render_sample(tpl, {"q": "final", "a": ""}, "a", meta_template=False, ice_template=tpl,
                           ice_rows=ice_rows, max_seq_len=25)  # fmt: skip
    assert prompt.estimate <= 25
    assert prompt.text.count("\nx\n") == 2  # two of five examples fit


@pytest.mark.parametrize(
    ("text", "n"), [("Hello world 12 ab-cd", 5), ("中文abc，测试x1", 6), ("", 0), ("é1a日本", 3)]
)
def test_estimate_length(text, n):
    assert estimate_length(text) == n


# ------------------------------------------------------------------ core datasets vs the spec


def _spec() -> dict:
    if not SPEC.is_file():
        pytest.skip("spec not found")
    return {d["name"]: d for d in json.loads(SPEC.read_text())}


@pytest.mark.realdata
@pytest.mark.parametrize("name", ["gsm8k", "ARC_c", "ARC_e", "mmlu", "ceval"])
def test_worked_examples_render_byte_identically(name, real_data):
    spec = _spec()[name]["normalized"]
    bench = benchmark.get(name)
    by_abbr = {s.abbr: s for s in bench.subsets}
    assert [s["abbr"] for s in spec["subsets"]] == [s.abbr for s in bench.subsets]
    assert [s["version"] for s in spec["subsets"]] == [s.version for s in bench.subsets]
    for sub_spec in spec["subsets"]:
        sub = by_abbr[sub_spec["abbr"]]
        assert len(sub.load(real_data)) == sub_spec["count"], sub.abbr
    for ex in spec["worked_examples"]:
        sub = by_abbr[ex["abbr"]]
        rows = sub.load(real_data)
        ice = sub.load_ice(real_data) if sub.load_ice else []
        row = rows[ex["row_index"]]
        assert list(row) == (spec["row_columns"] if isinstance(spec["row_columns"], list) else list(row))
        check_worked_example(sub, row, ex, ice)


@pytest.mark.parametrize(
    ("reply", "answer"),
    [
        ("The answer is 15", "15"),
        ("So 3.5 hours. The answer is 4.", "4"),
        ("It costs $1,000 in total.", "000"),  # thousands separators split numbers, as in OpenCompass
        ("-3 degrees", "-3"),
        ("The answer is 12.\nQuestion: next one has 99", "12"),
        ("no digits here", "NULL"),
        ("2.50 dollars", "2.50"),
    ],
)
def test_gsm8k_extraction(reply, answer):
    assert gsm8k.extract_answer(reply) == answer


@pytest.mark.parametrize(
    ("answer", "ref", "ok"),
    [
        ("15", "15", True),
        ("15.0", "15", True),
        ("15.00001", "15", False),
        ("NULL", "15", False),
        ("1e1", "10", True),
    ],
)
def test_gsm8k_judge(answer, ref, ok):
    assert gsm8k.is_correct(answer, ref) is ok


def test_arc_loader_drops_non_four_choice_questions_and_maps_numeric_labels():
    rows = benchmark.get("ARC_c").subsets[0].load(FIXTURE_DATA)
    assert [r["answerKey"] for r in rows] == ["B", "B"]
    assert list(rows[0]) == ["question", "answerKey", "textA", "textB", "textC", "textD"]


def test_mmlu_and_ceval_fixture_loaders():
    mmlu = {s.abbr: s for s in benchmark.get("mmlu").subsets}["lukaemon_mmlu_abstract_algebra"]
    rows = mmlu.load(FIXTURE_DATA)
    assert rows[1]["input"] == " Which, of these, is 1?" and rows[1]["target"] == "C"
    assert len(mmlu.load_ice(FIXTURE_DATA)) == 5
    ceval = {s.abbr: s for s in benchmark.get("ceval").subsets}["ceval-computer_network"]
    vrows = ceval.load(FIXTURE_DATA)
    assert vrows[0]["explanation"] == "" and vrows[1]["answer"] == "C"
    p = render_sample(ceval.template, vrows[1], "answer", meta_template=False, ice_template=ceval.ice_template,
                      ice_rows=ceval.load_ice(FIXTURE_DATA), max_seq_len=4096)  # fmt: skip
    assert p.text.endswith("中国的首都是____。\nA. 上海\nB. 广州\nC. 北京\nD. 深圳\n答案: ")
    assert p.text.count("答案: \nB\n以下是中国关于计算机网络考试") == 5


# ------------------------------------------------------------------ names and errors


def test_list_datasets_has_the_48_names():
    names = list_datasets()
    assert len(names) == 48 and names[0] == "obqa" and names[-1] == "DRCD"
    from compasslite.backend.opencompass import OpenCompassBackendManager

    assert OpenCompassBackendManager.list_datasets() == names


@pytest.mark.parametrize(
    ("typo", "suggestion"), [("gsm8", "gsm8k"), ("mmlu_pro", "mmlu"), ("cevl", "ceval"), ("arc_c", None)]
)
def test_unknown_dataset_suggests_close_names(typo, suggestion):
    if suggestion is None:  # case-insensitive match resolves
        assert benchmark.get(typo).name == "ARC_c"
        return
    with pytest.raises(UnknownDatasetError, match=suggestion):
        benchmark.resolve([typo])


def test_missing_data_file_names_the_expected_path(tmp_path):
    (tmp_path / "gsm8k").mkdir()
    with pytest.raises(DataError, match=r"gsm8k/test\.jsonl"):
        benchmark.get("gsm8k").subsets[0].load(tmp_path)
    with pytest.raises(DataError, match="does not exist"):
        benchmark.get("gsm8k").subsets[0].load(tmp_path / "nowhere")


def test_malformed_line_names_file_and_line(tmp_path):
    (tmp_path / "gsm8k").mkdir()
    good = json.dumps({"question": "q", "answer": "a\n#### 1"})
    (tmp_path / "gsm8k" / "test.jsonl").write_text(f"{good}\n{good}\n{{not json\n")
    with pytest.raises(DataError, match=r"test\.jsonl:3: malformed JSON"):
        benchmark.get("gsm8k").subsets[0].load(tmp_path)
    (tmp_path / "gsm8k" / "test.jsonl").write_text(f'{good}\n{{"question": "q"}}\n')
    with pytest.raises(DataError, match=r"test\.jsonl:2: record lacks field\(s\) answer"):
        benchmark.get("gsm8k").subsets[0].load(tmp_path)
    (tmp_path / "gsm8k" / "test.jsonl").write_text("")
    with pytest.raises(DataError, match="no records"):
        benchmark.get("gsm8k").subsets[0].load(tmp_path)


# ------------------------------------------------------------------ config forms and limits

EVALSCOPE = {
    "eval_backend": "OpenCompass",
    "eval_config": {
        "datasets": ["mmlu", "ceval", "ARC_c", "gsm8k"],
        "models": [
            {
                "path": "qwen2-0_5b-instruct",
                "openai_api_base": "http://127.0.0.1:8000/v1/chat/completions",
                "is_chat": True,
                "batch_size": 16,
            }  # fmt: skip
        ],
        "work_dir": "outputs/qwen2_eval_result",
        "limit": 10,
    },
}


def test_evalscope_dict_yaml_json_and_cli_give_the_same_config(tmp_path):
    import yaml

    from compasslite.cli import _run_config_from_args, build_parser

    from_dict = from_task_config(EVALSCOPE)
    (tmp_path / "t.yaml").write_text(yaml.safe_dump(EVALSCOPE))
    (tmp_path / "t.json").write_text(json.dumps(EVALSCOPE))
    assert from_task_config(tmp_path / "t.yaml") == from_dict
    assert from_task_config(str(tmp_path / "t.json")) == from_dict
    args = build_parser().parse_args(
        [
            "run",
            "--datasets",
            "mmlu",
            "ceval",
            "ARC_c",
            "gsm8k",
            "--model",
            "qwen2-0_5b-instruct",
            "--api-base",
            "http://127.0.0.1:8000/v1/chat/completions",
            "--chat",
            "--limit",
            "10",
            "--work-dir",
            "outputs/qwen2_eval_result",
        ]  # fmt: skip
    )
    from_cli = _run_config_from_args(args)
    assert from_cli.datasets == from_dict.datasets and from_cli.limit == "10"
    assert from_cli.models[0].path == from_dict.models[0].path
    assert normalize_api_base(from_cli.models[0].openai_api_base) == ("http://127.0.0.1:8000/v1", True)
    assert from_dict.models[0].batch_size == 16


def test_config_errors_name_the_key(tmp_path):
    with pytest.raises(
        ConfigError, match=r"unknown key 'models\.0\.bach_size' \(did you mean 'batch_size'\?\)"
    ):
        from_task_config({"datasets": ["gsm8k"], "models": [{"path": "m", "bach_size": 4}]})
    with pytest.raises(
        ConfigError, match=r"unknown top-level key 'eval_confg' \(did you mean 'eval_config'\?\)"
    ):
        from_task_config({"eval_backend": "OpenCompass", "eval_confg": {"datasets": ["gsm8k"]}})
    with pytest.raises(ConfigError, match=r"unknown key 'models\.0\.zzz'$"):  # nothing close: no guess
        from_task_config({"datasets": ["gsm8k"], "models": [{"path": "m", "zzz": 4}]})
    with pytest.raises(ConfigError, match=r"unknown key 'lmit' \(did you mean 'limit'\?\)"):
        from_task_config(
            {
                "eval_backend": "OpenCompass",
                "eval_config": {"datasets": ["gsm8k"], "models": [{"path": "m"}], "lmit": 3},
            }
        )
    with pytest.raises(ConfigError, match=r"models\.0\.batch_size"):
        from_task_config({"datasets": ["gsm8k"], "models": [{"path": "m", "batch_size": "many"}]})
    with pytest.raises(ConfigError, match="not an http"):
        from_task_config(
            {"datasets": ["gsm8k"], "models": [{"path": "m", "openai_api_base": "localhost:8000"}]}
        )
    (tmp_path / "bad.yaml").write_text("datasets: [gsm8k\nmodels: x\n")
    with pytest.raises(ConfigError, match=r"bad\.yaml:\d+: config is not valid YAML"):
        from_task_config(tmp_path / "bad.yaml")


def test_opencompass_internal_keys_are_ignored_with_a_warning(caplog):
    cfg = {"eval_backend": "OpenCompass", "eval_config": {"datasets": ["gsm8k"], "dry_run": False,
           "models": [{"path": "m", "type": "OpenAI", "run_cfg": {"num_gpus": 0}}]}}  # fmt: skip
    with caplog.at_level("WARNING"):
        from_task_config(cfg)
    assert "dry_run" in caplog.text and "models[].type" in caplog.text


@pytest.mark.parametrize(
    ("limit", "mode", "expected"),
    [
        (None, "first", list(range(10))),
        (3, "first", [0, 1, 2]),
        ("3", "first", [0, 1, 2]),
        (0.5, "first", [0, 1, 2, 3, 4]),
        ("[2:5]", "first", [2, 3, 4]),
        ("[:2]", "first", [0, 1]),
        (20, "first", list(range(10))),
        (3, "opencompass", None),
    ],
)
def test_limit_forms(limit, mode, expected):
    got = select_indices(10, limit, mode)
    if expected is None:
        import random

        idx = list(range(10))
        random.Random(3).shuffle(idx)
        expected = idx[:3]
    assert got == expected


@pytest.mark.parametrize("bad", [-1, 1.5, "ten", "[a:b]"])
def test_bad_limits_are_config_errors(bad):
    with pytest.raises(ConfigError, match="limit"):
        from_task_config({"datasets": ["gsm8k"], "models": [{"path": "m"}], "limit": bad})


def test_secrets_are_not_in_the_public_config():
    cfg = from_task_config({"datasets": ["gsm8k"], "models": [{"path": "m", "key": "sk-abcdef123456"}]})
    assert "sk-abcdef123456" not in json.dumps(cfg.public_dict())
    assert cfg.models[0].api_key() == "sk-abcdef123456"


# ------------------------------------------------------------------ the client against the real server


def _prompt(text: str) -> Prompt:
    return Prompt(
        origin_prompt=text,
        messages=[{"role": "user", "content": text}],
        text=text,
        estimate=1,
        fingerprint="x",
    )


def _complete(server, text="hello", **endpoint_kw):
    async def go():
        ep = Endpoint(api_base=server.base_url, model="fake-model", backoff_base_s=0.01, **endpoint_kw)
        async with Client(ep) as client:
            return await client.complete(_prompt(text), 16)

    return asyncio.run(go())


@pytest.mark.parametrize("kind", ["error_500", "error_502", "error_503", "rate_429", "rate_429_retry_after",
                                  "drop", "truncated", "not_json", "empty_choices", "null_content"])  # fmt: skip
def test_transient_faults_are_retried(kind, fake_server):
    server = fake_server(fixed("  B  "), faults=Faults(fail_first=2, fail_first_kinds=(kind,)))
    reply = _complete(server, retries=3)
    assert reply.error is None and reply.text == "B" and reply.attempts == 3


def test_stall_past_the_timeout_is_retried(fake_server):
    server = fake_server(fixed("ok"), faults=Faults(fail_first=1, fail_first_kinds=("stall",), stall_s=5))
    reply = _complete(server, retries=2, timeout_s=0.5)
    assert reply.text == "ok" and reply.attempts == 2


def test_retries_are_bounded_and_the_failure_is_reported(fake_server):
    server = fake_server(fixed("x"), faults=Faults(fail_first=10, fail_first_kinds=("error_503",)))
    reply = _complete(server, retries=2)
    assert reply.text is None and reply.attempts == 3 and "HTTP 503" in reply.error


def test_retry_after_is_honoured(fake_server):
    import time

    server = fake_server(
        fixed("x"), faults=Faults(fail_first=1, fail_first_kinds=("rate_429_retry_after",), retry_after_s=0.6)
    )
    t = time.monotonic()
    reply = _complete(server, retries=1)
    assert reply.text == "x" and time.monotonic() - t >= 0.6


def test_context_overflow_400_fails_at_once_with_the_server_message(fake_server):
    server = fake_server(fixed("x"), context_length=5)
    reply = _complete(server, text="one two three four five six seven", retries=5)
    assert reply.attempts == 1 and "maximum context length is 5" in reply.error


def test_probe_reports_unreachable_server_and_wrong_model(fake_server):
    async def probe(base, model="fake-model"):
        async with Client(Endpoint(api_base=base, model=model)) as c:
            return await c.probe()

    with pytest.raises(ServerError, match="cannot reach the server"):
        asyncio.run(probe("http://127.0.0.1:9/v1"))
    server = fake_server(fixed("x"))
    with pytest.raises(ServerError, match="does not serve model 'qwen'; it serves: fake-model"):
        asyncio.run(probe(server.base_url, "qwen"))
    assert asyncio.run(probe(server.base_url)).context_length == 32768


def test_completion_endpoint_gets_the_flat_prompt(fake_server):
    seen = []
    server = fake_server(lambda p, r: seen.append(r) or "done")
    reply = _complete(server, text="Q: x\nA:", chat=False)
    assert reply.text == "done" and seen[0]["prompt"] == "Q: x\nA:" and "messages" not in seen[0]


def test_cli_errors_are_one_clear_line(tmp_path, capsys):
    from compasslite.cli import main

    assert main(["run", "--datasets", "gsm8kk", "--api-base", "http://127.0.0.1:9/v1", "--model", "m"]) == 2
    err = capsys.readouterr().err
    assert "unknown dataset 'gsm8kk'" in err and "gsm8k" in err and "Traceback" not in err
    assert main(["run", "--datasets", "gsm8k", "--api-base", "http://127.0.0.1:9/v1", "--model", "m",
                 "--data-dir", str(FIXTURE_DATA), "--work-dir", str(tmp_path)]) == 2  # fmt: skip
    err = capsys.readouterr().err
    assert "cannot reach the server" in err
    assert not any(tmp_path.iterdir())  # no run directory full of errors


def test_list_command_shows_implemented_and_data_present_apart(capsys, tmp_path):
    from compasslite.cli import main

    (tmp_path / "gsm8k").mkdir()
    (tmp_path / "gsm8k" / "test.jsonl").write_text("{}\n")
    (tmp_path / "race" / "test").mkdir(parents=True)
    (tmp_path / "race" / "test" / "middle.jsonl").write_text("{}\n")
    assert main(["list", "--data-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("48 of 48 datasets implemented; data in") and "1 complete" in out[0]
    rows = {line.split()[0]: line.split() for line in out[2:]}
    assert len(rows) == 48
    names = [line.split()[0] for line in out[2:]]
    assert names == sorted(names, key=str.lower)  # alphabetical, not the suite's order
    assert rows["gsm8k"][1:4] == ["yes", "1", "yes"]
    assert rows["race"][1:5] == ["yes", "2", "1", "of"]  # race-middle present, race-high not
    assert rows["mmlu"][1:4] == ["yes", "57", "no"]


def test_context_overflow_with_room_left_is_asked_again_within_it(fake_server):
    seen = []
    server = fake_server(lambda p, r: seen.append(r["max_tokens"]) or "fits", context_length=20)
    reply = _complete(server, text="one two three four five six seven eight nine ten")  # 10 words
    assert reply.text == "fits" and reply.attempts == 2 and seen == [10]


@pytest.mark.parametrize(
    ("message", "room"),
    [
        ("This model's maximum context length is 4096 tokens. However, you requested 5000 tokens "
         "(3000 in the messages, 2000 in the completion).", 1096),
        ("'max_tokens' is too large: 2048. This model's maximum context length is 4096 tokens and "
         "your request has 3000 input tokens (2048 > 4096 - 3000).", 1096),
        ("This model's maximum context length is 8192 tokens. However, your messages resulted in 9000 tokens.", None),
        ("the request exceeds the available context size, try increasing it", None),
    ],
)  # fmt: skip
def test_allowed_max_tokens_from_server_messages(message, room):
    from compasslite.client import allowed_max_tokens

    assert allowed_max_tokens(message) == room


def test_deterministic_policy_is_stable_per_prompt(fake_server):
    from compasslite.testing import deterministic

    policy = deterministic(["A", "B", "C"])
    replies = {policy(f"prompt {i}", {}) for i in range(30)}
    assert replies == {"A", "B", "C"}
    assert all(policy(f"prompt {i}", {}) == policy(f"prompt {i}", {}) for i in range(30))


def test_sub_dataset_report_names_select_one_subset():
    benches = benchmark.resolve(["ceval-law", "lukaemon_mmlu_anatomy", "gsm8k"])
    assert [(b.name, [s.abbr for s in b.subsets]) for b in benches] == [
        ("ceval", ["ceval-law"]),
        ("mmlu", ["lukaemon_mmlu_anatomy"]),
        ("gsm8k", ["gsm8k"]),
    ]


def test_default_data_dir_order(tmp_path, monkeypatch):
    from compasslite.data import default_data_dir

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("COMPASS_DATA_CACHE", raising=False)
    assert default_data_dir() == tmp_path / "cache" / "compasslite" / "data"
    monkeypatch.setenv("COMPASS_DATA_CACHE", str(tmp_path / "env"))
    assert default_data_dir() == tmp_path / "env"
    (tmp_path / "data").mkdir()
    assert default_data_dir() == Path("data")


def test_credentials_in_the_api_base_are_not_in_the_public_config():
    cfg = from_task_config(
        {
            "datasets": ["gsm8k"],
            "models": [{"path": "m", "openai_api_base": "https://bob:hunter2@llm.example/v1"}],
        }
    )
    public = json.dumps(cfg.public_dict())
    assert "hunter2" not in public and "https://llm.example/v1" in public


def test_piped_output_keeps_table_rows_whole_and_a_closed_pipe_is_not_an_error(tmp_path):
    """`compasslite data status | less` shows one row per line (rich would assume 80 columns
    and fold the headers); `compasslite list | head -1` ends quietly with exit code 0."""
    import subprocess
    import sys

    status = subprocess.run(
        [sys.executable, "-m", "compasslite.cli", "data", "status", "--data-dir", str(tmp_path)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert status.returncode == 0, status.stderr
    header = next(line for line in status.stdout.splitlines() if "dataset" in line)
    for column in (
        "present",
        "exact",
        "differs",
        "no ref.",
        "first missing / differing file",
        "download from",
    ):
        assert column in header
    proc = subprocess.Popen(
        [sys.executable, "-m", "compasslite.cli", "list"], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    proc.stdout.close()  # the reader is gone before anything is written: every write fails
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0 and b"Traceback" not in err, err.decode()
