"""The installed package's version (``aimarket --version``), from its metadata."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

DISTRIBUTION = "aimarket"
"""The name ``pip`` knows the project by (pyproject.toml's ``project.name``)."""


def package_version() -> str:
    """The version ``pip`` installed (pyproject.toml's ``project.version``).

    ``"unknown (not installed)"`` when run from a source tree that was never installed.
    """
    try:
        return version(DISTRIBUTION)
    except PackageNotFoundError:
        return "unknown (not installed)"
