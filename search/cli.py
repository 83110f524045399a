"""The `distillnas` command: one argparse parser; each package registers its subcommands."""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import warnings
from collections.abc import Sequence

# Each module defines `register(subparsers)`, adding parsers with `set_defaults(func=...)`;
# `func(args) -> int`. Modules are imported lazily: a missing optional extra breaks only its
# command.
COMMAND_MODULES = (
    "blocks.cli",
    "profiles.cli",
    "profiles.devices_cli",
    "search.data_cli",
    "search.train_cli",
    "search.supernet_cli",
    "search.search_cli",
    "search.select_cli",
    "reports.cli",
)


class OneLineParser(argparse.ArgumentParser):
    """An ArgumentParser whose usage errors are one line on stderr (no usage dump), exit 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog="distillnas",
        description="Search, profile and select lightweight feature-distillation SR networks.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=OneLineParser)
    sub.required = True
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:  # the command module itself is not written yet
                continue
            raise
        module.register(sub)
    return parser


def _quiet_libraries() -> None:
    """Optuna's per-trial INFO lines would drown the progress bar, and third-party warnings
    (torch, optuna, onnx, ptflops, thop) are not the user's to act on: both are silenced.
    distillnas' own warnings still show."""
    for module in ("torch", "optuna", "onnx", "onnxscript", "ptflops", "thop", "ray", "skimage"):
        warnings.filterwarnings("ignore", module=rf"{module}(\..*)?$")
    # torch.load warns (attributed to the caller's line) before it refuses a TorchScript file
    # given as weights: the command's own one-line error says what is wrong
    warnings.filterwarnings("ignore", message=".*looks like a TorchScript archive")
    try:
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)
    except ImportError:
        pass


def _out_of_memory(exc: BaseException) -> bool:
    """A failed allocation: Python's MemoryError or torch's allocator error (a RuntimeError)."""
    text = str(exc).lower()
    return isinstance(exc, MemoryError) or (isinstance(exc, RuntimeError) and (
        "can't allocate memory" in text or "out of memory" in text))


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def _empty_argument(argv: Sequence[str]) -> str | None:
    """The usage error for the first empty argument (``--out ''``, ``--out=`` or an empty
    positional), or None. No option of any command takes an empty value, and argparse would
    pass one on: an empty path then means the current folder, an empty budget none."""
    for i, token in enumerate(argv):
        if token == "--":
            return None
        if token.startswith("--") and token.endswith("=") and len(token) > 3:
            return f"an empty value after {token[:-1]}"
        if token == "":
            before = argv[i - 1] if i else ""
            if before.startswith("-") and "=" not in before:
                return f"an empty value after {before}"
            return "an empty argument was given"
    return None


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; user errors print one line on stderr and return a non-zero code."""
    debug = os.environ.get("DISTILLNAS_DEBUG") == "1"
    _quiet_libraries()
    try:
        parser = build_parser()
        empty = _empty_argument(list(sys.argv[1:] if argv is None else argv))
        if empty is not None:
            print(f"distillnas: error: {empty} (see --help)", file=sys.stderr)
            return 2
        try:
            args = parser.parse_args(argv)
        except SystemExit as exc:  # --help (0) or a usage error (2), already printed
            return int(exc.code or 0)
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("distillnas: interrupted", file=sys.stderr)
        return 130
    except (ValueError, KeyError, OSError, ImportError) as exc:
        if debug:
            raise
        print(f"distillnas: error: {_one_line(exc)}", file=sys.stderr)
        return 2
    except Exception as exc:  # noqa: BLE001 - the last line of defence: never a traceback
        if debug:
            raise
        if _out_of_memory(exc):  # e.g. profile --input 99999x99999: the input, not a bug
            print("distillnas: error: out of memory (a smaller --input, width or batch may fit): "
                  f"{_one_line(exc)}", file=sys.stderr)
            return 2
        print(
            f"distillnas: internal error: {type(exc).__name__}: {_one_line(exc)} "
            "(set DISTILLNAS_DEBUG=1 for the traceback)",
            file=sys.stderr,
        )
        return 1


if __name__ == "__main__":
    sys.exit(main())
