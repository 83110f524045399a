"""Output folders a command writes into: checked before any work, so a bad one fails first."""

from __future__ import annotations

import os
from pathlib import Path

from blocks.errors import UserError


def ensure_output_dir(path: str | Path) -> Path:
    """Create ``path`` (and parents) and prove a file can be written there; else a UserError."""
    p = Path(path)
    try:
        p.mkdir(parents=True, exist_ok=True)
        probe = p / f".write-test-{os.getpid()}"
        probe.write_bytes(b"x" * 4096)
        probe.unlink()
    except OSError as exc:
        raise UserError(f"cannot write to output folder {p}: {exc.strerror or exc}") from None
    return p
