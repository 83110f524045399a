"""``distillnas zoo``: the reference networks with their parameter counts and keys."""

from __future__ import annotations

import argparse
import json

from blocks.build import build_network
from blocks.specs import SCALES
from blocks.zoo import ZOO


def count_parameters(model) -> int:  # noqa: ANN001 - kept torch-free at import time
    return sum(p.numel() for p in model.parameters())


def zoo_rows(scales: tuple[int, ...] = SCALES) -> list[dict]:
    rows = []
    for name in ZOO.names():
        entry = ZOO.get(name)
        for s in scales:
            spec = entry.spec(s)
            rows.append({
                "name": name, "scale": s, "params": count_parameters(build_network(spec)),
                "published_params": entry.published_params.get(s),
                "reconstruction": entry.reconstruction, "key": spec.key(),
                "description": entry.description,
            })
    return rows


def _run_zoo(args: argparse.Namespace) -> int:
    scales = tuple(dict.fromkeys(args.scale)) if args.scale else SCALES  # --scale 2 --scale 2: once
    rows = zoo_rows(scales)
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    print(f"{'name':<14}{'scale':>5}{'params':>11}  key")
    for r in rows:
        tag = "  (reconstruction)" if r["reconstruction"] else ""
        print(f"{r['name']:<14}{'x' + str(r['scale']):>5}{r['params']:>11,}  {r['key']}{tag}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("zoo", help="list the reference networks (params, canonical key)")
    p.add_argument("--scale", type=int, action="append", choices=SCALES,
                   help="only this scale (repeatable); default 2, 3 and 4")
    p.add_argument("--json", action="store_true", help="print a JSON list of objects")
    p.set_defaults(func=_run_zoo)
