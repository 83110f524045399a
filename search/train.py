"""Proxy training: L1 + Adam under a named protocol, scored by validation Y-PSNR at checkpoints.

``train(spec_or_model, data=..., protocol=..., seed=...)`` returns a ``TrainResult``; it never
raises for a run that goes wrong numerically: a NaN/inf loss ends it with status ``diverged``,
running out of memory with ``failed``, and a ``report(step, psnr_y_db)`` callback that returns
True with ``pruned``. Errors a user can cause (bad data, an unknown protocol, a checkpoint from a
different run) raise ``UserError``.

Determinism: for a seed, on CPU, with the same thread count, two runs give bit-identical weights
and scores. The seed sets the initial weights (``build_network(spec, seed=seed)``) and a
``np.random.Generator`` passed to the patch sampler; nothing reads global random state.

Resume: with ``out_dir``, a checkpoint (model, Adam state, EMA, sampler RNG state, step, curve,
timings) is written atomically to ``out_dir/checkpoint.pt`` at every checkpoint step, holding only
tensors and plain types, so it loads with ``torch.load(..., weights_only=True)``. A resumed run
gives the same weights as an uninterrupted one. The learning rate is a pure function of the step
(``ProxyProtocol.lr_at``), so the scheduler's state is the step itself.

Bicubic residual (``protocol.residual == "bicubic"``): a proxy device only. The module trained and
scored is then ``net(lr) + F.interpolate(lr, scale, "bicubic", align_corners=False)``; the weights
learn a residual, not the architecture's own SR function (see ``search.proxies``). With
``residual=None`` the architecture's own output is trained and scored.
"""

from __future__ import annotations

import copy
import json
import math
import os
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from blocks.build import build_network
from blocks.errors import UserError
from blocks.specs import NetSpec
from search.datasets import Pair, check_scale
from search.evaluate import evaluate_pairs
from search.proxies import ProxyProtocol, TrainData, get_protocol

STATUSES = ("complete", "pruned", "diverged", "failed")
CHECKPOINT_NAME = "checkpoint.pt"
CHECKPOINT_FORMAT = "distillnas-train-checkpoint/1"

Report = Callable[[int, float], "bool | None"]


@dataclass
class TrainResult:
    """What a training run gave.

    ``psnr_y_db`` / ``ssim_y``: the final score, the mean over ``final_sets`` of each set's mean
    (full images; each set weighs the same), NaN when the run did not complete (a pruned run
    keeps its last checkpoint value in ``curve``). ``curve``: (step, Y-PSNR dB) at each
    checkpoint, on the protocol's intermediate crops. ``train_seconds``: optimizer steps
    including batch sampling; ``eval_seconds``: every evaluation and checkpoint write.
    ``weights``: the evaluated weights (EMA when on) of the architecture, not serialised.
    """

    status: str
    steps: int
    psnr_y_db: float
    ssim_y: float
    curve: list[tuple[int, float]]
    train_seconds: float
    eval_seconds: float
    seconds_per_step: float
    protocol: str
    message: str = ""
    sets: dict[str, dict[str, float]] = field(default_factory=dict)
    scale: int = 0
    params: int = 0
    seed: int | None = None
    spec_key: str | None = None
    residual: str | None = None
    threads: int = 0
    device: str = "cpu"
    resumed_from_step: int = 0
    weights: dict[str, torch.Tensor] | None = field(default=None, repr=False, compare=False)

    @property
    def intermediate_psnr_y_db(self) -> float:
        """The last checkpoint value (what a pruner last read), NaN if there was none."""
        return self.curve[-1][1] if self.curve else math.nan

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able data (non-finite floats become None; ``weights`` left out)."""
        out: dict[str, Any] = {}
        for f in fields(self):
            if f.name == "weights":
                continue
            out[f.name] = _jsonable(getattr(self, f.name))
        out["curve"] = [[int(s), _finite_or_none(p)] for s, p in self.curve]
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TrainResult:
        """Inverse of ``to_dict`` (None scores become NaN)."""
        names = {f.name for f in fields(cls)} - {"weights"}
        kw = {k: v for k, v in data.items() if k in names}
        for k in ("psnr_y_db", "ssim_y", "seconds_per_step"):
            kw[k] = math.nan if kw.get(k) is None else float(kw[k])
        curve = kw.get("curve", [])
        kw["curve"] = [(int(s), math.nan if p is None else float(p)) for s, p in curve]
        return cls(**kw)


def _finite_or_none(x: Any) -> Any:
    return None if isinstance(x, float) and not math.isfinite(x) else x


def _jsonable(x: Any) -> Any:
    if isinstance(x, float):
        return _finite_or_none(x)
    if isinstance(x, Mapping):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_jsonable(v) for v in x]
    return x


class ProxyUpscaler(nn.Module):
    """What is trained and scored: ``net(x)`` (+ bicubic upsample of ``x`` when residual).

    NCHW RGB in [0, 1] in, NCHW at ``scale`` x out. ``channels_last`` feeds the net channels-last
    inputs (the net itself must be converted by the caller).
    """

    def __init__(
        self,
        net: nn.Module,
        scale: int,
        *,
        residual: str | None = None,
        channels_last: bool = False,
    ) -> None:
        super().__init__()
        self.net = net
        self.scale = scale
        self.residual = residual
        self.channels_last = channels_last

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        inp = x.contiguous(memory_format=torch.channels_last) if self.channels_last else x
        y = self.net(inp)
        if self.residual == "bicubic":
            y = y + F.interpolate(x, scale_factor=self.scale, mode="bicubic", align_corners=False)
        return y


def count_params(model: nn.Module) -> int:
    """Number of parameters (each shared tensor counted once)."""
    return sum(p.numel() for p in model.parameters())


def infer_scale(model: nn.Module) -> int:
    """The upscaling factor of an SR module, by running a 1x3x8x8 input through it (no grad)."""
    was = model.training
    model.eval()
    try:
        with torch.no_grad():
            p = next(model.parameters(), None)
            x = torch.zeros(1, 3, 8, 8, device=p.device if p is not None else "cpu")
            out = model(x)
    finally:
        model.train(was)
    return check_scale(out.shape[-1] // 8, "model output")


def _device(device: str | torch.device) -> torch.device:
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise UserError(f"unknown device {device!r}: {exc}") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise UserError(f"device {device!r} asked for, but torch sees no CUDA GPU")
    if dev.type == "mps" and not torch.backends.mps.is_available():
        raise UserError(f"device {device!r} asked for, but MPS is not available")
    return dev


def _is_oom(exc: BaseException) -> bool:
    if isinstance(exc, MemoryError):
        return True
    oom = getattr(torch, "OutOfMemoryError", None)
    if oom is not None and isinstance(exc, oom):
        return True
    return isinstance(exc, RuntimeError) and "out of memory" in str(exc).lower()


def centre_crop_pairs(pairs: list[Pair], lr_crop: int | None, scale: int) -> list[Pair]:
    """Each pair cut to its LR centre ``lr_crop`` x ``lr_crop`` px (and the aligned HR part);
    sides shorter than the crop stay whole. ``None`` returns the pairs unchanged."""
    if lr_crop is None:
        return pairs
    out = []
    for name, lr, hr in pairs:
        h, w = lr.shape[:2]
        ch, cw = min(lr_crop, h), min(lr_crop, w)
        y, x = (h - ch) // 2, (w - cw) // 2
        out.append(
            Pair(
                name,
                np.ascontiguousarray(lr[y : y + ch, x : x + cw]),
                np.ascontiguousarray(
                    hr[y * scale : (y + ch) * scale, x * scale : (x + cw) * scale]
                ),
            )
        )
    return out


def _sampler_state(sampler: Any) -> str:
    """The sampler's RNG state as a JSON string (128-bit ints stay exact; weights_only-safe)."""
    return json.dumps(sampler.state_dict())


def _atomic_save(obj: Any, path: Path) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)


def load_checkpoint(path: str | Path, device: str | torch.device = "cpu") -> dict[str, Any]:
    """A training checkpoint, loaded with ``weights_only=True``; a bad file is a UserError."""
    path = Path(path)
    try:
        ckpt = torch.load(path, map_location=device, weights_only=True)
    except FileNotFoundError:
        raise UserError(f"{path}: checkpoint not found") from None
    except Exception as exc:  # noqa: BLE001 - any unpickling failure is a bad file
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise UserError(f"{path}: not a readable training checkpoint: {first}") from None
    if not isinstance(ckpt, dict) or ckpt.get("format") != CHECKPOINT_FORMAT:
        raise UserError(f"{path}: not a distillnas training checkpoint")
    return ckpt


def _resolve_model(
    spec_or_model: NetSpec | nn.Module | str, seed: int, scale: int | None
) -> tuple[NetSpec | None, nn.Module, int]:
    if isinstance(spec_or_model, str):
        from blocks.zoo import resolve_spec

        spec_or_model = resolve_spec(spec_or_model, scale)
    if isinstance(spec_or_model, NetSpec):
        spec = (
            spec_or_model
            if scale is None or scale == spec_or_model.scale
            else spec_or_model.with_scale(scale)
        )
        return spec, build_network(spec, seed=seed), spec.scale
    if isinstance(spec_or_model, nn.Module):
        s = check_scale(scale) if scale is not None else infer_scale(spec_or_model)
        return None, spec_or_model, s
    raise UserError(
        f"train() takes a NetSpec, a zoo name, a spec file or an nn.Module; "
        f"got {type(spec_or_model).__name__}"
    )


def train(
    spec_or_model: NetSpec | nn.Module | str,
    *,
    data: TrainData | None = None,
    protocol: ProxyProtocol | str = "quick",
    seed: int = 0,
    device: str | torch.device = "cpu",
    threads: int | None = None,
    out_dir: str | Path | None = None,
    resume: bool = True,
    progress: bool = True,
    report: Report | None = None,
    scale: int | None = None,
    final_eval: bool = True,
) -> TrainResult:
    """Train a spec (built with ``seed``) or a module (trained in place) under ``protocol``.

    ``data``: defaults to ``TrainData.for_protocol(protocol)``. ``threads``: torch intra-op
    threads for the run (restored afterwards). ``out_dir``: where ``checkpoint.pt`` is written
    and, with ``resume``, read back. ``report(step, psnr_y_db)`` is called at every checkpoint
    with the intermediate Y-PSNR (dB); returning True stops the run (status ``pruned``).
    ``scale``: override a spec's scale, or give a module's (else inferred). ``final_eval``: score
    the full ``final_sets`` at the end (False: the result's score is the last checkpoint's).
    """
    protocol = get_protocol(protocol)
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer):
        raise UserError(f"seed must be an integer; got {seed!r}")
    seed = int(seed)
    dev = _device(device)
    if protocol.requires_gpu and dev.type == "cpu":
        raise UserError(
            f"proxy {protocol.name!r} is GPU-only ({protocol.steps:,} steps); pass a GPU device, "
            "or override its budget (--steps / --minutes, ProxyProtocol.with_budget)"
        )
    if threads is not None and (
        isinstance(threads, bool) or not isinstance(threads, int) or threads < 1
    ):
        raise UserError(f"threads must be a positive integer; got {threads!r}")
    spec, net, scale = _resolve_model(spec_or_model, seed, scale)
    if data is None:
        data = TrainData.for_protocol(protocol)
    old_threads = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        run = _Run(spec, net, scale, data, protocol, seed, dev, out_dir, progress, report)
        return run.execute(resume=resume, final_eval=final_eval)
    finally:
        torch.set_num_threads(old_threads)


class _Run:
    """One training run's state; ``execute`` is the loop."""

    def __init__(
        self,
        spec: NetSpec | None,
        net: nn.Module,
        scale: int,
        data: TrainData,
        protocol: ProxyProtocol,
        seed: int,
        device: torch.device,
        out_dir: str | Path | None,
        progress: bool,
        report: Report | None,
    ) -> None:
        self.spec, self.scale, self.data, self.p = spec, scale, data, protocol
        self.seed, self.device, self.progress, self.report = seed, device, progress, report
        self.out_dir = Path(out_dir) if out_dir is not None else None
        mf = torch.channels_last if protocol.channels_last else torch.contiguous_format
        self.net = net.to(device=device, memory_format=mf)
        self.net.train()
        self.model = ProxyUpscaler(
            self.net, scale, residual=protocol.residual, channels_last=protocol.channels_last
        )
        self.opt = torch.optim.Adam(self.net.parameters(), lr=protocol.lr, betas=protocol.betas)
        self.ema: dict[str, torch.Tensor] | None = None
        self.eval_net: nn.Module | None = None
        if protocol.ema_decay is not None:
            self.ema = {k: v.detach().clone() for k, v in self.net.state_dict().items()}
            self.eval_net = copy.deepcopy(self.net)
        rng = np.random.default_rng([seed, 0x5EED])
        self.sampler = data.sampler(scale, protocol.lr_patch, protocol.batch, rng)
        self.eval_names = data.set_names(protocol.eval_sets)
        self.final_names = data.set_names(protocol.final_sets)
        self.step = 0
        self.resumed_from = 0
        self.curve: list[tuple[int, float]] = []
        self.train_seconds = 0.0
        self.eval_seconds = 0.0
        self.owns_checkpoint = False  # True once this run wrote or resumed out_dir/checkpoint.pt
        self.identity = {
            "spec_key": spec.key() if spec is not None else None,
            "protocol": json.dumps(protocol.to_dict(), sort_keys=True),
            "seed": seed,
            "scale": scale,
        }

    # -- pieces ---------------------------------------------------------------------------------

    @property
    def ckpt_path(self) -> Path | None:
        return self.out_dir / CHECKPOINT_NAME if self.out_dir is not None else None

    def _progress_fraction(self) -> float:
        if self.p.steps is not None:
            return self.step / self.p.steps
        assert self.p.seconds is not None
        return self.train_seconds / self.p.seconds

    def _budget_left(self) -> bool:
        if self.p.steps is not None and self.step >= self.p.steps:
            return False
        return not (self.p.seconds is not None and self.train_seconds >= self.p.seconds)

    def _update_ema(self) -> None:
        assert self.ema is not None and self.p.ema_decay is not None
        d = min(self.p.ema_decay, (1.0 + self.step) / (10.0 + self.step))
        with torch.no_grad():
            for k, v in self.net.state_dict().items():
                e = self.ema[k]
                if e.dtype.is_floating_point:
                    e.mul_(d).add_(v.detach(), alpha=1.0 - d)
                else:
                    e.copy_(v)

    def evaluated_net(self) -> nn.Module:
        """The net whose weights are scored: the EMA copy when EMA is on."""
        if self.ema is None:
            return self.net
        assert self.eval_net is not None
        self.eval_net.load_state_dict(self.ema)
        return self.eval_net

    def _weights_finite(self) -> bool:
        net = self.evaluated_net()
        return all(bool(torch.isfinite(p).all()) for p in net.parameters())

    def _score(self, names: list[str], crop: int | None) -> dict[str, dict[str, float]]:
        upscaler = ProxyUpscaler(
            self.evaluated_net(),
            self.scale,
            residual=self.p.residual,
            channels_last=self.p.channels_last,
        )
        out = {}
        for name in names:
            pairs = centre_crop_pairs(self.data.pairs(name, self.scale), crop, self.scale)
            res = evaluate_pairs(upscaler, pairs, self.scale, device=str(self.device))
            out[name] = {
                "psnr_y_db": res["psnr_y_db"],
                "ssim_y": res["ssim_y"],
                "images": res["images"],
            }
        self.net.train()
        return out

    @staticmethod
    def _mean(scores: Mapping[str, Mapping[str, float]], key: str) -> float:
        return float(np.mean([s[key] for s in scores.values()])) if scores else math.nan

    def _save(self, final: dict[str, Any] | None = None) -> None:
        path = self.ckpt_path
        if path is None:
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        self.owns_checkpoint = True
        _atomic_save(
            {
                "format": CHECKPOINT_FORMAT,
                "identity": dict(self.identity),
                "step": self.step,
                "model": self.net.state_dict(),
                "optimizer": self.opt.state_dict(),
                "ema": self.ema,
                "sampler": _sampler_state(self.sampler),
                "curve": [[int(s), float(p)] for s, p in self.curve],
                "train_seconds": self.train_seconds,
                "eval_seconds": self.eval_seconds,
                "final": final,
            },
            path,
        )

    def _load(self) -> dict[str, Any] | None:
        """Restore from ``out_dir/checkpoint.pt``; returns its ``final`` record, if any."""
        path = self.ckpt_path
        if path is None or not path.is_file():
            return None
        ckpt = load_checkpoint(path, self.device)
        if ckpt["identity"] != self.identity:
            diff = sorted(k for k in self.identity if ckpt["identity"].get(k) != self.identity[k])
            raise UserError(
                f"{path}: checkpoint is from a different run ({', '.join(diff)} "
                "differ); use another output folder or resume=False (--no-resume)"
            )
        self.owns_checkpoint = True
        self.net.load_state_dict(ckpt["model"])
        self.opt.load_state_dict(ckpt["optimizer"])
        if self.ema is not None and ckpt["ema"] is not None:
            self.ema = {k: v.to(self.device) for k, v in ckpt["ema"].items()}
        self.sampler.load_state_dict(json.loads(ckpt["sampler"]))
        self.step = self.resumed_from = int(ckpt["step"])
        self.curve = [(int(s), float(p)) for s, p in ckpt["curve"]]
        self.train_seconds = float(ckpt["train_seconds"])
        self.eval_seconds = float(ckpt["eval_seconds"])
        return ckpt.get("final")

    def _result(
        self, status: str, message: str = "", scores: dict[str, dict[str, float]] | None = None
    ) -> TrainResult:
        scores = scores or {}
        weights = None
        if status in ("complete", "pruned"):
            weights = {
                k: v.detach().to("cpu").clone()
                for k, v in self.evaluated_net().state_dict().items()
            }
        return TrainResult(
            status=status,
            steps=self.step,
            psnr_y_db=self._mean(scores, "psnr_y_db"),
            ssim_y=self._mean(scores, "ssim_y"),
            curve=list(self.curve),
            train_seconds=self.train_seconds,
            eval_seconds=self.eval_seconds,
            seconds_per_step=self.train_seconds / self.step if self.step else math.nan,
            protocol=self.p.name,
            message=message,
            sets=scores,
            scale=self.scale,
            params=count_params(self.net),
            seed=self.seed,
            spec_key=self.identity["spec_key"],
            residual=self.p.residual,
            threads=torch.get_num_threads(),
            device=str(self.device),
            resumed_from_step=self.resumed_from,
            weights=weights,
        )

    # -- the loop -------------------------------------------------------------------------------

    def execute(self, *, resume: bool, final_eval: bool) -> TrainResult:
        final = self._load() if resume else None
        if final is not None:
            result = TrainResult.from_dict(final)
            result.resumed_from_step = self.resumed_from
            if result.status == "complete":
                result.weights = {
                    k: v.detach().to("cpu").clone()
                    for k, v in self.evaluated_net().state_dict().items()
                }
            return result
        from tqdm import tqdm

        bar = tqdm(
            total=self.p.steps,
            initial=self.step,
            desc=f"train[{self.p.name}]",
            unit="step",
            file=sys.stderr,
            disable=not self.progress,
            dynamic_ncols=True,
            leave=False,
        )
        try:
            return self._loop(bar, final_eval)
        except Exception as exc:  # noqa: BLE001 - only out-of-memory is turned into a status
            if not _is_oom(exc):
                raise
            msg = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            if self.device.type == "cuda":
                torch.cuda.empty_cache()
            return self._result("failed", f"out of memory: {msg}")
        finally:
            bar.close()

    def _loop(self, bar: Any, final_eval: bool) -> TrainResult:
        p = self.p
        mf = torch.channels_last if p.channels_last else torch.contiguous_format
        loss_value = math.nan
        while self._budget_left():
            t0 = time.perf_counter()
            lr_now = p.lr_at(self.step, self._progress_fraction())
            for group in self.opt.param_groups:
                group["lr"] = lr_now
            lr_b, hr_b = self.sampler.sample()
            lr_b = lr_b.to(self.device, memory_format=mf)
            hr_b = hr_b.to(self.device)
            loss = F.l1_loss(self.model(lr_b), hr_b)
            loss_value = float(loss.detach())
            if not math.isfinite(loss_value):
                self.train_seconds += time.perf_counter() - t0
                return self._diverged(
                    f"loss became {loss_value} at step {self.step + 1} (lr {lr_now:.3g})"
                )
            self.opt.zero_grad(set_to_none=True)
            loss.backward()
            self.opt.step()
            self.step += 1
            if self.ema is not None:
                self._update_ema()
            self.train_seconds += time.perf_counter() - t0
            bar.update(1)
            if self.step % 10 == 0:
                bar.set_postfix(loss=f"{loss_value:.4f}", refresh=False)
            at_end = not self._budget_left()
            if self.step % p.eval_every == 0 or at_end:
                t1 = time.perf_counter()
                if not self._weights_finite():
                    self.eval_seconds += time.perf_counter() - t1
                    return self._diverged(f"weights became non-finite by step {self.step}")
                scores = self._score(self.eval_names, p.eval_crop)
                psnr = self._mean(scores, "psnr_y_db")
                self.curve.append((self.step, psnr))
                self._save()
                self.eval_seconds += time.perf_counter() - t1
                bar.set_postfix(loss=f"{loss_value:.4f}", psnr=f"{psnr:.2f}", refresh=True)
                verdict = self.report(self.step, psnr) if self.report is not None else None
                if verdict is not None and bool(verdict):
                    return self._result("pruned", f"pruned at step {self.step} ({psnr:.3f} dB)")
        t1 = time.perf_counter()
        if final_eval:
            scores = self._score(self.final_names, None)
        else:
            scores = {
                "checkpoint": {"psnr_y_db": self.intermediate(), "ssim_y": math.nan, "images": 0}
            }
        self.eval_seconds += time.perf_counter() - t1
        result = self._result("complete", scores=scores)
        t2 = time.perf_counter()
        self._save(final=result.to_dict())
        self.eval_seconds += time.perf_counter() - t2
        result.eval_seconds = self.eval_seconds
        return result

    def intermediate(self) -> float:
        return self.curve[-1][1] if self.curve else math.nan

    def _diverged(self, message: str) -> TrainResult:
        result = self._result("diverged", message)
        if self.ckpt_path is not None and self.owns_checkpoint:
            # keep the last good training state but remember the outcome
            ckpt = load_checkpoint(self.ckpt_path, self.device)
            ckpt["final"] = result.to_dict()
            _atomic_save(ckpt, self.ckpt_path)
        return result


def save_outputs(
    out_dir: str | Path,
    result: TrainResult,
    *,
    spec: NetSpec | None,
    protocol: ProxyProtocol,
    data: TrainData | None = None,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Path]:
    """Write ``weights.pt`` (plain state_dict of the architecture), ``spec.json`` and
    ``train.json`` (result, protocol, data, curve) next to the checkpoint; returns the paths."""
    from blocks.specs import save_spec_file

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {}
    if result.weights is not None:
        paths["weights"] = out / "weights.pt"
        _atomic_save(result.weights, paths["weights"])
    if spec is not None:
        paths["spec"] = save_spec_file(spec, out / "spec.json")
    record = {
        "result": result.to_dict(),
        "protocol": protocol.to_dict(),
        "data": data.describe() if data is not None else None,
        "spec": spec.to_dict() if spec is not None else None,
        "torch": torch.__version__,
        "weights_note": (
            "weights learned a residual over a bicubic upsample (proxy device): the SR output "
            "is net(lr) + bicubic(lr), not net(lr)"
            if protocol.residual == "bicubic"
            else "weights are the architecture's own SR model"
        ),
        **(dict(extra) if extra else {}),
    }
    paths["train"] = out / "train.json"
    tmp = paths["train"].with_name(".train.json.tmp")
    tmp.write_text(json.dumps(record, indent=2) + "\n")
    os.replace(tmp, paths["train"])
    return paths
