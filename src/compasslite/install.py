"""Install hints that suit how compasslite was installed.

From PyPI an extra is `pip install 'compasslite[local]'`; from a source checkout (an editable
install, or the package imported from `<checkout>/src`) the same command would fetch the PyPI
release over the checkout, so the hint is `pip install -e '.[local]'` (with the checkout's
path instead of `.` when the user is elsewhere).
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import json
import os
import shlex
from pathlib import Path
from urllib.parse import unquote, urlparse

DIST = "compasslite"


def source_checkout() -> Path | None:
    """The root of the source checkout compasslite runs from, or None for a regular install."""
    with contextlib.suppress(importlib.metadata.PackageNotFoundError, OSError, ValueError, TypeError):
        text = importlib.metadata.distribution(DIST).read_text("direct_url.json")
        info = json.loads(text) if text else {}
        url = urlparse(info.get("url", ""))
        if info.get("dir_info", {}).get("editable") and url.scheme == "file":
            root = Path(unquote(url.path))
            if (root / "pyproject.toml").is_file():
                return root
    # Not installed at all, run with PYTHONPATH=src: src/compasslite/install.py -> the root.
    root = Path(__file__).resolve().parents[2]
    if (root / "pyproject.toml").is_file() and (root / "src" / "compasslite").is_dir():
        return root
    return None


def pip_install(extra: str, checkout: Path | None | bool = True) -> str:
    """The command that installs compasslite's `extra` the way compasslite is installed.

    `checkout=True` looks it up; pass a path or None to choose (tests, messages for others)."""
    root = source_checkout() if checkout is True else checkout or None
    if root is None:
        return f"pip install '{DIST}[{extra}]'"
    here = Path.cwd().resolve()
    target = "." if root.resolve() == here else os.fspath(root)
    return f"pip install -e {shlex.quote(f'{target}[{extra}]')}"
