"""`distillnas report`: write a study's HTML/Markdown report and plots, or print it as JSON."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

__all__ = ["register", "run_report"]


def register(subparsers: Any) -> None:
    """Add the `report` command to the distillnas parser."""
    parser = subparsers.add_parser(
        "report",
        help="write a study's report (HTML, Markdown, plots, CSV)",
        description=(
            "Write a self-contained HTML report, a Markdown summary, PNG/SVG plots and CSV tables "
            "for one study; --json also prints the front and hypervolume as JSON."
        ),
    )
    parser.add_argument("--study", required=True, help="study name in the storage")
    parser.add_argument(
        "--storage",
        required=True,
        help="journal:///PATH, sqlite:///PATH or postgresql://USER@HOST/DB (read-only)",
    )
    parser.add_argument("--out", required=True, help="folder for the report files")
    parser.add_argument(
        "--json", action="store_true", help="print the summary (front, hypervolume) as JSON"
    )
    parser.set_defaults(func=run_report)


def run_report(args: argparse.Namespace) -> int:
    """Load the study, write the report into --out; print the paths or, with --json, the summary."""
    from reports.errors import ReportError
    from reports.records import load_records, load_study_attrs
    from reports.report import write_report

    if not str(args.out).strip():  # an empty path would mean the current folder
        raise ReportError("--out is empty; give a folder for the report files")
    attrs = load_study_attrs(args.storage, args.study)
    df = load_records(args.storage, args.study)
    paths = write_report(df, attrs, args.out)
    summary = json.loads(paths["summary_json"].read_text())
    if summary.get("note"):
        print(f"distillnas: warning: {summary['note']}", file=sys.stderr)
    if args.json:
        summary["files"] = {name: str(path) for name, path in paths.items()}
        print(json.dumps(summary, indent=2))
    else:
        print(f"report: {paths['html']}")
        print(f"summary: {paths['markdown']}")
        print(f"front: {len(summary['front'])} trials; hypervolume {summary['hypervolume']}")
    return 0
