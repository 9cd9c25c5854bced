"""User-facing errors: each carries one clear message naming what is wrong and where."""

from __future__ import annotations

import contextvars

# Who is driving compasslite, so that hints name what the user can change: flags such as
# `--data-dir` on the command line (the CLI sets "cli", and "cli-run" for `compasslite run`),
# keys such as `data_dir` from Python.
FRONTEND: contextvars.ContextVar[str] = contextvars.ContextVar("compasslite_frontend", default="python")


def from_cli() -> bool:
    return FRONTEND.get().startswith("cli")


class CompassliteError(Exception):
    """Base class; the CLI prints the message alone (no traceback) and exits 2."""


class ConfigError(CompassliteError):
    pass


class UnknownDatasetError(ConfigError):
    pass


class DataError(CompassliteError):
    """A data file is missing or malformed."""


class MissingDataError(DataError):
    """A data file is not where it is expected."""


class ServerError(CompassliteError):
    """The server is unreachable, or does not serve the model."""


class RunDirError(CompassliteError):
    pass
