"""Files of runs and studies: atomic writes, reading back with named errors, output
folders (checked, locked), safe names, the versions written into every manifest.

- :func:`atomic_write` is the one way results are written: under a temporary name
  in the same folder, then renamed, so a killed process never leaves half a file;
- :func:`read_table`, :func:`read_frame` and :func:`read_json` raise
  :class:`~experiments.errors.OutputError` naming the file when it is truncated or
  broken, instead of a library's traceback;
- :func:`prepare_folder` creates an output folder and checks it is writable before
  anything is simulated; :class:`FolderLock` gives one study at a time a folder.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import platform
import re
import shutil
import socket
import time
from collections.abc import Callable, Mapping
from importlib import metadata
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from experiments.errors import OutputError

PACKAGES = ("aimarket", "mesa", "pyomo", "highspy", "numpy", "networkx", "pydantic", "pyarrow")
"""Packages whose versions every manifest records."""

LOCK_NAME = ".aimarket.lock"
"""The lock file in an output folder while a study writes into it."""


def versions() -> dict[str, str]:
    """Python's and the main packages' versions (``"not installed"`` if absent)."""
    out = {"python": platform.python_version()}
    for p in PACKAGES:
        try:
            out[p] = metadata.version(p)
        except metadata.PackageNotFoundError:
            out[p] = "not installed"
    return out


def atomic_write(path: Path, write: Callable[[Path], object]) -> Path:
    """Call ``write(tmp)`` for a temporary path beside ``path``, then rename it to ``path``."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def write_json(path: Path, data: Mapping[str, Any]) -> Path:
    """``data`` as indented JSON with sorted keys (atomic)."""
    text = json.dumps(data, indent=2, sort_keys=True, default=str)
    return atomic_write(path, lambda p: Path(p).write_text(text, encoding="utf-8"))


def write_frame(df: pd.DataFrame, path: Path) -> Path:
    """A DataFrame as Parquet (``.parquet``) or CSV (``.csv``), without its index (atomic)."""
    path = Path(path)
    if path.suffix == ".csv":
        return atomic_write(path, lambda p: df.to_csv(p, index=False))
    table = pa.Table.from_pandas(df, preserve_index=False)
    return atomic_write(path, lambda p: pq.write_table(table, p))


def read_table(path: Path) -> pa.Table:
    """A Parquet file as an Arrow table; ``OutputError`` naming the file if it is unreadable."""
    try:
        return pq.read_table(path)
    except FileNotFoundError:
        raise OutputError(f"{path}: file not found") from None
    except (OSError, pa.ArrowException) as exc:
        raise OutputError(
            f"{path}: not a readable Parquet file ({exc}); it may be truncated or damaged: "
            "delete it and run again (a study re-runs it with --resume)"
        ) from None


def read_frame(path: Path) -> pd.DataFrame:
    """A Parquet file as a DataFrame (see :func:`read_table`)."""
    return read_table(path).to_pandas()


def read_json(path: Path) -> dict[str, Any]:
    """A JSON object from ``path``; ``OutputError`` naming the file if it is broken."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise OutputError(f"{path}: file not found") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise OutputError(
            f"{path}: not readable JSON ({exc}); it may be truncated or edited by hand: "
            "restore it or run again into a new --out"
        ) from None
    if not isinstance(data, dict):
        raise OutputError(f"{path}: expected a JSON object, found {type(data).__name__}")
    return data


_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def safe_name(name: str) -> str:
    """``name`` as one safe path component: letters, digits, ``.``, ``_`` and ``-`` only,
    no leading dots (so ``../../x`` becomes ``x``); ``"unnamed"`` if nothing is left."""
    return _UNSAFE.sub("_", name).strip("._-") or "unnamed"


def prepare_folder(folder: Path, option: str = "--out") -> Path:
    """Create ``folder`` (and its parents) and check a file can be written in it.

    Raises ``OutputError`` naming ``folder`` and ``option`` when it is a file, lies
    under a file, or is not writable (before anything is simulated).
    """
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / f".aimarket-probe-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except FileExistsError:
        raise OutputError(f"{option} {folder}: is a file, not a folder; choose a folder") from None
    except NotADirectoryError:
        raise OutputError(
            f"{option} {folder}: a part of this path is a file, not a folder; choose another path"
        ) from None
    except PermissionError:
        raise OutputError(
            f"{option} {folder}: not writable (permission denied); choose a folder you can write"
        ) from None
    except OSError as exc:
        raise OutputError(f"{option} {folder}: cannot be written ({exc.strerror})") from None
    return folder


def empty_for_run(folder: Path, force: bool, option: str = "--out") -> Path:
    """Make sure a run writes into an empty folder: refuse a non-empty one unless
    ``force``, which clears it (only a folder of aimarket results, one with a
    ``manifest.json``, so a mistyped path never empties a folder of other files)."""
    folder = prepare_folder(folder, option)
    entries = [p for p in folder.iterdir() if p.name != LOCK_NAME]
    if not entries:
        return folder
    if not force:
        raise OutputError(
            f"{option} {folder}: not empty ({len(entries)} files or folders); pass --force "
            "to replace its contents, or choose another folder"
        )
    if not (folder / "manifest.json").is_file():
        raise OutputError(
            f"{option} {folder}: --force clears only a folder of aimarket results (one "
            "with a manifest.json) and this one has none; choose another folder"
        )
    for p in entries:
        if p.is_dir() and not p.is_symlink():
            shutil.rmtree(p)
        else:
            p.unlink()
    return folder


class FolderLock:
    """An exclusive lock on an output folder for one study (``fcntl.flock`` on a lock file).

    A second study into the same folder, from this or another process, gets an
    ``OutputError`` naming the holder. The lock is released on ``release`` or exit
    (the kernel releases it if the holder is killed, so a lock file left behind by
    a killed study is stale and is taken over, not an obstacle).
    """

    def __init__(self, folder: Path) -> None:
        self.path = Path(folder) / LOCK_NAME
        self._fd: int | None = None

    def acquire(self) -> FolderLock:
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                break
            try:  # the holder may have released and removed the file meanwhile: retry
                same = os.fstat(fd).st_ino == os.stat(self.path).st_ino
            except FileNotFoundError:
                same = False
            if same:
                os.ftruncate(fd, 0)
                os.write(fd, f"pid {os.getpid()} on {socket.gethostname()} since "
                             f"{time.strftime('%Y-%m-%d %H:%M:%S')}".encode())  # fmt: skip
                self._fd = fd
                return self
            os.close(fd)
        holder = ""
        with contextlib.suppress(OSError):
            holder = os.read(fd, 200).decode("utf-8", "replace").strip()
        os.close(fd)
        raise OutputError(
            f"{self.path.parent}: another study is writing into this folder"
            f"{f' ({holder})' if holder else ''}; wait for it to finish or choose another --out"
        )

    def release(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                self.path.unlink()
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> FolderLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


__all__ = [
    "FolderLock",
    "atomic_write",
    "empty_for_run",
    "prepare_folder",
    "read_frame",
    "read_json",
    "read_table",
    "safe_name",
    "versions",
    "write_frame",
    "write_json",
]
