"""Output folders a command writes into: checked before any work, so a bad one fails first."""

from __future__ import annotations

from pathlib import Path

from profiles.outputs import writable_dir


def ensure_output_dir(path: str | Path) -> Path:
    """Create ``path`` (and parents) and prove a file can be written there; else a UserError."""
    return writable_dir(path, create=True)
