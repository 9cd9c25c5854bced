"""The `compasslite` command line.

argparse rather than click/typer: `--datasets gsm8k mmlu` (several values after one
flag, as in OpenCompass and EvalScope) is native to argparse and awkward in click.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from typing import Any

from rich.console import Console
from rich.markup import escape

from .errors import FRONTEND, CompassliteError

err_console = Console(stderr=True)


def _positive_int(text: str) -> int:
    """An argparse type: a whole number of at least 1 (argparse words the error)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def _seconds(text: str) -> float:
    """An argparse type: a number of seconds, 0 or more."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not value >= 0:  # also NaN
        raise argparse.ArgumentTypeError(f"must be 0 or more, not {text}")
    return value


def _add_run_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("config", nargs="?", help="a YAML/JSON task config (EvalScope's form or ours)")
    p.add_argument("--datasets", "-d", nargs="+", metavar="NAME", help="short names, e.g. gsm8k mmlu ceval")
    p.add_argument("--model", "-m", help="model name the server serves (default: the local model)")
    p.add_argument(
        "--api-base",
        action="append",
        help="OpenAI-compatible base URL, e.g. http://127.0.0.1:8000/v1 (or the full endpoint URL); "
        "repeat it for replicas of the same model: requests go to the least busy one",
    )
    p.add_argument("--api-key", help="API key (default: $OPENAI_API_KEY); never written anywhere")
    chat = p.add_mutually_exclusive_group()
    chat.add_argument(
        "--chat", dest="is_chat", action="store_true", default=None, help="use /chat/completions (default)"
    )
    chat.add_argument("--completion", dest="is_chat", action="store_false", help="use /completions")
    p.add_argument("--limit", help="per sub-dataset: N first rows, a fraction like 0.1, or a slice '[10:20]'")
    p.add_argument(
        "--limit-mode",
        choices=["first", "opencompass"],
        help="'opencompass' = OpenCompass's seeded random subset",
    )
    p.add_argument(
        "--data-dir",
        help="OpenCompass-layout data folder (default ./data if it exists, else $COMPASS_DATA_CACHE, else ~/.cache/compasslite/data)",
    )
    p.add_argument("--work-dir", help="where run directories go (default ./outputs)")
    p.add_argument(
        "--concurrency", "-c", type=int,
        help="requests in flight at once, per replica (default 64; batch_size in configs)"
    )
    p.add_argument("--rps", type=float, help="at most this many requests per second (query_per_second)")
    p.add_argument(
        "--max-out-len",
        type=int,
        help="max output tokens for every dataset, overriding each dataset's own (gsm8k 512, bbh 512, ...)",
    )
    p.add_argument("--max-seq-len", type=int, help="context budget for few-shot prompts (default 4096)")
    p.add_argument("--temperature", type=float)
    p.add_argument("--timeout", type=float, help="seconds per request (default 600)")
    p.add_argument("--retries", type=int, help="retries for transient failures (default 5)")
    p.add_argument(
        "--retry-budget",
        type=_seconds,
        metavar="SECONDS",
        help="after the main pass, ask samples whose requests failed transiently again, in rounds, for up "
        "to this long (default 600; 0 turns it off); a round that recovers nothing ends it",
    )
    p.add_argument(
        "--meta-template",
        action="store_true",
        default=None,
        help="send chat messages per turn (OpenCompass meta template)",
    )
    p.add_argument("--local-model", help="serve this GGUF file with the embedded llama.cpp server")
    p.add_argument(
        "--max-tokens-cap", type=int, help="upper bound on max_tokens of every request (quick demos)"
    )
    p.add_argument("--resume", metavar="RUN_DIR", help="finish an interrupted run in RUN_DIR")
    p.add_argument("--no-groups", action="store_true", help="leave group averages out of the summary")
    p.add_argument(
        "--code-extraction", choices=["opencompass", "robust"], help="humaneval/mbpp reply extraction"
    )
    p.add_argument(
        "--think",
        choices=["auto", "strip", "keep"],
        help="thinking models: score the text after </think> (auto, default), drop every <think> block "
        "(strip), or score the whole reply as OpenCompass does (keep)",
    )
    p.add_argument(
        "--reasoning",
        action="store_true",
        help=f"preset for thinking models: {REASONING_PRESET_TEXT}; flags given explicitly win",
    )
    p.add_argument(
        "--extra-body",
        metavar="JSON",
        help='merged into every request body, e.g. \'{"top_p": 0.95, "chat_template_kwargs": {"enable_thinking": false}}\'',
    )
    p.add_argument("--stop", action="append", help="a stop sequence (repeatable)")
    p.add_argument(
        "--repeats",
        type=int,
        help="ask every sample N times (seeds seed, seed+1, ...); scores are the mean (avg@N) with the std",
    )
    p.add_argument("--seed", type=int, help="sampling seed sent with every request")
    p.add_argument("--system-prompt", help="a system message before every prompt")
    p.add_argument(
        "--ray",
        nargs="?",
        const="",
        metavar="ADDRESS",
        help="spread inference and code execution over a Ray cluster (default address: $RAY_ADDRESS, "
        "else the cluster started here with `ray start --head`); needs compasslite[ray]",
    )
    p.add_argument("--no-progress", action="store_true")
    dl = p.add_mutually_exclusive_group()
    dl.add_argument("--yes", "-y", dest="download", action="store_true", default=None,
                    help="download absent datasets from OpenCompass without asking")  # fmt: skip
    dl.add_argument("--no-download", dest="download", action="store_false", help="never download data")


# Thinking models' cards (DeepSeek-R1, Qwen3 in thinking mode) ask for temperature 0.6 and
# top_p 0.95; their thinking needs thousands of tokens (the server's context still bounds it).
REASONING_PRESET = {"think": "auto", "max_out_len": 32768, "temperature": 0.6, "top_p": 0.95}
REASONING_PRESET_TEXT = (
    "think auto, max_out_len 32768 (bounded by the server's context), temperature 0.6, top_p 0.95"
)


def _apply_reasoning_preset(cfg: dict[str, Any], model_over: dict[str, Any]) -> None:
    """Fill in what neither a flag nor the config file set, and say what was set."""
    set_: list[str] = []
    models = cfg.get("models") or []
    if "think" not in cfg:
        cfg["think"] = REASONING_PRESET["think"]
        set_.append("think auto")
    if "max_out_len" not in cfg:
        cfg["max_out_len"] = REASONING_PRESET["max_out_len"]
        set_.append("max_out_len 32768 (bounded by the server's context)")
    if "temperature" not in model_over and not any("temperature" in m for m in models):
        model_over["temperature"] = REASONING_PRESET["temperature"]
        set_.append("temperature 0.6")
    extra = dict(model_over.get("extra_body") or {})
    if "top_p" not in extra and not any("top_p" in (m.get("extra_body") or {}) for m in models):
        extra["top_p"] = REASONING_PRESET["top_p"]
        model_over["extra_body"] = extra
        set_.append("top_p 0.95")
    if set_:
        logging.getLogger("compasslite").warning("--reasoning set: %s", ", ".join(set_))


def _run_config_from_args(args: argparse.Namespace) -> Any:
    from .config import ConfigError, check_models_shape, from_task_config, load_file

    base: dict[str, Any] = {}
    if args.config:
        base = load_file(args.config)
        if "eval_config" in base or "eval_backend" in base:
            base = from_task_config(base, where=f" in {args.config}").model_dump(mode="python")
            for m in base["models"]:
                if m.get("key") is not None:
                    m["key"] = m["key"].get_secret_value()
    cfg = dict(base)
    flags: dict[str, str] = {}  # config key -> the flag that set it, for error messages
    if args.datasets:
        cfg["datasets"] = args.datasets
        flags["datasets"] = "--datasets"
    for attr, key in (("limit", "limit"), ("limit_mode", "limit_mode"), ("data_dir", "data_dir"),
                      ("work_dir", "work_dir"), ("concurrency", "concurrency"), ("code_extraction", "code_extraction"),
                      ("think", "think"), ("repeats", "repeats"), ("retry_budget", "retry_budget")):  # fmt: skip
        if getattr(args, attr) is not None:
            cfg[key] = getattr(args, attr)
            flags[key] = _flag(attr)
    if args.download is not None:
        cfg["download"] = args.download
    if args.no_groups:
        cfg["groups"] = False
    if args.no_progress:
        cfg["progress"] = False
    if args.ray is not None:
        cfg["runner"] = {"type": "ray", "address": args.ray or None}
    model_over: dict[str, Any] = {}
    for attr, key in (("model", "path"), ("api_base", "openai_api_base"), ("api_key", "key"), ("is_chat", "is_chat"),
                      ("rps", "query_per_second"), ("max_seq_len", "max_seq_len"),
                      ("temperature", "temperature"), ("timeout", "timeout"), ("retries", "retries"),
                      ("local_model", "local_model"), ("max_tokens_cap", "max_tokens_cap"), ("stop", "stop"),
                      ("seed", "seed"), ("system_prompt", "system_prompt")):  # fmt: skip
        if getattr(args, attr) is not None:
            model_over[key] = getattr(args, attr)
            flags[f"models.*.{key}"] = _flag(attr)
    if args.max_out_len is not None:
        cfg["max_out_len"] = args.max_out_len
        flags["max_out_len"] = "--max-out-len"
    if args.extra_body is not None:
        try:
            extra = json.loads(args.extra_body)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"--extra-body is not valid JSON ({exc.msg} at column {exc.colno})") from None
        if not isinstance(extra, dict):
            raise ConfigError("--extra-body must be a JSON object, e.g. '{\"top_p\": 0.95}'")
        model_over["extra_body"] = extra
        flags["models.*.extra_body"] = "--extra-body"
    if args.reasoning:
        _apply_reasoning_preset(cfg, model_over)
    if args.meta_template:
        model_over["meta_template"] = "default-api-meta-template-oc"
    models = cfg.get("models") or []
    check_models_shape(models, f" in {args.config}" if args.config else "")
    if not models:
        # No --model: the embedded model, or with --api-base the one model that server serves.
        models = [{"path": model_over.get("path", "" if "openai_api_base" in model_over else "local")}]
    cfg["models"] = [{**m, **model_over} for m in models]
    if "datasets" not in cfg:
        raise ConfigError(
            "no datasets given: use --datasets NAME... or a config file (`compasslite list` shows names)"
        )
    return from_task_config(cfg, f" in {args.config}" if args.config else "", flags=flags)


def _flag(attr: str) -> str:
    """The flag of an argparse attribute: rps -> --rps, is_chat -> --chat/--completion."""
    return {"is_chat": "--chat/--completion"}.get(attr, "--" + attr.replace("_", "-"))


def _print_summary(outcome: Any, console: Console) -> None:
    from rich.table import Table

    s = outcome.summary
    table = Table(title="compasslite summary", show_lines=False)
    for h in s.header:
        table.add_column(h, justify="right" if h not in ("dataset", "version", "metric", "mode") else "left")
    for row in s.rows:
        style = "bold cyan" if row.is_group else None
        table.add_row(row.dataset, row.version, row.metric, row.mode, *row.values, style=style)
    console.print(table)
    from .summary import _footer

    # Footer lines quote server messages and paths: plain text, never rich markup.
    for line in _footer(s):
        console.print(line, highlight=False, markup=False, soft_wrap=True)
    console.print(f"Run directory: {outcome.run_dir.root}", highlight=False, markup=False, soft_wrap=True)
    console.print(
        f"Summary: {outcome.run_dir.summary_path('txt')}", highlight=False, markup=False, soft_wrap=True
    )
    report = outcome.run_dir.root / "summary" / "report.html"
    if report.is_file():
        console.print(f"Report: {report}", highlight=False, markup=False, soft_wrap=True)


# What a resume may change: where the server is and the key (neither is stored), and how the
# run looks while it goes. Everything else would make the run a different one.
_RESUME_MAY_SET = {"resume", "api_base", "api_key", "no_progress", "retry_budget", "func", "command"}


def _refuse_changes_on_resume(args: argparse.Namespace) -> None:
    from .config import ConfigError

    probe = argparse.ArgumentParser()
    _add_run_args(probe)
    defaults = vars(probe.parse_args([]))
    given = [k for k, v in vars(args).items() if k in defaults and k not in _RESUME_MAY_SET and v != defaults[k]]
    if given:
        flags = ", ".join("--" + k.replace("_", "-") if k != "config" else "a config file" for k in given)
        raise ConfigError(
            f"--resume finishes {args.resume} as it was configured; {flags} cannot change it "
            "(only --api-base and --api-key may be given; start a new run for other settings)"
        )


# Exit codes of `compasslite run` (README, "Failure behaviour"): 0 every selected sample scored;
# 2 bad input or setup (nothing run); 3 finished, but some samples' requests failed; 130 interrupted.
EXIT_UNSCORED = 3


class _HeldWarnings(logging.Filter):
    """Holds back warnings on stderr until the run starts: a flag's or config key's warning
    ("--reasoning set: ...", "ignoring OpenCompass-internal config key(s)") means nothing when
    the command then stops on an unrelated error (data missing, server down), and would stand
    right before it. `release()` prints the held warnings; if the run never starts they are
    dropped with it."""

    def __init__(self) -> None:
        super().__init__()
        self.held: list[logging.LogRecord] = []
        self.handlers = list(logging.getLogger().handlers)
        for handler in self.handlers:
            handler.addFilter(self)

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING:
            return True
        if not any(r is record for r in self.held):  # each handler asks: keep it once
            self.held.append(record)
        return False

    def release(self) -> None:
        handlers, self.handlers = self.handlers, []
        for handler in handlers:
            handler.removeFilter(self)
        for record in self.held:
            for handler in handlers:
                if record.levelno >= handler.level:
                    handler.handle(record)
        self.held.clear()


def cmd_run(args: argparse.Namespace) -> int:
    held = _HeldWarnings()
    try:
        return _cmd_run(args, held)
    finally:
        held.held.clear()  # the run never started: its warnings go with it
        held.release()


def _cmd_run(args: argparse.Namespace, held: _HeldWarnings) -> int:
    from .cli_extras import stdout_console
    from .run import execute, load_resume_config
    from .rundir import RunDir

    console = stdout_console()
    if args.resume:
        _refuse_changes_on_resume(args)
        run_dir = RunDir.open(args.resume)
        cfg = load_resume_config(run_dir)
        bases = args.api_base[0] if args.api_base and len(args.api_base) == 1 else args.api_base
        overrides = {k: v for k, v in (("openai_api_base", bases), ("key", args.api_key)) if v is not None}
        if overrides:
            cfg = cfg.model_copy(update={"models": [m.model_copy(update=overrides) for m in cfg.models]})
        if args.retry_budget is not None:  # how long to heal, not what is evaluated
            cfg = cfg.model_copy(update={"retry_budget": args.retry_budget})
        if args.api_key:
            from pydantic import SecretStr

            cfg.models = [m.model_copy(update={"key": SecretStr(args.api_key)}) for m in cfg.models]
    else:
        cfg = _run_config_from_args(args)
        run_dir = RunDir.find(cfg.work_dir, cfg.reuse) if cfg.reuse else None
    outcome = execute(cfg, resume=run_dir, console=err_console, on_start=held.release)
    _print_summary(outcome, console)
    if outcome.interrupted:
        err_console.print(
            f"[yellow]Interrupted.[/] Finished samples are saved. Resume with:\n"
            f"  compasslite run --resume {escape(str(outcome.run_dir.root))}",
            highlight=False,
            soft_wrap=True,
        )
        return 130
    failed = sum(r.errors for per in outcome.results.values() for r in per.values())
    if failed:
        err_console.print(
            f"[yellow]{failed} sample(s) not scored: their requests failed[/] (see the summary footer). "
            f"Ask them again with:\n  compasslite run --resume {escape(str(outcome.run_dir.root))}",
            highlight=False,
            soft_wrap=True,
        )
        return EXIT_UNSCORED
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    """The 48 names in alphabetical order: whether compasslite implements each, and whether
    its data is in the data dir (all sub-datasets, some, or none)."""
    from pathlib import Path

    from .benchmark import SUITE, available
    from .data import default_data_dir

    impl = available()
    data_dir = Path(args.data_dir) if args.data_dir else default_data_dir()
    rows = []
    present_count = 0
    for name in sorted(SUITE, key=str.lower):
        bench = impl.get(name)
        if bench is None:
            rows.append((name, "no", "-", "-", ""))
            continue
        have = sum(1 for s in bench.subsets if s.files and (data_dir / s.files[0]).is_file())
        n = len(bench.subsets)
        data = "yes" if have == n else (f"{have} of {n}" if have else "no")
        present_count += have == n
        rows.append((name, "yes", str(n), data, bench.description))
    print(f"{len(impl)} of {len(SUITE)} datasets implemented; data in {data_dir.resolve()}: "
          f"{present_count} complete (`compasslite data status` checks the files)")  # fmt: skip
    print(f"{'dataset':<12} {'implemented':<11} {'subsets':>7}  {'data':<9} description")
    for name, done, n, data, description in rows:
        print(f"{name:<12} {done:<11} {n:>7}  {data:<9} {description}")
    return 0


def cmd_rescore(args: argparse.Namespace) -> int:
    from .cli_extras import stdout_console
    from .run import rescore

    outcome = rescore(args.run_dir, args.data_dir)
    _print_summary(outcome, stdout_console())
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from .report import write_report

    path = write_report(args.run_dir, args.output)
    print(f"Report: {path}")
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    from .cli_extras import stdout_console
    from .report.compare import compare, print_table, write_html

    comparison = compare(args.run_dirs)
    print_table(comparison, stdout_console())
    path = write_html(comparison, args.output)
    print(f"Comparison page: {path.resolve()}")
    return 0


def cmd_serve_fake(args: argparse.Namespace) -> int:
    from .testing.server import main as fake_main

    argv = ["--host", args.host, "--port", str(args.port), "--model", args.model, "--latency", str(args.latency),
            "--reply", args.reply, "--context-length", str(args.context_length), "--seed", str(args.seed)]  # fmt: skip
    if args.oracle:
        argv += ["--oracle", args.oracle]
    for f in args.fault:
        argv += ["--fault", f]
    if args.reasoning:
        argv += ["--reasoning", args.reasoning]
    if args.capacity is not None:
        argv += ["--capacity", str(args.capacity)]
    try:
        fake_main(argv)
    except OSError as exc:  # the port is taken, or the host is not ours
        from .errors import ServerError

        raise ServerError(
            f"cannot listen on {args.host}:{args.port} ({exc.strerror or exc}); choose another with --port"
        ) from None
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    if not args.local:
        raise CompassliteError(
            "`compasslite serve` needs --local (serve the embedded model); see `serve-fake` too"
        )
    from .cli_extras import serve_local

    serve_local(args.port, args.local_model)
    return 0


def cmd_data(args: argparse.Namespace) -> int:
    from . import cli_extras

    if args.data_cmd == "status":
        return cli_extras.data_status(args.data_dir) or 0
    return cli_extras.data_download(args.names, args.data_dir, args.yes) or 0


def build_parser() -> argparse.ArgumentParser:
    from . import __version__

    parser = argparse.ArgumentParser(
        prog="compasslite", description="Score an OpenAI-compatible endpoint on the OpenCompass suite."
    )
    parser.add_argument("--version", action="version", version=f"compasslite {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("run", help="evaluate a model", description="Evaluate a model on datasets.")
    _add_run_args(p)
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("list", help="list the 48 dataset names, implemented and with data present")
    p.add_argument("--data-dir", help="where to look for the data (default as for run)")
    p.set_defaults(func=cmd_list)

    p = sub.add_parser("rescore", help="recompute results and summary of a run without a server")
    p.add_argument("run_dir")
    p.add_argument("--data-dir")
    p.set_defaults(func=cmd_rescore)

    p = sub.add_parser("report", help="write the HTML report of a run (also written at the end of every run)")
    p.add_argument("run_dir")
    p.add_argument("-o", "--output", help="where to write it (default RUN_DIR/summary/report.html)")
    p.set_defaults(func=cmd_report)

    p = sub.add_parser(
        "compare", help="compare runs: scores side by side, paired bootstrap intervals, flipped samples"
    )
    p.add_argument("run_dirs", nargs="+", metavar="RUN_DIR", help="the first run (its first model) is the baseline")
    p.add_argument("-o", "--output", default="compare.html", help="the HTML page (default ./compare.html)")
    p.set_defaults(func=cmd_compare)

    p = sub.add_parser("serve-fake", help="run the built-in fake OpenAI-compatible server (tests, demos)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8000, help="port to listen on (default 8000)")
    p.add_argument("--model", default="fake-model", help="the model name it serves (default fake-model)")
    p.add_argument("--latency", type=float, default=0.0, help="seconds before each reply (default 0)")
    p.add_argument("--reply", default="The answer is A.", help="the reply to every prompt")
    p.add_argument("--oracle", help="JSON file {prompt text: reply}; other prompts get --reply")
    p.add_argument(
        "--context-length", type=int, default=32768, help="context length it reports and enforces (default 32768)"
    )
    p.add_argument(
        "--fault", action="append", default=[], help="KIND=RATE (error_503=0.3, rate_429=0.1, drop=0.05, ...)"
    )
    p.add_argument("--seed", type=int, default=0, help="seed of the fault draws (default 0)")
    p.add_argument(
        "--capacity",
        type=_positive_int,
        metavar="N",
        help="requests it serves at once, the rest wait in a queue (default: no limit); with --latency "
        "it simulates one replica of known throughput (N / latency requests per second)",
    )
    p.add_argument(
        "--reasoning",
        choices=["inline", "open", "field"],
        help="answer as a thinking model: <think>...</think> in the reply (inline), R1-style with the "
        "block opened by the template (open), or a separate reasoning_content field (field)",
    )
    p.set_defaults(func=cmd_serve_fake)

    p = sub.add_parser("serve", help="serve the embedded local model over an OpenAI-compatible API")
    p.add_argument(
        "--local", action="store_true", help="serve SmolLM2-135M (or --local-model) with llama.cpp"
    )
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--local-model")
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("data", help="data folder status and downloads")
    dsub = p.add_subparsers(dest="data_cmd", required=True)
    ps = dsub.add_parser("status", help="which datasets are present, and exact")
    ps.add_argument("--data-dir")
    pd = dsub.add_parser("download", help="fetch datasets from OpenCompass's download locations")
    pd.add_argument("names", nargs="+")
    pd.add_argument("--data-dir")
    pd.add_argument("--yes", "-y", action="store_true")
    p.set_defaults(func=cmd_data)
    return parser


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s: %(message)s", stream=sys.stderr)
    for handler in logging.getLogger().handlers:
        handler.setLevel(logging.WARNING)  # INFO lines go to the run's logs/run.log only
    args = build_parser().parse_args(argv)
    # hints name flags (--data-dir), not Python keys; `run` may also suggest --yes
    frontend = FRONTEND.set("cli-run" if args.func is cmd_run else "cli")
    try:
        return args.func(args)
    except CompassliteError as exc:
        # One line whatever the terminal width, and the message is text, not rich markup
        # (a dataset name or path such as "[/x]" must neither vanish nor crash the print).
        err_console.print(f"[red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
        return 2
    except KeyboardInterrupt:
        err_console.print("[yellow]interrupted[/]")
        return 130
    finally:
        FRONTEND.reset(frontend)


def entry() -> None:
    try:
        code = main()
        sys.stdout.flush()
    except BrokenPipeError:
        # The reader went away (`compasslite list | head`): not an error worth a traceback.
        # Point stdout at devnull so the interpreter's final flush does not raise again.
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        code = 0
    sys.exit(code)


if __name__ == "__main__":
    entry()
