"""Run configuration: our own form, EvalScope's task config, YAML/JSON files, CLI flags.

Everything is validated by pydantic; errors name the offending key. The API key is a
SecretStr and is excluded from every dump.
"""

from __future__ import annotations

import difflib
import json
import logging
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlparse

import yaml
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

from .errors import ConfigError

log = logging.getLogger("compasslite")

# Keys that only steer OpenCompass internals: accepted, ignored, one warning.
IGNORED_TASK_KEYS = {
    "dry_run", "debug", "mode", "max_num_workers", "max_workers_per_gpu", "lark", "config",
    "summarizer", "time_str", "retry", "eval_backend_version", "slurm", "dlc", "partition",
    "quotatype", "qos", "eval_config_path",
}  # fmt: skip
IGNORED_MODEL_KEYS = {
    "type", "run_cfg", "tokenizer_path", "rpm_verbose", "generation_kwargs", "org", "openai_proxy_url",
    "tokenizer_kwargs", "mode", "end_str", "max_completion_tokens", "verbose", "logprobs", "top_logprobs",
    "pred_postprocessor",
}  # fmt: skip

DEFAULT_CONCURRENCY = 64


def hide_credentials(url: str) -> str:
    """The URL with any `user:password@` shown as `***@` (also in URLs that do not parse)."""
    return re.sub(r"(?<=//)[^/@\s]*@", "***@", url)


def check_models_shape(models: Any, where: str = "") -> None:
    """`models` is a list of mappings; anything else is one clear error (not a traceback)."""
    if models is None:
        return
    if isinstance(models, dict):
        raise ConfigError(
            f"invalid config{where}: 'models' must be a list of model entries, e.g. "
            "models: [{path: NAME, openai_api_base: URL}], not a single mapping"
        )
    if not isinstance(models, list):
        raise ConfigError(f"invalid config{where}: 'models' must be a list, not {type(models).__name__}")
    for i, m in enumerate(models):
        if not isinstance(m, dict):
            raise ConfigError(
                f"invalid config{where}: models.{i} must be a mapping such as {{path: {m!r}}}, "
                f"not a {type(m).__name__}"
            )


def normalize_api_base(url: str) -> tuple[str, bool | None]:
    """(base ending in /v1 or as given, chat-ness implied by the URL or None).

    Accepts the `/v1` base or a full endpoint URL such as `.../v1/chat/completions`."""
    raw = url.strip()
    parsed = urlparse(raw)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise ConfigError(f"API base {hide_credentials(url)!r} is not an http(s) URL (e.g. http://127.0.0.1:8000/v1)")
    path = parsed.path.rstrip("/")
    chat: bool | None = None
    if path.endswith("/chat/completions"):
        path, chat = path[: -len("/chat/completions")], True
    elif path.endswith("/completions"):
        path, chat = path[: -len("/completions")], False
    if path in ("", "/"):
        path = "/v1"
    return f"{parsed.scheme}://{parsed.netloc}{path}", chat


class ModelConfig(BaseModel):
    """One model entry, in EvalScope/OpenCompass key names (plus a few of our own)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    path: str = Field(description="model name sent to the server ('' = the server's only model)")
    abbr: str | None = None
    # One server, or several replicas of the same model (requests are spread over them).
    openai_api_base: str | list[str] | None = None
    key: SecretStr | None = Field(default=None, alias="api_key")
    is_chat: bool | None = None
    batch_size: int | None = Field(default=None, ge=1, description="concurrent requests")
    query_per_second: float | None = Field(default=None, gt=0)
    temperature: float = Field(default=0.0, ge=0)
    max_out_len: int = Field(default=2048, ge=1)
    max_seq_len: int = Field(default=4096, ge=1)
    meta_template: str | dict[str, Any] | None = None
    timeout: float = Field(default=600.0, gt=0)
    retries: int = Field(default=5, ge=0)
    local_model: str | None = None  # a GGUF file for the embedded llama.cpp server
    max_tokens_cap: int | None = Field(
        default=None, ge=1, description="upper bound on every request's max_tokens"
    )
    # Passed through untouched with every request.
    extra_body: dict[str, Any] | None = None  # top_p, top_k, min_p, chat_template_kwargs, ...
    stop: str | list[str] | None = None
    seed: int | None = None
    system_prompt: str | None = None  # a system message before every prompt (chat endpoints)
    max_reply_mb: float = Field(default=4.0, gt=0, description="a larger reply body is a failed request")

    @field_validator("extra_body")
    @classmethod
    def _extra_body(cls, v: dict[str, Any] | None) -> dict[str, Any] | None:
        owned = {"model": "path", "messages": None, "prompt": None, "max_tokens": "max_out_len",
                 "temperature": "temperature", "stop": "stop", "seed": "seed"}  # fmt: skip
        for key in v or {}:
            if key in owned:
                instead = f"; set {owned[key]!r} instead" if owned[key] else ""
                raise ValueError(f"extra_body may not set {key!r}: compasslite sets it{instead}")
        return v

    @field_validator("openai_api_base")
    @classmethod
    def _url(cls, v: str | list[str] | None) -> str | list[str] | None:
        if v is None or v == "local":
            return v
        if isinstance(v, list):
            if not v:
                raise ValueError("an empty list of API bases; give one URL or several replicas' URLs")
            if "local" in v:
                raise ValueError("'local' cannot be one of several replicas")
            if len(set(v)) != len(v):
                dup = next(u for u in v if v.count(u) > 1)
                raise ValueError(f"API base {hide_credentials(dup)!r} is listed twice")
        for url in [v] if isinstance(v, str) else v:
            try:
                normalize_api_base(url)
            except ConfigError as exc:
                raise ValueError(str(exc)) from None
        return v[0] if isinstance(v, list) and len(v) == 1 else v

    @property
    def api_bases(self) -> list[str]:
        """The replicas' API bases (one for a single server; none for the local model)."""
        if self.is_local:
            return []
        base = self.openai_api_base
        return list(base) if isinstance(base, list) else [base or ""]

    @property
    def is_local(self) -> bool:
        return self.openai_api_base in (None, "local")

    @property
    def name(self) -> str:
        """The abbr used in output paths and the summary."""
        return safe_name(self.abbr or self.path)

    def api_key(self) -> str | None:
        if self.key is not None:
            value = self.key.get_secret_value()
            if value == "ENV":
                return os.environ.get("OPENAI_API_KEY") or None
            return None if value in ("", "EMPTY") else value
        return os.environ.get("OPENAI_API_KEY") or None


class RunnerConfig(BaseModel):
    """`runner: {type: ray, address: HOST:6379}` spreads the run over a Ray cluster (ray_runner.py)."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["local", "ray"] = "local"
    address: str | None = None  # default: $RAY_ADDRESS, else the cluster started here by `ray start`
    tasks: int | None = Field(default=None, ge=1)  # shards in flight at once (default: the cluster's CPUs)


class RunConfig(BaseModel):
    """A whole run."""

    model_config = ConfigDict(extra="forbid")

    # Built-in names, or custom datasets: a file path, or {path, type, abbr, few_shot, metric}.
    datasets: list[str | dict[str, Any]] = Field(min_length=1)
    models: list[ModelConfig] = Field(min_length=1)
    work_dir: str = "outputs"
    data_dir: str | None = None
    limit: int | float | str | None = None
    limit_mode: Literal["first", "opencompass"] = "first"
    reuse: str | bool | None = None
    concurrency: int | None = Field(default=None, ge=1)
    groups: bool = True  # add group-average rows to the summary
    code_extraction: Literal["opencompass", "robust"] = "opencompass"
    # Which part of a reply is scored: after the thinking (auto, strip) or all of it as
    # OpenCompass does (keep); see reasoning.py.
    think: Literal["auto", "strip", "keep"] = "auto"
    # Output budget overriding the datasets' own (gsm8k 512, bbh 512, ...): one number for every
    # dataset, or {dataset or sub-dataset: tokens, "*": tokens for the rest}.
    max_out_len: int | dict[str, int] | None = None
    # Ask every sample this many times (seeds seed, seed+1, ...): scores are the mean over the
    # repeats (avg@N), with the standard deviation beside them.
    repeats: int = Field(default=1, ge=1)
    download: bool | None = None  # fetch absent datasets: True always, False never, None ask at a terminal
    progress: bool = True
    # Seconds the healing rounds may spend asking again samples whose requests failed
    # transiently (after each used its retries); 0 turns healing off.
    retry_budget: float = Field(default=600.0, ge=0)
    # Where inference and code execution run: this process (local), or a Ray cluster.
    runner: RunnerConfig = Field(default_factory=lambda: RunnerConfig())

    @field_validator("datasets", mode="before")
    @classmethod
    def _names(cls, v: Any) -> Any:
        if isinstance(v, str):
            v = [s for s in re.split(r"[,\s]+", v) if s]
        if isinstance(v, list):
            from .custom import looks_like_path, normalise_entry

            out = []
            for entry in v:
                if isinstance(entry, dict):
                    out.append(normalise_entry(entry))
                elif isinstance(entry, str) and looks_like_path(entry) and Path(entry).expanduser().exists():
                    out.append(normalise_entry(entry)["path"])  # absolute: a resume may start elsewhere
                else:
                    out.append(entry)
            return out
        return v

    @field_validator("models")
    @classmethod
    def _distinct_names(cls, models: list[ModelConfig]) -> list[ModelConfig]:
        seen: dict[str, ModelConfig] = {}
        for m in models:
            other = seen.get(m.name)
            if other is not None:
                raise ValueError(
                    f"models {other.abbr or other.path!r} and {m.abbr or m.path!r} would share the output "
                    f"name {m.name!r} (the same column and files); give one an abbr (letters, digits, . _ -)"
                )
            seen[m.name] = m
            with_credentials = any("@" in urlparse(base).netloc for base in m.api_bases)
            if with_credentials and m.key is not None and m.key.get_secret_value() not in ("", "EMPTY"):
                raise ValueError(
                    f"model {m.abbr or m.path or 'given'}: the API base holds credentials (user:password@) and an API "
                    "key is given too; use one of them"
                )
        return models

    @field_validator("max_out_len")
    @classmethod
    def _max_out_len(cls, v: Any) -> Any:
        values = v.values() if isinstance(v, dict) else [] if v is None else [v]
        if any(n < 1 for n in values):
            raise ValueError("max_out_len must be at least 1")
        return v

    @field_validator("limit")
    @classmethod
    def _limit(cls, v: Any) -> Any:
        try:
            parse_limit(v)
        except ConfigError as exc:
            raise ValueError(str(exc)) from None
        return v

    def public_dict(self) -> dict[str, Any]:
        """The config as written to the run directory: never the API key."""
        data = self.model_dump(mode="json", exclude={"models": {"__all__": {"key"}}})
        for model in data["models"]:
            base = model.get("openai_api_base")
            if isinstance(base, list):
                model["openai_api_base"] = [_without_credentials(b) for b in base]
            elif base:
                model["openai_api_base"] = _without_credentials(base)
        return data


def _without_credentials(url: str) -> str:
    """Credentials in a URL (http://user:secret@host) stay out of every file."""
    if "@" not in url:
        return url
    parsed = urlparse(url)
    return parsed._replace(netloc=parsed.netloc.rsplit("@", 1)[-1]).geturl()


def safe_name(name: str) -> str:
    """A model name usable as a folder name (`Qwen/Qwen2.5-7B` -> `Qwen_Qwen2.5-7B`)."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("_") or "model"


def parse_limit(limit: Any) -> tuple[str, Any] | None:
    """None, ('count', N), ('fraction', f) or ('slice', slice)."""
    if limit is None or limit is False:
        return None
    if isinstance(limit, bool):
        raise ConfigError("limit must be a number, a fraction or a slice such as '[10:20]'")
    if isinstance(limit, int):
        if limit < 0:
            raise ConfigError(f"limit must not be negative (got {limit})")
        if limit == 0:
            raise ConfigError("limit 0 selects no rows; leave limit out to evaluate every row")
        return ("count", limit)
    if isinstance(limit, float):
        if limit.is_integer() and limit >= 1:
            return ("count", int(limit))
        if 0 < limit < 1:
            return ("fraction", limit)
        raise ConfigError(f"limit {limit} is neither a count nor a fraction in (0, 1)")
    if isinstance(limit, str):
        text = limit.strip()
        if re.fullmatch(r"\d+", text):
            return parse_limit(int(text))
        if re.fullmatch(r"0?\.\d+", text):
            return parse_limit(float(text))
        m = re.fullmatch(r"\[\s*(-?\d*)\s*:\s*(-?\d*)\s*\]", text)
        if m:
            start = int(m.group(1)) if m.group(1) else None
            stop = int(m.group(2)) if m.group(2) else None
            same_sign = start is not None and stop is not None and (start < 0) == (stop < 0)
            if same_sign and stop <= start:  # type: ignore[operator]
                raise ConfigError(f"limit {limit!r} selects no rows (the slice ends before it starts)")
            return ("slice", slice(start, stop))
        raise ConfigError(f"limit {limit!r} is not understood; use N, a fraction like 0.1, or '[10:20]'")
    raise ConfigError(f"limit must be a number or a string, not {type(limit).__name__}")


def select_indices(total: int, limit: Any, mode: str = "first") -> list[int]:
    """Indices of the rows to evaluate out of `total` (spec A.9).

    mode 'first' (default) takes the first N rows; 'opencompass' reproduces OpenCompass's
    test_range: the index list shuffled with random.Random(N), the first N kept."""
    parsed = parse_limit(limit)
    indices = list(range(total))
    if parsed is None:
        return indices
    kind, value = parsed
    if kind == "slice":
        return indices[value]
    n = value if kind == "count" else int(total * value)
    if n <= 0 or n >= total:
        return indices
    if mode == "opencompass":
        import random

        random.Random(n).shuffle(indices)
        return indices[:n]
    return indices[:n]


def _known_keys(loc: tuple[Any, ...]) -> set[str]:
    """The keys a config accepts beside the unknown one at `loc` (field names and aliases)."""
    model: type[BaseModel] = ModelConfig if loc and loc[0] == "models" else RunConfig
    known = set(model.model_fields) | {f.alias for f in model.model_fields.values() if f.alias}
    return known | (IGNORED_MODEL_KEYS if model is ModelConfig else IGNORED_TASK_KEYS)


def _unknown_key(name: str, known: Sequence[str], last: str | None = None, what: str = "key") -> str:
    """The message for an unknown key, naming the nearest accepted key if one is close
    (compared with `last`, the key's own name, when `name` is a dotted location)."""
    close = difflib.get_close_matches(last or name, known, n=1)
    return f"unknown {what} {name!r}" + (f" (did you mean {close[0]!r}?)" if close else "")


_KEY_FLAGS = {"path": "--model", "openai_api_base": "--api-base", "query_per_second": "--rps"}


def _flag_of(loc: tuple[Any, ...], flags: dict[str, str]) -> str | None:
    """The command-line flag that set the value at `loc`, if one did: `flags` maps config keys
    (`limit`, and `models.*.query_per_second` for every model entry) to flags (`--rps`)."""
    if len(loc) >= 3 and loc[0] == "models" and isinstance(loc[1], int):
        return flags.get(f"models.*.{loc[2]}")
    return flags.get(str(loc[0])) if loc else None


def _flag_message(flag: str, err: Any) -> str:
    """`--rps 0: must be greater than 0`: the flag as typed and pydantic's reason in its words."""
    msg = err["msg"].removeprefix("Value error, ").replace("Input should be", "must be")
    # extra_body's "set 'temperature' instead": on the command line that is a flag too
    msg = re.sub(r"set '(\w+)' instead", lambda m: f"use {_KEY_FLAGS.get(m[1], '--' + m[1].replace('_', '-'))} instead", msg)
    value = err.get("input")
    # Only numbers are echoed: a string may be a URL with credentials or a key, never printed.
    if isinstance(value, bool) or not isinstance(value, int | float):
        return f"{flag}: {msg}"
    shown = str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)  # 0.0 typed as 0
    return f"{flag} {shown}: {msg}"


def _format_validation_error(exc: ValidationError, where: str, flags: dict[str, str] | None = None) -> str:
    parts: list[str] = []
    from_flags: list[str] = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"])
        flag = _flag_of(err["loc"], flags or {})
        if flag is not None and err["type"] not in ("extra_forbidden", "missing"):
            message = _flag_message(flag, err)
            if message not in from_flags:  # --rps applies to every model entry: say it once
                from_flags.append(message)
            continue
        if err["type"] == "extra_forbidden":
            parts.append(_unknown_key(loc, sorted(_known_keys(err["loc"])), str(err["loc"][-1])))
        elif err["type"] == "missing":
            parts.append(f"missing required key {loc!r}")
        else:
            msg = err["msg"].removeprefix("Value error, ")
            parts.append(f"{loc}: {msg}")
    if not parts:
        return "; ".join(from_flags)
    return f"invalid config{where}: " + "; ".join(parts + from_flags)


def load_file(path: str | Path) -> dict[str, Any]:
    p = Path(path)
    try:
        if not p.is_file():
            raise ConfigError(f"config file {p} does not exist")
        text = p.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{p}: config is not valid UTF-8 ({exc.reason} at byte {exc.start})") from None
    except (OSError, ValueError) as exc:  # a name too long, a NUL byte, unreadable
        raise ConfigError(f"cannot read config file {p}: {getattr(exc, 'strerror', None) or exc}") from None
    try:
        data = json.loads(text) if p.suffix.lower() == ".json" else yaml.safe_load(text)
    except RecursionError:
        raise ConfigError(f"{p}: config is nested too deeply") from None
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{p}:{exc.lineno}: config is not valid JSON ({exc.msg})") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(f"{p}{line}: config is not valid YAML ({problem})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{p}: the config must be a mapping of keys, not {type(data).__name__}")
    return data


def from_task_config(
    task_cfg: dict[str, Any] | str | Path, where: str = "", flags: dict[str, str] | None = None
) -> RunConfig:
    """Build a RunConfig from EvalScope's task config, our own flat form, or a file path.

    `flags` maps the keys whose values came from command-line flags to those flags
    (`{"limit": "--limit", "models.*.query_per_second": "--rps"}`): their errors name the flag
    typed, the others the config path (`models.0.timeout`)."""
    if isinstance(task_cfg, str | Path):
        where = f" in {task_cfg}"
        task_cfg = load_file(task_cfg)
    if not isinstance(task_cfg, dict):
        raise ConfigError(f"task config must be a mapping, not {type(task_cfg).__name__}")
    cfg = dict(task_cfg)
    if "eval_config" in cfg or "eval_backend" in cfg:
        backend = cfg.pop("eval_backend", "OpenCompass")
        if backend != "OpenCompass":
            raise ConfigError(
                f"eval_backend {backend!r} is not supported; compasslite runs 'OpenCompass' tasks"
            )
        outer_keys = ("eval_config", "work_dir", "limit", "data_dir")
        extra = sorted(map(str, set(cfg) - set(outer_keys)))
        if extra:
            unknown = [_unknown_key(k, outer_keys, what="top-level key") for k in extra]
            raise ConfigError(f"invalid config{where}: " + "; ".join(unknown))
        inner = cfg.pop("eval_config", None)
        if not isinstance(inner, dict):
            raise ConfigError(f"invalid config{where}: 'eval_config' must be a mapping")
        merged = {**{k: v for k, v in cfg.items()}, **inner}
        cfg = merged
    ignored = sorted(k for k in cfg if k in IGNORED_TASK_KEYS)
    for k in ignored:
        cfg.pop(k)
    models = cfg.get("models")
    check_models_shape(models, where)
    ignored_model: set[str] = set()
    if isinstance(models, list):
        cleaned = []
        for m in models:
            if isinstance(m, dict):
                ignored_model |= {k for k in m if k in IGNORED_MODEL_KEYS}
                m = {k: v for k, v in m.items() if k not in IGNORED_MODEL_KEYS}
            cleaned.append(m)
        cfg["models"] = cleaned
    if ignored or ignored_model:
        log.warning(
            "ignoring OpenCompass-internal config key(s): %s",
            ", ".join(ignored + sorted(f"models[].{k}" for k in ignored_model)),
        )
    try:
        return RunConfig.model_validate(cfg)
    except ValidationError as exc:
        raise ConfigError(_format_validation_error(exc, where, flags)) from None
    except ConfigError as exc:
        raise ConfigError(f"invalid config{where}: {exc}") from None
