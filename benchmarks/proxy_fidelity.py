"""Proxy fidelity (issue 4): does the ``quick`` proxy rank nets as K x longer training does?

    .venv/bin/python benchmarks/proxy_fidelity.py [--archs N] [--budget-mult K] [--proxy quick]
        [--scale 2] [--seed 0] [--threads 2] [--steps S] [--data DIR] [--out PREFIX]

Trains each architecture (up to 12: channels, depth, conv type standard/DCB/MKDCB, kernel sets,
attention, and zoo nets at small width) under the proxy and under the same protocol with K times
its steps (the reference; checkpoints K times further apart). Reports Kendall tau and Spearman
rho between the two rankings of final Y-PSNR, the params-only tau (parameter count against the
reference ranking: a proxy must beat it to add anything), each net's PSNR against the bicubic
baselines (MATLAB bicubic as papers print it, and torch's bicubic, the starting point of a
bicubic-residual proxy), and the wall time per candidate. Writes PREFIX.json and PREFIX.md
(default benchmarks/results/proxy_fidelity_issue4).

Resumable: each (architecture, protocol, budget) result is cached in benchmarks/results/cache/
as JSON keyed by the spec key, the protocol and a code revision (a hash of the training-relevant
sources), and a run in progress checkpoints under cache/ckpt/ (deleted once its result is
cached), so an interrupted benchmark continues where it stopped. The full default run (12
architectures, K = 8) takes more than an hour of CPU on 2 cores; ``--archs 2 --steps 4
--budget-mult 2`` is a smoke test of a minute.

The reference here is the SAME protocol run longer (residual included), as issue 4 asks; issue 8
asks for a converged reference on Set5 + Set14 + B100, which this script does not claim to be.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from blocks.specs import NetSpec, block_spec  # noqa: E402
from blocks.zoo import zoo_spec  # noqa: E402
from search.evaluate import evaluate_pairs  # noqa: E402
from search.proxies import ProxyProtocol, TrainData, get_protocol  # noqa: E402
from search.train import ProxyUpscaler, TrainResult, train  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
#: the sources whose change invalidates cached results
REVISION_FILES = (
    "blocks/*.py",
    "search/train.py",
    "search/proxies.py",
    "search/datasets.py",
    "search/evaluate.py",
    "search/metrics.py",
    "search/images.py",
    "search/imresize.py",
)


def _narrow(name: str, channels: int, scale: int) -> NetSpec:
    """A zoo network at a smaller trunk width (every block narrowed)."""
    spec = zoo_spec(name, scale)
    return replace(spec, blocks=tuple(replace(b, channels=channels) for b in spec.blocks))


def _chain(kind: str, channels: int, n: int, scale: int, **knobs: Any) -> NetSpec:
    return NetSpec(
        "distill", scale, tuple(block_spec(kind, channels, **knobs) for _ in range(n)), "lrelu"
    )


def architectures(scale: int) -> list[tuple[str, NetSpec]]:
    """The benchmark's architectures, most diverse first (so ``--archs N`` stays varied)."""
    return [
        ("e_rfdn@c32", _narrow("e_rfdn", 32, scale)),
        ("drfdn@c32", _narrow("drfdn", 32, scale)),
        ("rfdb-c16x2", _chain("rfdb", 16, 2, scale)),
        ("drfdb-dcb-k3-c48x4", _chain("drfdb", 48, 4, scale, conv="dcb", kernels=(3,))),
        (
            "drfdb-mkdcb-k357-c32x3",
            _chain("drfdb", 32, 3, scale, conv="mkdcb", kernels=(3, 5, 7), merge="concat"),
        ),
        ("rfdb-c48x2", _chain("rfdb", 48, 2, scale)),
        ("rfdb-c24x6", _chain("rfdb", 24, 6, scale)),
        ("lrfdn@c32", _narrow("lrfdn", 32, scale)),
        ("imdn@c32x6", _narrow("imdn", 32, scale)),
        ("drfdb-dcb-k5-c24x4", _chain("drfdb", 24, 4, scale, conv="dcb", kernels=(5,))),
        ("rfdb-k5-noatt-c32x3", _chain("rfdb", 32, 3, scale, kernels=(5,), attention="none")),
        ("drn@c24", _narrow("drn", 24, scale)),
    ]


def code_revision() -> str:
    """A short hash of the training-relevant sources (the cache key's code part)."""
    h = hashlib.sha1()
    for pattern in REVISION_FILES:
        for path in sorted(ROOT.glob(pattern)):
            h.update(path.relative_to(ROOT).as_posix().encode())
            h.update(path.read_bytes())
    return h.hexdigest()[:12]


def git_head() -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=ROOT,
            text=True,
            capture_output=True,
            check=True,
        )
        dirty = subprocess.run(
            ["git", "status", "--porcelain"], cwd=ROOT, text=True, capture_output=True, check=True
        ).stdout.strip()
        return out.stdout.strip() + ("-dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return None


def cache_key(
    spec: NetSpec, protocol: ProxyProtocol, seed: int, threads: int, data: TrainData, revision: str
) -> str:
    blob = json.dumps(
        {
            "spec": spec.key(),
            "protocol": protocol.to_dict(),
            "seed": seed,
            "threads": threads,
            "data": data.describe(),
            "revision": revision,
        },
        sort_keys=True,
    )
    return hashlib.sha1(blob.encode()).hexdigest()[:20]


def train_cached(
    label: str,
    spec: NetSpec,
    protocol: ProxyProtocol,
    *,
    data: TrainData,
    seed: int,
    threads: int,
    cache: Path,
    revision: str,
    progress: bool,
) -> dict[str, Any]:
    """Train (or read the cached result of) one architecture under one protocol."""
    key = cache_key(spec, protocol, seed, threads, data, revision)
    path = cache / f"{key}.json"
    if path.is_file():
        return json.loads(path.read_text())
    ckpt_dir = cache / "ckpt" / key
    t0, c0 = time.perf_counter(), time.process_time()
    res: TrainResult = train(
        spec,
        data=data,
        protocol=protocol,
        seed=seed,
        threads=threads,
        out_dir=ckpt_dir,
        resume=True,
        progress=progress,
    )
    record = {
        "label": label,
        "spec_key": spec.key(),
        "protocol": protocol.to_dict(),
        "seed": seed,
        "threads": threads,
        "revision": revision,
        "wall_seconds": time.perf_counter() - t0,
        "cpu_seconds": time.process_time() - c0,
        "result": res.to_dict(),
    }
    cache.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(record, indent=1) + "\n")
    os.replace(tmp, path)
    shutil.rmtree(ckpt_dir, ignore_errors=True)
    return record


def kendall_tau(a: list[float], b: list[float]) -> float:
    """Kendall tau-b (NaN when undefined: fewer than 2 items or a constant ranking)."""
    from scipy.stats import kendalltau

    return float(kendalltau(a, b).statistic) if len(a) >= 2 else float("nan")


def spearman(a: list[float], b: list[float]) -> float:
    from scipy.stats import spearmanr

    return float(spearmanr(a, b).statistic) if len(a) >= 3 else float("nan")


class _Zero(torch.nn.Module):
    def __init__(self, scale: int) -> None:
        super().__init__()
        self.scale = scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.zeros(x.shape[0], 3, x.shape[2] * self.scale, x.shape[3] * self.scale)


def bicubic_baselines(data: TrainData, protocol: ProxyProtocol, scale: int) -> dict[str, Any]:
    """Mean over the protocol's final sets of MATLAB bicubic and torch bicubic Y-PSNR (dB)."""
    out: dict[str, Any] = {"sets": {}}
    torch_bicubic = ProxyUpscaler(_Zero(scale), scale, residual="bicubic")
    for name in data.set_names(protocol.final_sets):
        pairs = data.pairs(name, scale)
        out["sets"][name] = {
            "matlab_bicubic_db": evaluate_pairs("bicubic", pairs, scale)["psnr_y_db"],
            "torch_bicubic_db": evaluate_pairs(torch_bicubic, pairs, scale)["psnr_y_db"],
        }
    for k in ("matlab_bicubic_db", "torch_bicubic_db"):
        out[k] = float(np.mean([s[k] for s in out["sets"].values()]))
    return out


def _fmt(x: Any, nd: int = 3) -> str:
    return "-" if x is None or (isinstance(x, float) and not np.isfinite(x)) else f"{x:.{nd}f}"


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def render_markdown(report: dict[str, Any]) -> str:
    ctx = report["context"]
    lines = [
        "# Proxy fidelity (issue 4)",
        "",
        f"Proxy `{report['proxy_protocol']['name']}` ({report['proxy_protocol']['steps']} steps) "
        f"against the same protocol with {report['budget_mult']}x the steps "
        f"({report['reference_protocol']['steps']}); x{report['scale']}, seed {report['seed']}, "
        f"data `{ctx['data']['source']}`, scored on {', '.join(report['final_sets'])} (full "
        "images, Y-PSNR, mean of set means).",
        "",
        f"- **Kendall tau (proxy vs reference): {_fmt(report['kendall_tau'])}**; Spearman "
        f"{_fmt(report['spearman'])}; n = {report['n_architectures']}",
        f"- Params-only tau (parameter count vs reference): {_fmt(report['params_only_tau'])}",
        f"- Wall time per candidate: proxy {_fmt(report['seconds_per_candidate'], 1)} s, "
        f"reference {_fmt(report['reference_seconds_per_candidate'], 1)} s (train + eval); "
        f"proxy CPU {_fmt(report['cpu_seconds_per_candidate'], 1)} s",
        f"- Bicubic baselines: MATLAB {_fmt(report['bicubic']['matlab_bicubic_db'])} dB, torch "
        f"{_fmt(report['bicubic']['torch_bicubic_db'])} dB (the bicubic-residual starting point)",
        "",
        "| arch | params | proxy dB | ref dB | proxy - bicubic | ref - bicubic | proxy rank | "
        "ref rank | proxy s | proxy CPU s (whole call) | s/step | ref s |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in report["rows"]:
        lines.append(
            f"| {r['label']} | {r['params']:,} | {_fmt(r['proxy_psnr_y_db'])} | "
            f"{_fmt(r['ref_psnr_y_db'])} | {_fmt(r['proxy_vs_bicubic_db'])} | "
            f"{_fmt(r['ref_vs_bicubic_db'])} | {r['proxy_rank']} | {r['ref_rank']} | "
            f"{_fmt(r['proxy_seconds'], 1)} | {_fmt(r['proxy_cpu_seconds'], 1)} | "
            f"{_fmt(r['proxy_seconds_per_step'])} | "
            f"{_fmt(r['ref_seconds'], 1)} |"
        )
    lines += [
        "",
        f"Context: {ctx['threads']} threads, torch {ctx['torch']}, CPU {ctx['cpu']}, load "
        f"average {ctx['load_before']} before / {ctx['load_after']} after (a shared host makes "
        f"times noisy), code revision {ctx['revision']} (git {ctx['git']}).",
        "",
        f"Command: `{ctx['command']}`",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--archs", type=int, default=None, help="first N architectures (default all)")
    ap.add_argument("--budget-mult", type=int, default=8, help="reference budget = K x proxy's")
    ap.add_argument("--proxy", default="quick", help="proxy protocol (default quick)")
    ap.add_argument("--steps", type=int, help="override the proxy's steps (smoke tests)")
    ap.add_argument("--scale", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--data", help="data root (default: $DISTILLNAS_DATA or ../shared/data)")
    ap.add_argument(
        "--out",
        default=str(RESULTS / "proxy_fidelity_issue4"),
        help="output path without suffix (.json and .md are written)",
    )
    ap.add_argument("--cache", default=str(RESULTS / "cache"), help="result cache folder")
    ap.add_argument("--no-progress", action="store_true")
    ap.add_argument("--list", action="store_true", help="list the architectures and exit")
    args = ap.parse_args(argv)

    archs = architectures(args.scale)[: args.archs]
    if args.list:
        for label, spec in archs:
            print(f"{label:26s} {spec.key()}")
        return 0
    proxy = get_protocol(args.proxy)
    if args.steps is not None:
        proxy = replace(
            proxy, steps=args.steps, seconds=None, eval_every=min(proxy.eval_every, args.steps)
        )
    if proxy.steps is None:
        print("proxy_fidelity: the proxy needs a step budget", file=sys.stderr)
        return 2
    reference = replace(
        proxy, steps=proxy.steps * args.budget_mult, eval_every=proxy.eval_every * args.budget_mult
    )
    load_before = [round(x, 2) for x in os.getloadavg()]
    data = TrainData.for_protocol(proxy, args.data)
    revision, cache = code_revision(), Path(args.cache)
    rows = []
    t_start = time.perf_counter()
    for i, (label, spec) in enumerate(archs, 1):
        common = dict(
            data=data,
            seed=args.seed,
            threads=args.threads,
            cache=cache,
            revision=revision,
            progress=not args.no_progress,
        )
        q = train_cached(label, spec, proxy, **common)
        r = train_cached(label, spec, reference, **common)
        qr, rr = q["result"], r["result"]
        rows.append(
            {
                "label": label,
                "spec_key": spec.key(),
                "params": qr["params"],
                "proxy_status": qr["status"],
                "ref_status": rr["status"],
                "proxy_psnr_y_db": qr["psnr_y_db"],
                "ref_psnr_y_db": rr["psnr_y_db"],
                "proxy_curve": qr["curve"],
                "ref_curve": rr["curve"],
                "proxy_seconds": qr["train_seconds"] + qr["eval_seconds"],
                "proxy_seconds_per_step": qr["seconds_per_step"],
                "proxy_cpu_seconds": q.get("cpu_seconds"),
                "ref_seconds": rr["train_seconds"] + rr["eval_seconds"],
            }
        )
        print(
            f"[{i}/{len(archs)}] {label}: {qr['params']:,} params, proxy "
            f"{_fmt(qr['psnr_y_db'])} dB ({rows[-1]['proxy_seconds']:.1f} s), reference "
            f"{_fmt(rr['psnr_y_db'])} dB ({rows[-1]['ref_seconds']:.1f} s)",
            flush=True,
        )
    bic = bicubic_baselines(data, proxy, archs[0][1].scale)
    ok = [r for r in rows if r["proxy_psnr_y_db"] is not None and r["ref_psnr_y_db"] is not None]
    qv = [r["proxy_psnr_y_db"] for r in ok]
    rv = [r["ref_psnr_y_db"] for r in ok]
    pv = [float(r["params"]) for r in ok]
    for r in rows:
        r["proxy_vs_bicubic_db"] = (
            None
            if r["proxy_psnr_y_db"] is None
            else r["proxy_psnr_y_db"] - bic["matlab_bicubic_db"]
        )
        r["ref_vs_bicubic_db"] = (
            None if r["ref_psnr_y_db"] is None else r["ref_psnr_y_db"] - bic["matlab_bicubic_db"]
        )
        r["proxy_rank"] = 1 + sum(v > (r["proxy_psnr_y_db"] or -1e9) for v in qv)
        r["ref_rank"] = 1 + sum(v > (r["ref_psnr_y_db"] or -1e9) for v in rv)
    report = {
        "kendall_tau": kendall_tau(qv, rv),
        "spearman": spearman(qv, rv),
        "params_only_tau": kendall_tau(pv, rv),
        "seconds_per_candidate": float(np.mean([r["proxy_seconds"] for r in rows])),
        "cpu_seconds_per_candidate": float(
            np.mean([r["proxy_cpu_seconds"] or np.nan for r in rows])
        ),
        "reference_seconds_per_candidate": float(np.mean([r["ref_seconds"] for r in rows])),
        "n_architectures": len(ok),
        "strategy": f"proxy {proxy.name!r} as defined in search/proxies.py "
        f"(residual={proxy.residual}, schedule={proxy.schedule})",
        "proxy_protocol": proxy.to_dict(),
        "reference_protocol": reference.to_dict(),
        "budget_mult": args.budget_mult,
        "scale": archs[0][1].scale,
        "seed": args.seed,
        "final_sets": data.set_names(proxy.final_sets),
        "bicubic": bic,
        "rows": rows,
        "context": {
            "threads": args.threads,
            "torch": torch.__version__,
            "cpu": _cpu_model(),
            "load_before": load_before,
            "load_after": [round(x, 2) for x in os.getloadavg()],
            "revision": revision,
            "git": git_head(),
            "data": data.describe(),
            "elapsed_seconds": time.perf_counter() - t_start,
            "command": " ".join(["benchmarks/proxy_fidelity.py", *(argv or sys.argv[1:])]),
        },
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(_clean(report), indent=2) + "\n")
    out.with_suffix(".md").write_text(render_markdown(report))
    tau, p_tau = _fmt(report["kendall_tau"]), _fmt(report["params_only_tau"])
    print(
        f"Kendall tau {tau} (params-only {p_tau})"
        f"; wrote {out.with_suffix('.json')} and {out.with_suffix('.md')}"
    )
    return 0


def _clean(x: Any) -> Any:
    if isinstance(x, float) and not np.isfinite(x):
        return None
    if isinstance(x, dict):
        return {k: _clean(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_clean(v) for v in x]
    return x


if __name__ == "__main__":
    sys.exit(main())
