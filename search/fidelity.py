"""Proxy fidelity (issue 8): rank metrics, learning-curve extrapolation, a leave-one-out capacity
blend, and the incremental long-training REFERENCE table that proxies are measured against.

Rank metrics compare a proxy's scores with the reference's (higher = better for both): Kendall
tau-b, Spearman rho, top-k overlap (|top-k(proxy) & top-k(reference)| / k).

Reference (``REFERENCE_PROTOCOL``): each architecture is trained with its own output (no bicubic
residual), L1, Adam lr 2e-3 after a 100-step warm-up, halved every 2000 steps (a pure function
of the step, so a run can be EXTENDED to a later milestone and gives the same weights as one run
to that length), EMA 0.995, LR patch 32, batch 16, T91 + BSD200, x2. At every milestone the EMA
weights are scored on full Set5 + Set14 + B100 (Y-PSNR, mean of the three set means); between
milestones full Set5 every 100 steps (the curve). The table (``ReferenceTable``, JSON) records,
per architecture, every milestone score, the steps reached, the CPU seconds spent and whether
its curve flattened (``flat_db_per_1k``: gain over the last milestone interval, per 1000 steps,
below ``FLAT_DB_PER_1K`` once ``MIN_FLAT_STEPS`` are reached). Checkpoints live under the
git-ignored result cache; the table is small and committed.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import math
import os
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from blocks.errors import UserError
from blocks.specs import NetSpec
from search.datasets import EVAL_SET_NAMES
from search.proxies import ProxyProtocol, TrainData

REFERENCE_SCHEMA = "distillnas-proxy-reference/1"
FLAT_DB_PER_1K = 0.05
MIN_FLAT_STEPS = 3000
DEFAULT_MILESTONES = (500, 1000, 2000, 3000, 4000, 5000, 6000, 8000)

REFERENCE_PROTOCOL = ProxyProtocol(
    name="fidelity-ref",
    description="issue 8 reference: long training of the architecture's own output, extendable "
    "(step-decayed lr), EMA; full Set5 every 100 steps, full Set5 + Set14 + B100 per milestone",
    source="issue 8",
    train_data="t91+bsd200",
    lr_patch=32,
    batch=16,
    steps=DEFAULT_MILESTONES[0],
    seconds=None,
    lr=2e-3,
    schedule="step",
    step_size=2000,
    gamma=0.5,
    warmup_steps=100,
    eval_every=100,
    eval_sets=("Set5",),
    eval_crop=None,
    final_sets=EVAL_SET_NAMES,
    ema_decay=0.995,
    residual=None,
    fallback_embedded=False,
)


# -- rank metrics ------------------------------------------------------------------------------


def kendall_tau(a: Sequence[float], b: Sequence[float]) -> float:
    """Kendall tau-b in [-1, 1] (NaN when undefined: fewer than 2 items or a constant ranking)."""
    from scipy.stats import kendalltau

    return float(kendalltau(a, b).statistic) if len(a) >= 2 else math.nan


def spearman(a: Sequence[float], b: Sequence[float]) -> float:
    """Spearman rho in [-1, 1] (NaN with fewer than 3 items)."""
    from scipy.stats import spearmanr

    return float(spearmanr(a, b).statistic) if len(a) >= 3 else math.nan


def top_k_overlap(proxy: Sequence[float], reference: Sequence[float], k: int) -> float:
    """|top-k by proxy & top-k by reference| / k, in [0, 1] (higher score = better; ties by
    index)."""
    if not 1 <= k <= len(proxy) or len(proxy) != len(reference):
        raise ValueError(f"top-k needs 1 <= k <= n and equal lengths; k={k}, n={len(proxy)}")
    top_p = set(np.argsort(-np.asarray(proxy, float), kind="stable")[:k].tolist())
    top_r = set(np.argsort(-np.asarray(reference, float), kind="stable")[:k].tolist())
    return len(top_p & top_r) / k


def rank_report(proxy: Sequence[float], reference: Sequence[float]) -> dict[str, float]:
    """Kendall tau, Spearman rho and top-3 / top-5 overlap of a proxy against the reference."""
    n = len(proxy)
    return {
        "kendall_tau": kendall_tau(proxy, reference),
        "spearman": spearman(proxy, reference),
        "top3_overlap": top_k_overlap(proxy, reference, 3) if n >= 3 else math.nan,
        "top5_overlap": top_k_overlap(proxy, reference, 5) if n >= 5 else math.nan,
    }


def _concordance(scores: Sequence[float], reference: Sequence[float]) -> np.ndarray:
    """C[i, j] = sign(s_i - s_j) * sign(r_i - r_j): +1 concordant, -1 discordant, 0 tied."""
    s, r = np.asarray(scores, float), np.asarray(reference, float)
    return np.sign(s[:, None] - s[None, :]) * np.sign(r[:, None] - r[None, :])


def _pair_tau(c: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Kendall tau-a of each row of weights ``w`` (b x n: how often each item was drawn) over
    the pairs of DISTINCT items, each pair weighted w_i * w_j: resampling adds no tied pairs."""
    off = ~np.eye(c.shape[0], dtype=bool)
    num = np.einsum("bi,ij,bj->b", w, np.where(off, c, 0.0), w)
    den = np.einsum("bi,ij,bj->b", w, off.astype(float), w)
    return num / np.where(den > 0, den, np.nan)


def paired_tau_bootstrap(
    a: Sequence[float],
    b: Sequence[float],
    reference: Sequence[float],
    *,
    n_boot: int = 10_000,
    seed: int = 0,
) -> dict[str, float]:
    """How sure is "strategy a ranks the reference better than strategy b" on these items?

    Items (architectures) are resampled with replacement, the SAME draw for a and b (paired),
    and each draw's Kendall tau-a is taken over pairs of distinct items. Returns both taus on
    the items as given, the difference a - b, its 95 % percentile interval and ``p_a_better``:
    the share of draws where a's tau is above b's. With 13 items the interval is wide: that is
    the benchmark's resolution, not a defect of either strategy."""
    if not len(a) == len(b) == len(reference) >= 3:
        raise ValueError("paired_tau_bootstrap needs >= 3 items and equal lengths")
    ca, cb = _concordance(a, reference), _concordance(b, reference)
    n = len(reference)
    draws = np.random.default_rng(seed).integers(0, n, (n_boot, n))
    w = np.stack([np.bincount(d, minlength=n) for d in draws]).astype(float)
    ta, tb = _pair_tau(ca, w), _pair_tau(cb, w)
    ok = np.isfinite(ta) & np.isfinite(tb)
    d = ta[ok] - tb[ok]
    one = np.ones((1, n))
    tau_a, tau_b = float(_pair_tau(ca, one)[0]), float(_pair_tau(cb, one)[0])
    return {
        "tau_a": tau_a,
        "tau_b": tau_b,
        "diff": tau_a - tau_b,
        "diff_ci95": [float(np.percentile(d, 2.5)), float(np.percentile(d, 97.5))],
        "p_a_better": float(np.mean(d > 0)),
        "n_items": n,
        "n_boot": n_boot,
        "n_valid_draws": int(ok.sum()),  # a draw of one repeated item has no pair
    }


def capacity_adjusted_tau(
    scores: Sequence[float],
    reference: Sequence[float],
    capacity: Sequence[float],
    *,
    n_boot: int = 10_000,
    seed: int = 0,
) -> dict[str, Any]:
    """How a proxy ranks items beyond what their size says: Kendall tau-a of the proxy's and the
    reference's residuals, each after a least-squares line on ``capacity`` (e.g. log10 params)
    over the same items. Parameter count alone scores 0 here. A 95 % percentile interval by
    resampling items with replacement, both lines refitted on each draw (weighted by how often
    each item was drawn) and the tau taken over pairs of distinct items, as in
    ``paired_tau_bootstrap``. Descriptive: not the issue's "above params-only" test."""
    if not len(scores) == len(reference) == len(capacity) >= 4:
        raise ValueError("capacity_adjusted_tau needs >= 4 items and equal lengths")
    s, r = np.asarray(scores, float), np.asarray(reference, float)
    x = np.c_[np.asarray(capacity, float), np.ones(len(s))]

    def resid(y: np.ndarray, w: np.ndarray) -> np.ndarray:
        sw = np.sqrt(w)
        coef = np.linalg.lstsq(x * sw[:, None], y * sw, rcond=None)[0]
        res = y - x @ coef
        res[np.abs(res) <= 1e-9 * max(1.0, float(np.abs(y).max()))] = 0.0  # rounding: a tie
        return res

    def tau(w: np.ndarray) -> float:
        return float(_pair_tau(_concordance(resid(s, w), resid(r, w)), w[None, :])[0])

    n = len(s)
    draws = np.random.default_rng(seed).integers(0, n, (n_boot, n))
    taus = np.array([tau(np.bincount(d, minlength=n).astype(float)) for d in draws])
    ok = taus[np.isfinite(taus)]
    return {
        "tau": tau(np.ones(n)),
        "ci95": [float(np.percentile(ok, 2.5)), float(np.percentile(ok, 97.5))],
        "n_items": n,
        "n_boot": n_boot,
    }


# -- learning-curve extrapolation --------------------------------------------------------------

POWER_EXPONENTS = tuple(np.round(np.arange(0.05, 2.001, 0.05), 2))


@dataclass(frozen=True)
class PowerLaw:
    """``y(t) = a - b * t**(-c)``: a saturating learning curve (y in dB, t in steps)."""

    a: float
    b: float
    c: float
    sse: float

    def __call__(self, t: float | np.ndarray) -> float | np.ndarray:
        return self.a - self.b * np.asarray(t, float) ** (-self.c)


def fit_power_law(steps: Sequence[float], values: Sequence[float]) -> PowerLaw:
    """Least-squares ``a - b t^-c`` with c on a fixed grid (0.05..2) and (a, b) closed-form.

    Deterministic (no iterative optimiser); needs >= 3 points with distinct steps > 0. b is kept
    >= 0 (a curve that goes down is fitted flat at its mean).
    """
    t = np.asarray(steps, float)
    y = np.asarray(values, float)
    ok = np.isfinite(y) & (t > 0)
    t, y = t[ok], y[ok]
    if len(np.unique(t)) < 3:
        raise ValueError("a power-law fit needs >= 3 points at distinct steps > 0")
    best: PowerLaw | None = None
    for c in POWER_EXPONENTS:
        x = t ** (-float(c))
        xm, ym = x.mean(), y.mean()
        sxx = float(((x - xm) ** 2).sum())
        slope = float(((x - xm) * (y - ym)).sum() / sxx) if sxx > 0 else 0.0
        b = max(0.0, -slope)
        a = float(ym + b * xm)
        sse = float(((a - b * x - y) ** 2).sum())
        if best is None or sse < best.sse - 1e-12:
            best = PowerLaw(a, b, float(c), sse)
    assert best is not None
    return best


def extrapolate(curve: Sequence[Sequence[float]], target_step: float, *, skip: int = 0) -> float:
    """PSNR predicted at ``target_step`` from a (step, dB) curve by a power-law fit (first
    ``skip`` points left out: the warm-up transient)."""
    pts = [(s, v) for s, v in list(curve)[skip:] if v is not None and math.isfinite(v)]
    fit = fit_power_law([s for s, _ in pts], [v for _, v in pts])
    return float(fit(target_step))


# -- capacity prior blend, validated leave-one-out ---------------------------------------------


@dataclass(frozen=True)
class LinearBlend:
    """A linear model of the reference on a few features (standardised on the nets it was fitted
    on, intercept, tiny ridge). ``predict`` scores nets it never saw."""

    mean: tuple[float, ...]
    scale: tuple[float, ...]
    weights: tuple[float, ...]  # intercept first

    @classmethod
    def fit(
        cls, features: Sequence[Sequence[float]], reference: Sequence[float], *, ridge: float = 1e-6
    ) -> LinearBlend:
        x = np.asarray(features, float)
        y = np.asarray(reference, float)
        if x.ndim != 2 or len(x) != len(y) or len(y) <= x.shape[1] + 1:
            raise ValueError(
                f"a blend of {x.shape[-1]} features needs more than {x.shape[-1] + 1} nets "
                f"with a reference, got {len(y)}"
            )
        mu, sd = x.mean(0), x.std(0)
        sd[sd == 0] = 1.0
        a = np.c_[np.ones(len(y)), (x - mu) / sd]
        reg = ridge * np.eye(a.shape[1])
        reg[0, 0] = 0.0
        w = np.linalg.solve(a.T @ a + reg, a.T @ y)
        return cls(tuple(map(float, mu)), tuple(map(float, sd)), tuple(map(float, w)))

    def predict(self, features: Sequence[Sequence[float]]) -> list[float]:
        x = np.asarray(features, float).reshape(-1, len(self.mean))
        z = (x - np.asarray(self.mean)) / np.asarray(self.scale)
        return [float(v) for v in np.c_[np.ones(len(z)), z] @ np.asarray(self.weights)]


def loo_blend(
    features: Sequence[Sequence[float]], reference: Sequence[float], *, ridge: float = 1e-6
) -> list[float]:
    """Leave-one-out predictions of ``reference`` from a ``LinearBlend`` on ``features`` (n x f).
    Prediction i never sees item i: the tau of these predictions is an honest held-out figure."""
    x = np.asarray(features, float)
    y = np.asarray(reference, float)
    keep = np.ones(len(y), bool)
    out = []
    for i in range(len(y)):
        keep[i] = False
        out.append(LinearBlend.fit(x[keep], y[keep], ridge=ridge).predict(x[i : i + 1])[0])
        keep[i] = True
    return out


# -- the reference table -----------------------------------------------------------------------


def git_head(root: Path) -> str | None:
    """``git rev-parse HEAD`` (+ ``-dirty``), None outside a repository."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, text=True, capture_output=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=root,
            text=True,
            capture_output=True,
            check=True,
        ).stdout.strip()
        return head + ("-dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return None


def file_sha1(path: Path) -> str:
    return hashlib.sha1(path.read_bytes()).hexdigest()


@dataclass
class ReferenceTable:
    """The stored reference: protocol, code revision, and per-architecture milestones."""

    data: dict[str, Any]
    #: labels whose runs this process wrote: on save they win over the file's entries, and every
    #: other architecture is taken from the file (another shard's, possibly newer)
    owned: set[str] = field(default_factory=set, repr=False)

    REQUIRED = ("schema", "protocol", "seed", "threads", "scale", "final_sets", "code", "archs")
    ARCH_REQUIRED = (
        "label",
        "spec_key",
        "spec",
        "params",
        "steps",
        "psnr_y_db",
        "milestones",
        "curve",
        "flattened",
        "cpu_seconds",
    )

    @classmethod
    def new(
        cls,
        *,
        protocol: ProxyProtocol,
        seed: int,
        threads: int,
        scale: int,
        data: TrainData,
        code: dict[str, Any],
    ) -> ReferenceTable:
        return cls(
            {
                "schema": REFERENCE_SCHEMA,
                "protocol": protocol.to_dict() | {"steps": None, "seconds": None},
                "budget": "extended milestone by milestone; each arch records its steps reached",
                "flat_rule": "flattened: gain over the last milestone interval < "
                f"{FLAT_DB_PER_1K} dB per 1000 steps, at >= {MIN_FLAT_STEPS} steps",
                "seed": seed,
                "threads": threads,
                "scale": scale,
                "data": data.describe(),
                "final_sets": list(data.set_names(protocol.final_sets)),
                "code": code,
                "archs": [],
            }
        )

    @classmethod
    def load(cls, path: str | Path) -> ReferenceTable:
        """Read and check the schema; a bad file is a UserError."""
        path = Path(path)
        try:
            data = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise UserError(f"{path}: unreadable reference table: {exc}") from None
        if not isinstance(data, dict) or data.get("schema") != REFERENCE_SCHEMA:
            raise UserError(f"{path}: not a {REFERENCE_SCHEMA} file")
        missing = [k for k in cls.REQUIRED if k not in data]
        for a in data.get("archs", []):
            missing += [f"archs[{a.get('label')}].{k}" for k in cls.ARCH_REQUIRED if k not in a]
        if missing:
            raise UserError(f"{path}: reference table lacks {', '.join(missing)}")
        return cls(data)

    def save(self, path: str | Path) -> None:
        """Write atomically under a lock, taking every architecture this process did not run
        (``owned``) from the file as it is now: another process (another shard of the same
        table) may have extended it since this one read it, and neither loses the other's runs."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path.with_name(f".{path.name}.lock"), "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if path.is_file():
                theirs = {
                    a["label"]: a
                    for a in ReferenceTable.load(path).data["archs"]
                    if a["label"] not in self.owned
                }
                kept = [theirs.pop(a["label"], a) for a in self.data["archs"]]
                self.data["archs"] = kept + list(theirs.values())
            tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
            tmp.write_text(json.dumps(_jsonable(self.data), indent=1) + "\n")
            os.replace(tmp, path)

    def arch(self, label: str) -> dict[str, Any] | None:
        return next((a for a in self.data["archs"] if a["label"] == label), None)

    def protocol(self, steps: int) -> ProxyProtocol:
        d = dict(self.data["protocol"])
        d["steps"] = steps
        return ProxyProtocol.from_dict(d)

    def common_steps(self) -> int:
        """The milestone every architecture has reached (flattened ones count as reached)."""
        live = [int(a["steps"]) for a in self.data["archs"] if not a["flattened"]]
        return min(live) if live else max((int(a["steps"]) for a in self.data["archs"]), default=0)

    def scores(
        self, labels: Sequence[str] | None = None, *, steps: int | None = None
    ) -> dict[str, float]:
        """label -> reference Y-PSNR (dB) at milestone ``steps`` (default ``common_steps()``, so a
        table caught mid-round stays comparable); a flattened arch gives its last score; archs
        without a score there are left out."""
        at = self.common_steps() if steps is None else steps
        out = {}
        for a in self.data["archs"]:
            if labels is not None and a["label"] not in labels:
                continue
            hit = [m for m in a["milestones"] if int(m["steps"]) == at]
            if not hit and a["flattened"] and a["milestones"] and a["steps"] <= at:
                hit = a["milestones"][-1:]
            if hit and hit[0]["psnr_y_db"] is not None:
                out[a["label"]] = float(hit[0]["psnr_y_db"])
        return out

    def steps_of(
        self, labels: Sequence[str] | None = None, *, steps: int | None = None
    ) -> dict[str, int]:
        """label -> the training steps behind its ``scores()`` entry: the milestone (default
        ``common_steps()``), or a flattened arch's own last milestone when it stopped before."""
        at = self.common_steps() if steps is None else steps
        got = self.scores(labels, steps=at)
        return {
            a["label"]: min(int(a["steps"]), at) if a["flattened"] else at
            for a in self.data["archs"]
            if a["label"] in got
        }

    def state(self) -> dict[str, Any]:
        """Convergence summary: steps reached (min/max), how many flattened, last gains."""
        archs = self.data["archs"]
        steps = [a["steps"] for a in archs]
        return {
            "n_architectures": len(archs),
            "steps_min": min(steps) if steps else 0,
            "steps_max": max(steps) if steps else 0,
            "n_flattened": sum(bool(a["flattened"]) for a in archs),
            "steps_compared": self.common_steps(),
            "last_gain_db_per_1k": {a["label"]: a.get("flat_db_per_1k") for a in archs},
        }


def _jsonable(x: Any) -> Any:
    if isinstance(x, float) and not math.isfinite(x):
        return None
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_jsonable(v) for v in x]
    if isinstance(x, np.generic):
        return x.item()
    return x


def reference_dir_key(spec: NetSpec, protocol: ProxyProtocol, seed: int, threads: int) -> str:
    """Checkpoint folder name of one reference run: spec, protocol (budget excluded), seed,
    threads."""
    d = protocol.to_dict()
    d.pop("steps"), d.pop("seconds")
    blob = json.dumps(
        {"spec": spec.key(), "protocol": d, "seed": seed, "threads": threads}, sort_keys=True
    )
    return hashlib.sha1(blob.encode()).hexdigest()[:20]


def retarget_checkpoint(path: Path, protocol: ProxyProtocol) -> bool:
    """Let a finished or partial run's checkpoint continue under ``protocol`` (a later budget of
    the same step-pure schedule): its identity is rewritten and its final record dropped.
    Returns False when there is no checkpoint. Relies on search.train's checkpoint layout."""
    from search.train import _atomic_save, load_checkpoint

    if not path.is_file():
        return False
    ckpt = load_checkpoint(path)
    want = json.dumps(protocol.to_dict(), sort_keys=True)
    if ckpt["identity"].get("protocol") == want and ckpt.get("final") is None:
        return True
    old = json.loads(ckpt["identity"]["protocol"])
    new = protocol.to_dict()
    if {k: v for k, v in old.items() if k != "steps"} != {
        k: v for k, v in new.items() if k != "steps"
    }:
        raise UserError(f"{path}: checkpoint is from another protocol, not an earlier budget")
    if int(ckpt["step"]) > int(protocol.steps or 0):
        raise UserError(f"{path}: checkpoint is at step {ckpt['step']} > {protocol.steps}")
    ckpt["identity"]["protocol"] = want
    ckpt["final"] = None
    _atomic_save(ckpt, path)
    return True


def extend_reference(
    table: ReferenceTable,
    table_path: Path,
    archs: Sequence[tuple[str, NetSpec]],
    *,
    milestones: Sequence[int],
    data: TrainData,
    ckpt_root: Path,
    progress: bool = False,
    log: Callable[[str], None] = print,
    deadline: float | None = None,
) -> ReferenceTable:
    """Bring every architecture to each milestone in turn (round robin, so the table stays
    comparable when stopped), skipping flattened ones; the table is saved after every run.
    ``deadline``: a time.time() after which no new run starts."""
    from search.train import train

    seed, threads = int(table.data["seed"]), int(table.data["threads"])
    for milestone in milestones:
        for label, spec in archs:
            if deadline is not None and time.time() > deadline:
                log("deadline reached; stopping (resumable)")
                return table
            entry = table.arch(label)
            if entry is not None and entry["spec_key"] != spec.key():
                raise UserError(
                    f"reference table: {label!r} is {entry['spec_key']}, not "
                    f"{spec.key()}; use another table"
                )
            if entry is not None and (entry["steps"] >= milestone or entry["flattened"]):
                continue
            table.owned.add(label)
            protocol = table.protocol(milestone)
            out_dir = ckpt_root / reference_dir_key(spec, protocol, seed, threads)
            retarget_checkpoint(out_dir / "checkpoint.pt", protocol)
            c0, t0 = time.process_time(), time.perf_counter()
            res = train(
                spec,
                data=data,
                protocol=protocol,
                seed=seed,
                threads=threads,
                out_dir=out_dir,
                resume=True,
                progress=progress,
            )
            cpu, wall = time.process_time() - c0, time.perf_counter() - t0
            if entry is None:
                entry = {
                    "label": label,
                    "spec_key": spec.key(),
                    "spec": spec.to_dict(),
                    "params": res.params,
                    "steps": 0,
                    "psnr_y_db": None,
                    "milestones": [],
                    "curve": [],
                    "flattened": False,
                    "flat_db_per_1k": None,
                    "cpu_seconds": 0.0,
                    "wall_seconds": 0.0,
                    "status": None,
                }
                table.data["archs"].append(entry)
            entry["status"] = res.status
            entry["cpu_seconds"] += cpu
            entry["wall_seconds"] += wall
            entry["curve"] = [[int(s), v] for s, v in res.curve]
            if res.status != "complete":
                entry["message"] = res.message
                entry["flattened"] = True  # nothing more to learn from it; shown by status
                table.save(table_path)
                log(f"{label}: {res.status} {res.message}")
                continue
            entry["steps"] = res.steps
            entry["psnr_y_db"] = res.psnr_y_db
            entry["sets"] = {k: v["psnr_y_db"] for k, v in res.sets.items()}
            entry["milestones"].append(
                {
                    "steps": res.steps,
                    "psnr_y_db": res.psnr_y_db,
                    "sets": entry["sets"],
                    "train_seconds": res.train_seconds,
                    "seconds_per_step": res.seconds_per_step,
                }
            )
            ms = entry["milestones"]
            if len(ms) >= 2:
                gain = (ms[-1]["psnr_y_db"] - ms[-2]["psnr_y_db"]) / (
                    (ms[-1]["steps"] - ms[-2]["steps"]) / 1000.0
                )
                entry["flat_db_per_1k"] = gain
                entry["flattened"] = bool(res.steps >= MIN_FLAT_STEPS and gain < FLAT_DB_PER_1K)
            table.save(table_path)
            log(
                f"{label}: {res.steps} steps, {res.psnr_y_db:.3f} dB (Set5+Set14+B100), gain "
                f"{entry['flat_db_per_1k']} dB/1k, {cpu:.0f} CPU-s this run, flat "
                f"{entry['flattened']}"
            )
    return table


def code_stamp(root: Path) -> dict[str, Any]:
    """The code revision a reference was computed with: git HEAD and search/train.py's sha1."""
    return {
        "git_head": git_head(root),
        "train_py_sha1": file_sha1(root / "search" / "train.py"),
        "torch": torch.__version__,
    }


# -- the proxy strategies measured against the reference ---------------------------------------


def strategy_protocols() -> dict[str, ProxyProtocol]:
    """The trained proxy strategies issue 8 measures, by name (``quick`` as registered)."""
    from search.proxies import get_protocol

    q = get_protocol("quick")
    return {
        "quick": q,
        "resid-const-300": replace(
            q,
            name="resid-const-300",
            schedule="constant",
            eval_every=50,
            eval_crop=None,
            description="quick with a constant lr 2e-3 after the 20-step warm-up (no decay); "
            "full Set5 every 50 steps",
        ),
        "onecycle-300": replace(
            q,
            name="onecycle-300",
            residual=None,
            lr=3e-3,
            warmup_steps=90,
            min_lr_ratio=0.0,
            eval_every=50,
            eval_crop=None,
            description="own output (no residual), one-cycle: linear warm-up to 3e-3 over 30 % "
            "of 300 steps, cosine to 0; full Set5 every 50 steps",
        ),
        "own-const-300": replace(
            REFERENCE_PROTOCOL,
            name="own-const-300",
            steps=300,
            eval_every=50,
            final_sets=("Set5",),
            description="the reference recipe (own output, warm-up 100 + constant lr 2e-3, EMA "
            "0.995) for 300 steps with another seed; full Set5",
        ),
        "resid-b32p48-150": replace(
            q,
            name="resid-b32p48-150",
            batch=32,
            lr_patch=48,
            steps=150,
            warmup_steps=10,
            schedule="constant",
            eval_every=25,
            eval_crop=None,
            description="bicubic residual, batch 32, LR patch 48 (4.5x the pixels per step), "
            "150 steps, constant lr 2e-3; full Set5 every 25 steps",
        ),
    }
