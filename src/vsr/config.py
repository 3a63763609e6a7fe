"""Where the Hydra configs are, whichever way vsr was installed."""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def config_dir() -> str:
    """The `conf/` tree: inside the package in a wheel install, at the repository root in an
    editable install or a source checkout."""
    for candidate in (_PACKAGE / "conf", _PACKAGE.parents[1] / "conf"):
        if (candidate / "train.yaml").is_file():
            return str(candidate)
    raise FileNotFoundError(
        f"vsr's Hydra configs are missing: looked for conf/train.yaml in {_PACKAGE} and "
        f"{_PACKAGE.parents[1]}. Reinstall vsr (`make install`)."
    )
