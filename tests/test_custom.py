"""Your own datasets, end to end through the built-in server: OpenCompass's custom-dataset
convention (.jsonl/.csv, .meta.json) and EvalScope's (general_mcq, general_qa)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from compasslite.config import from_task_config
from compasslite.errors import CompassliteError
from compasslite.runner import execute, rescore
from compasslite.testing import oracle

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def _write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


MCQ = [
    {"question": "2+2?", "A": "3", "B": "4", "C": "5", "answer": "B"},
    {"question": "Capital of Italy?", "A": "Rome", "B": "Milan", "C": "Turin", "answer": "A"},
    {"question": "Largest planet?", "A": "Mars", "B": "Earth", "C": "Jupiter", "answer": "C"},
    {"question": "H2O is?", "A": "Water", "B": "Salt", "C": "Sand", "answer": "A"},
]


def _cfg(datasets: list, tmp_path: Path, server, **kw) -> object:
    return from_task_config({
        "datasets": datasets, "models": [{"path": "fake-model", "openai_api_base": server.base_url}],
        "work_dir": str(tmp_path / "out"), "progress": False, **kw})  # fmt: skip


def test_mcq_prompt_extraction_and_accuracy(tmp_path, fake_server):
    path = _write_jsonl(tmp_path / "quiz.jsonl", MCQ)
    prompts = [
        "Question: {question}\nA. {A}\nB. {B}\nC. {C}\nAnswer: ".format(**r) for r in MCQ
    ]  # OpenCompass's custom MCQ template, flattened
    replies = {prompts[0]: "The answer is B.", prompts[1]: "答案是A", prompts[2]: "I think B", prompts[3]: "(A)"}
    server = fake_server(oracle(replies, "NO REPLY"))
    out = execute(_cfg([str(path)], tmp_path, server))
    assert sum(server.requests.values()) == 4 and set(server.requests) == set(prompts)
    assert out.scores()["fake-model"]["quiz"] == {"accuracy": 75.0}


def test_qa_metrics(tmp_path, fake_server):
    rows = [
        {"question": "Capital of France?", "answer": "Paris"},
        {"question": "Days in a week?", "answer": ["7", "seven"]},
        {"question": "Symbol for gold?", "answer": "Au"},
        {"question": "Author of Hamlet?", "answer": ["William Shakespeare"]},
    ]
    replies = {"Capital of France?": "Paris.", "Days in a week?": "There are 7 days.",
               "Symbol for gold?": "Ag", "Author of Hamlet?": "Shakespeare"}  # fmt: skip
    server = fake_server(oracle(replies))
    expected = {
        "em": {"score": 25.0},  # only "Paris." normalises to a reference
        "contains": {"accuracy": 50.0},  # "Paris", "7"; not "Au" in "Ag", not "William Shakespeare"
        "numeric": {"accuracy": 25.0},  # the last number, 7
    }
    for metric, want in expected.items():
        path = _write_jsonl(tmp_path / f"qa_{metric}.jsonl", rows)
        out = execute(_cfg([{"path": str(path), "metric": metric}], tmp_path / metric, server))
        assert out.scores()["fake-model"][f"qa_{metric}"] == want, metric
    path = _write_jsonl(tmp_path / "qa_f1.jsonl", rows)
    out = execute(_cfg([{"path": str(path), "metric": "f1"}], tmp_path / "f1", server))
    # Paris 1; "there are 7 days" vs "7" -> p 1/4 r 1 -> 0.4 (vs "seven" 0); Ag 0; Shakespeare vs
    # "william shakespeare": p 1, r 1/2 -> 2/3.
    assert out.scores()["fake-model"]["qa_f1"]["f1"] == pytest.approx(100 * (1 + 0.4 + 0 + 2 / 3) / 4)
    path = _write_jsonl(tmp_path / "qa_rouge.jsonl", rows)
    out = execute(_cfg([{"path": str(path), "metric": "rouge"}], tmp_path / "rouge", server))
    assert set(out.scores()["fake-model"]["qa_rouge"]) == {"rouge1", "rouge2", "rougeL", "rougeLsum"}


def test_extraction_can_be_chosen(tmp_path, fake_server):
    qa = _write_jsonl(tmp_path / "qa.jsonl", [{"question": "Capital of France?", "answer": "Paris"}])
    mcq = _write_jsonl(tmp_path / "mcq.jsonl", MCQ[:1])
    server = fake_server(oracle({"Capital of France?": "Let me see.\nThe answer is Paris"}, "Option B"))
    out = execute(_cfg([{"path": str(qa), "extract": "after_answer_is"}, {"path": str(mcq), "extract": "first_capital",
                        "abbr": "fc"}, {"path": str(mcq), "abbr": "opt"}], tmp_path, server))  # fmt: skip
    scores = out.scores()["fake-model"]
    assert scores["qa"] == {"score": 100.0}  # "Paris" after "The answer is"
    assert scores["fc"] == {"accuracy": 0.0}  # the "O" of "Option"
    assert scores["opt"] == {"accuracy": 100.0}  # OpenCompass's patterns find B
    with pytest.raises(CompassliteError, match="extract 'last' is not one of none, first_line, after_answer_is"):
        execute(_cfg([{"path": str(qa), "extract": "last"}], tmp_path, server))


def test_meta_json_overrides_prompt_and_metric(tmp_path, fake_server):
    path = _write_jsonl(tmp_path / "qa.jsonl", [{"question": "Capital of France?", "answer": "Paris"}])
    (tmp_path / "qa.jsonl.meta.json").write_text(json.dumps(
        {"human_prompt": "Q: {question}\nA:", "metric": "contains", "abbr": "capitals"}))  # fmt: skip
    server = fake_server(oracle({"Q: Capital of France?\nA:": "It is Paris, of course."}))
    out = execute(_cfg([str(path)], tmp_path, server))
    assert out.scores()["fake-model"]["capitals"] == {"accuracy": 100.0}


def test_evalscope_general_mcq_with_few_shot_and_general_qa(tmp_path, fake_server):
    folder = tmp_path / "general"
    folder.mkdir()
    header = "id,question,A,B,C,D,answer\n"
    (folder / "example_dev.csv").write_text(header + "1,Dev one?,a,b,c,d,A\n2,Dev two?,e,f,g,h,D\n")
    (folder / "example_val.csv").write_text(header + '1,"Multi\nline?",w,x,y,z,C\n2,Second?,p,q,r,s,B\n')
    shot = "Question: {q}\nA. {a}\nB. {b}\nC. {c}\nD. {d}\nAnswer: {ans}"
    few = "\n".join([shot.format(q="Dev one?", a="a", b="b", c="c", d="d", ans="A"),
                     shot.format(q="Dev two?", a="e", b="f", c="g", d="h", ans="D")])  # fmt: skip
    first = few + "\n" + shot.format(q="Multi\nline?", a="w", b="x", c="y", d="z", ans="")
    qa = _write_jsonl(tmp_path / "chat.jsonl", [{"query": "Say hi", "response": "hi"}])
    server = fake_server(oracle({first: "C", "Say hi": "hi"}, "A"))
    out = execute(_cfg([{"path": str(folder), "few_shot": 2}, str(qa)], tmp_path, server))
    scores = out.scores()["fake-model"]
    assert scores["example"] == {"accuracy": 50.0}  # the first right (its exact 2-shot prompt), the second A
    assert scores["chat"] == {"score": 100.0}


@pytest.mark.parametrize(
    "content,message",
    [
        ('{"question": "q", "A": "1", "B": "2"}\n', r"quiz.jsonl:1: missing column\(s\) answer"),
        ('{"question": "q", "A": "1", "B": "2", "answer": "B"}\n{"question": "q", "A": "1", "B": "2", "answer": "E"}\n',
         r"quiz.jsonl:2: answer 'E' is not one of the option letters A, B"),
        ("", r"quiz.jsonl: the file has no records"),
        ('{"question": "q", "answer": "x"}\n{"question": \n', r"quiz.jsonl:2: malformed JSON line"),
    ],
)
def test_bad_files_are_one_clear_message_before_any_request(content, message, tmp_path, fake_server):
    path = tmp_path / "quiz.jsonl"
    path.write_text(content)
    server = fake_server()
    with pytest.raises(CompassliteError, match=message):
        execute(_cfg(["gsm8k", str(path)], tmp_path, server))
    assert sum(server.requests.values()) == 0 and not (tmp_path / "out").exists()


def test_cli_one_line_errors(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("question,A,B,answer\nq,1,2,B\nq2,1,2\n")
    (tmp_path / "notes.txt").write_text("question\n")
    for args, message in (
        ([str(bad)], "bad.csv:3: 3 fields, the header has 4"),
        ([str(tmp_path / "absent.jsonl")], "and no file or folder exists at"),
        ([str(tmp_path) + "/notes.txt"], "is a .jsonl or .csv file"),
    ):
        proc = subprocess.run([sys.executable, "-m", "compasslite.cli", "run", "--datasets", *args, "--api-base",
                               "http://127.0.0.1:9/v1", "--model", "m", "--work-dir", str(tmp_path / "w")],
                              capture_output=True, text=True, timeout=60)  # fmt: skip
        assert proc.returncode == 2, proc.stderr
        assert message in proc.stderr and "Traceback" not in proc.stderr, proc.stderr


def test_config_dict_entries_in_a_yaml_file_resume_and_rescore(tmp_path, fake_server, real_data):
    path = _write_jsonl(tmp_path / "quiz.jsonl", MCQ)
    dev = _write_jsonl(tmp_path / "quiz_dev.jsonl", MCQ[:2])
    server = fake_server(oracle({}, "The answer is A."))
    task = {"datasets": ["ARC_c", {"path": str(path), "type": "mcq", "abbr": "my_eval", "few_shot": 1,
                                    "dev_path": str(dev)}],
            "models": [{"path": "fake-model", "openai_api_base": server.base_url}],
            "data_dir": str(real_data), "work_dir": str(tmp_path / "out"), "limit": 3, "progress": False}  # fmt: skip
    cfg_file = tmp_path / "task.yaml"
    cfg_file.write_text(yaml.safe_dump(task))
    proc = subprocess.run([sys.executable, "-m", "compasslite.cli", "run", str(cfg_file)], capture_output=True,
                          text=True, timeout=120, cwd=tmp_path)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    (run,) = list((tmp_path / "out").iterdir())
    summary = (run / f"summary/summary_{run.name}.csv").read_text()
    assert "\nmy_eval," in summary and "\nARC-c," in summary
    one_shot = "Question: 2+2?\nA. 3\nB. 4\nC. 5\nAnswer: B\nQuestion: 2+2?\nA. 3\nB. 4\nC. 5\nAnswer: "
    assert one_shot in server.requests
    # The stored config holds the absolute path: rescoring from elsewhere finds the file.
    again = rescore(run)
    assert again.scores()["fake-model"]["my_eval"] == {"accuracy": 100 / 3}


def test_a_custom_dataset_named_like_a_built_in_one_is_refused(tmp_path, fake_server):
    path = _write_jsonl(tmp_path / "quiz.jsonl", MCQ)
    server = fake_server()
    with pytest.raises(CompassliteError, match="two datasets are both named 'gsm8k'"):
        execute(_cfg(["gsm8k", {"path": str(path), "abbr": "gsm8k"}], tmp_path, server))


def test_the_readme_examples_run(tmp_path, fake_server):
    server = fake_server(oracle({}, "B"))
    cfg = _cfg([str(EXAMPLES / "my_mcq.jsonl"), str(EXAMPLES / "my_qa.jsonl")], tmp_path, server)
    scores = execute(cfg).scores()["fake-model"]
    assert scores["my_mcq"]["accuracy"] == pytest.approx(100 * 3 / 6)  # three answers are B
    assert scores["my_qa"] == {"accuracy": 0.0}  # "B" contains no answer


@pytest.mark.local_model
def test_the_real_local_model_runs_a_custom_mcq_and_qa_file(tmp_path):
    from conftest import local_model_or_skip

    local_model_or_skip()
    cfg = from_task_config({"datasets": [str(EXAMPLES / "my_mcq.jsonl"), str(EXAMPLES / "my_qa.jsonl")],
                            "models": [{"path": "local", "max_tokens_cap": 24}], "work_dir": str(tmp_path),
                            "progress": False})  # fmt: skip
    out = execute(cfg)
    res = out.results["local"]
    assert res["my_mcq"].answered == 6 and res["my_qa"].answered == 6
    records = [json.loads(x) for x in out.run_dir.records_path("local").read_text().splitlines()]
    assert len(records) == 12 and all(r["error"] is None and r["prediction"] for r in records)
    assert 0 <= out.scores()["local"]["my_mcq"]["accuracy"] <= 100
