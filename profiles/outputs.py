"""Output paths a command writes, checked before any work, so a bad one fails first and a file
the command did not write is never overwritten."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from blocks.errors import UserError


def writable_dir(path: str | Path, *, create: bool = True) -> Path:
    """``path`` as a folder a file can be written in (made with its parents when ``create``),
    proved by writing one; else a one-line UserError."""
    p = Path(path)
    if not create and not p.is_dir():
        raise UserError(f"output folder does not exist: {p}")
    try:
        p.mkdir(parents=True, exist_ok=True)
        probe = p / f".write-test-{os.getpid()}"
        probe.write_bytes(b"x" * 4096)
        probe.unlink()
    except OSError as exc:
        raise UserError(f"cannot write to output folder {p}: {exc.strerror or exc}") from None
    return p


def output_file(text: str, *, what: str, is_ours: Callable[[Path], bool],
                create_parent: bool) -> Path:
    """``--out`` naming the ``what`` file a command writes: not empty, not a folder, in a
    writable folder; an existing file is replaced only when ``is_ours`` recognises it (a
    checkpoint the command resumes, a table it wrote before)."""
    if not text:
        raise UserError(f"--out is empty: name the {what} file to write")
    out = Path(text)
    if out.is_dir():
        raise UserError(f"--out {out} is a folder; name the {what} file to write in it")
    if (out.exists() or out.is_symlink()) and not is_ours(out):
        raise UserError(f"{out} exists and is not a {what}; not overwriting it (choose another "
                        "--out or remove the file)")
    writable_dir(out.parent, create=create_parent)
    return out
