"""A weight-sharing supernet proxy (issue 8): train one set of shared weights over a search space,
then score each candidate with the weights it inherits plus a short fine-tune.

Sharing (single-path, once-for-all style). Every candidate is an ordinary network built from its
``NetSpec``; a ``WeightStore`` holds one tensor per STORE KEY, the parameter's path with the class
of every module on it (``blocks:ModuleList/0:RFDB/c5:Conv2d/weight#4``). So:

- the same block kind and conv type at the same depth position share weights whatever the width,
  kernel, ratio or depth of the net: a candidate takes the leading channels (elastic width and
  depth) and, for a conv kernel, the centred k x k window of the store's (elastic kernel);
- another block kind, conv type or attention at that position has its own weights (its classes
  differ), like the choice blocks of a single-path one-shot supernet.

A store tensor has the largest shape its key takes over a sample of the space (``WeightStore.for_
specs``), starting from the networks' own initialisation (smallest first, the largest written
last). Training (``train_supernet``): every step samples one candidate uniformly from the
spaces, copies its slices out, runs one L1 step of the proxy recipe on it, and adds its gradients
back into the store's slices; Adam updates the store (a slice a step did not use gets a zero
gradient). A candidate is then scored by ``inherit`` + ``search.train.train`` on the net in place.

``coverage`` is the share of a net's parameter values that came from the store: 1.0 for a net
of the trained spaces; a net of another family (IMDB, RDB) shares only what its classes share.
The shared slices are not semantically aligned across widths (the first k input channels of a
concatenation mean different things at another width): that is the approximation the
supernet makes, and the benchmark measures what it costs.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from blocks.build import build_network
from blocks.errors import UserError
from blocks.specs import NetSpec
from search.proxies import ProxyProtocol, TrainData, get_protocol
from search.space import SearchSpace
from search.train import ProxyUpscaler, _device, count_params

STORE_FORMAT = "distillnas-supernet/1"


def store_keys(net: nn.Module) -> dict[str, str]:
    """parameter name -> store key: its path with each module's class, and the tensor's rank."""
    keys = {}
    for name, p in net.named_parameters():
        *path, leaf = name.split(".")
        mod, parts = net, []
        for part in path:
            mod = getattr(mod, part)
            parts.append(f"{part}:{type(mod).__name__}")
        keys[name] = "/".join([*parts, f"{leaf}#{p.dim()}"])
    return keys


def window(outer: Sequence[int], inner: Sequence[int]) -> tuple[slice, ...]:
    """The part of a tensor of shape ``outer`` that a tensor of shape ``inner`` overlaps: the
    leading channels, and the centred window of a conv kernel (the last two dims of a 4-d
    weight). ``window(store, param)`` is where a parameter sits in the store;
    ``window(param, store)`` is the part of a parameter larger than the store that it covers."""
    out = []
    for d, (big, small) in enumerate(zip(outer, inner, strict=True)):
        n = min(big, small)
        start = (big - n) // 2 if len(outer) == 4 and d >= 2 else 0
        out.append(slice(start, start + n))
    return tuple(out)


class WeightStore(nn.Module):
    """The shared weights: one parameter per store key, at the largest shape seen."""

    def __init__(self, shapes: dict[str, tuple[int, ...]]) -> None:
        super().__init__()
        self.keys_ = sorted(shapes)
        self.index = {k: i for i, k in enumerate(self.keys_)}
        self.tensors = nn.ParameterList(nn.Parameter(torch.zeros(shapes[k])) for k in self.keys_)

    @classmethod
    def for_specs(cls, specs: Iterable[NetSpec], seed: int = 0) -> WeightStore:
        """A store covering every parameter of ``specs``, initialised from their own init
        (the smallest net written first, the largest last). Two passes, one net alive at a
        time: sizing the store to a whole space builds hundreds of wide nets."""
        specs = list(specs)
        shapes: dict[str, tuple[int, ...]] = {}
        sizes = []
        for i, s in enumerate(specs):
            net = build_network(s, seed=seed + i)
            for name, key in store_keys(net).items():
                shape = tuple(net.get_parameter(name).shape)
                old = shapes.get(key, shape)
                shapes[key] = tuple(max(a, b) for a, b in zip(old, shape, strict=True))
            sizes.append(count_params(net))
        store = cls(shapes)
        for i in sorted(range(len(specs)), key=sizes.__getitem__):
            store.write(build_network(specs[i], seed=seed + i))
        return store

    def tensor(self, key: str) -> nn.Parameter | None:
        i = self.index.get(key)
        return None if i is None else self.tensors[i]

    def _pairs(self, net: nn.Module) -> Iterable[tuple[torch.Tensor, nn.Parameter, tuple, tuple]]:
        for name, key in store_keys(net).items():
            s = self.tensor(key)
            p = net.get_parameter(name)
            if s is None or s.dim() != p.dim():
                continue
            yield p, s, window(s.shape, p.shape), window(p.shape, s.shape)

    @torch.no_grad()
    def write(self, net: nn.Module) -> None:
        """Copy a net's weights into the store's slices."""
        for p, s, win, loc in self._pairs(net):
            s[win].copy_(p[loc])

    @torch.no_grad()
    def inherit(self, net: nn.Module) -> float:
        """Copy the store's slices into ``net`` in place; returns the coverage (share of the
        net's parameter values that came from the store)."""
        copied = 0
        for p, s, win, loc in self._pairs(net):
            p[loc].copy_(s[win])
            copied += p[loc].numel()
        total = count_params(net)
        return copied / total if total else 0.0

    def add_grads(self, net: nn.Module) -> None:
        """Add a net's gradients into the store's gradient slices."""
        for p, s, win, loc in self._pairs(net):
            if p.grad is None:
                continue
            if s.grad is None:
                s.grad = torch.zeros_like(s)
            s.grad[win] += p.grad[loc]


@dataclass(frozen=True)
class SupernetPlan:
    """What a supernet is trained over and how: the spaces (sampled uniformly, then uniformly
    within one), a ``channels`` override (None: each space's own), the scale, the training recipe
    (``protocol``: data, patch, batch, lr, warm-up, schedule, bicubic residual; its ``steps`` is
    the supernet's total), the seed of the candidate draw and the patches, and the gradient-norm
    clip applied to the store each step (None: off; without it the first run, lr 2e-3, diverged
    between steps 1400 and 1600)."""

    spaces: tuple[SearchSpace, ...]
    protocol: ProxyProtocol
    scale: int = 2
    channels: tuple[int, ...] | None = None
    seed: int = 0
    init_sample: int = 400
    clip_grad_norm: float | None = 1.0
    cover_space: bool = False

    def __post_init__(self) -> None:
        if not self.spaces:
            raise UserError("a supernet needs at least one search space")
        if self.protocol.steps is None:
            raise UserError("a supernet's protocol needs a step budget (its total steps)")
        for sp in self.spaces:
            if self.scale not in sp.scale:
                raise UserError(f"space {sp.name!r} has no x{self.scale}")

    def sample(self, rng: np.random.Generator) -> NetSpec:
        """One candidate: a space uniformly, then a spec of it at this scale."""
        space = self.spaces[int(rng.integers(len(self.spaces)))]
        space = replace(space, scale=(self.scale,))
        if self.channels is not None:
            space = replace(space, channels=self.channels)
        return space.sample(rng)

    def cover_specs(self) -> list[NetSpec]:
        """For ``cover_space``: per space, a chain of its deepest length at its widest width for
        each block choice, so that the store holds the largest shape every key of the space
        takes (a sample of ``init_sample`` candidates from a space of millions leaves some
        wide, deep combinations partly outside it)."""
        out = []
        for sp in self.spaces:
            width = max(self.channels if self.channels is not None else sp.channels)
            out += [NetSpec("distill", self.scale, (b,) * sp.num_blocks[1], sp.fuse_activation[0])
                    for b in sp.block_choices(width)]
        return out

    def describe(self) -> dict[str, Any]:
        cover = {"cover_space": True} if self.cover_space else {}  # old plans: same identity
        return {
            **cover,
            "spaces": [f"{s.name}@v{s.version}" for s in self.spaces],
            "channels": list(self.channels) if self.channels is not None else None,
            "scale": self.scale,
            "seed": self.seed,
            "init_sample": self.init_sample,
            "clip_grad_norm": self.clip_grad_norm,
            "protocol": self.protocol.to_dict(),
        }


def _checkpoint_identity(plan: SupernetPlan) -> str:
    return json.dumps(plan.describe(), sort_keys=True)


def supernet_recipe(steps: int, base: str | ProxyProtocol = "quick",
                    residual: str | None = "bicubic") -> ProxyProtocol:
    """How a store is trained: ``base``'s data, patch, batch and schedule at lr 1e-3 with a
    100-step warm-up for ``steps`` steps in all, one sampled candidate per step (the store's
    gradient norm is clipped to 1 by the plan: at lr 2e-3 unclipped the first run diverged by
    step 1600). ``residual=None``: the nets' own output instead of a residual on bicubic."""
    b = get_protocol(base)
    recipe = replace(
        b,
        name="supernet",
        steps=steps,
        seconds=None,
        requires_gpu=False,
        warmup_steps=100,
        lr=1e-3,
        description=f"supernet training: the {b.name} recipe at lr 1e-3 for {steps} steps in "
        "all, one sampled candidate per step, 100-step warm-up, gradient norm clipped to 1",
    )
    if residual is None:
        recipe = replace(
            recipe,
            name="supernet-own",
            residual=None,
            description=recipe.description + "; the nets' own output (no bicubic residual)",
        )
    return recipe


#: fine-tune steps of a candidate after it inherits its weights (``search --proxy supernet``):
#: the length benchmarks/proxy_supernet.py measured best (row 4b4)
FINETUNE_STEPS = 200


#: how the fine-tune's learning rate runs (``search --finetune-schedule``): ``cosine`` decays
#: 5e-4 to 0 over the fine-tune, the search's default; ``constant`` holds 5e-4 (the proxy before
#: it, named without a suffix). Ended by the cosine, the scores of the 26 covered reference nets
#: agree between two supernets at Kendall tau 0.84 instead of 0.56, and rank the converged
#: reference at 0.79 / 0.72 (two supernets) instead of 0.63 / 0.72
#: (benchmarks/proxy_supernet_finish.py, row 4b7)
FINETUNE_SCHEDULES = ("cosine", "constant")
DEFAULT_FINETUNE_SCHEDULE = "cosine"


def finetune_protocol(
    steps: int = FINETUNE_STEPS,
    residual: str | None = "bicubic",
    eval_sets: tuple[str, ...] | None = ("Set5",),
    base: str | ProxyProtocol = "quick",
    schedule: str = "constant",
) -> ProxyProtocol:
    """The fine-tune of inherited weights: ``steps`` steps at lr 5e-4 (``constant``, or decayed
    to 0 by a ``cosine``; see ``FINETUNE_SCHEDULES``) on ``base``'s data, patch and batch, with
    the store's residual, scored once at the end on ``eval_sets`` (the mean of their means;
    None: ``base``'s final sets). The cosine's name ends in ``-cos``."""
    if schedule not in FINETUNE_SCHEDULES:
        raise UserError(f"unknown fine-tune schedule {schedule!r}; known: "
                        f"{', '.join(FINETUNE_SCHEDULES)}")
    b = get_protocol(base)
    sets = tuple(eval_sets) if eval_sets is not None else b.final_sets
    cosine = schedule == "cosine"
    return replace(
        b,
        name=f"supernet-ft-{steps}" + ("-cos" if cosine else ""),
        steps=steps,
        seconds=None,
        requires_gpu=False,
        schedule=schedule,
        min_lr_ratio=0.0 if cosine else b.min_lr_ratio,
        lr=5e-4,
        warmup_steps=0,
        eval_every=steps,
        final_sets=sets,
        residual=residual,
        description=f"fine-tune inherited weights: {steps} steps at "
        + ("lr 5e-4 decayed to 0 by a cosine" if cosine else "constant lr 5e-4")
        + f", {'bicubic residual' if residual else 'own output'}, full {' + '.join(sets)}",
    )


def _layout(store: WeightStore) -> dict[str, list[int]]:
    return {k: list(store.tensor(k).shape) for k in store.keys_}


def _meta(plan: SupernetPlan) -> dict[str, Any]:
    """What a search needs to know about a store without rebuilding its plan: the spaces (with
    their content hashes), scale, widths and recipe."""
    return {
        "spaces": [
            {"name": s.name, "version": s.version, "version_hash": s.version_hash()}
            for s in plan.spaces
        ],
        "scale": plan.scale,
        "channels": list(plan.channels) if plan.channels is not None else None,
        "seed": plan.seed,
        "protocol": plan.protocol.to_dict(),
    }


@dataclass(frozen=True)
class TrainedStore:
    """A store loaded from a ``train_supernet`` checkpoint, for scoring (``load_store``)."""

    store: WeightStore
    path: Path
    sha1: str
    step: int
    steps: int
    meta: dict[str, Any]
    cpu_seconds: float

    @property
    def done(self) -> bool:
        return self.step >= self.steps

    @property
    def scale(self) -> int:
        return int(self.meta["scale"])

    @property
    def residual(self) -> str | None:
        return self.meta["protocol"].get("residual")

    def finetune(self, steps: int = FINETUNE_STEPS, schedule: str = "constant"
                 ) -> ProxyProtocol:
        """How a candidate is scored from this store: ``finetune_protocol`` on the recipe the
        store was trained with (its data, patch, batch and residual), scored on its final
        sets."""
        return finetune_protocol(steps, self.residual, None,
                                 base=ProxyProtocol.from_dict(self.meta["protocol"]),
                                 schedule=schedule)

    def describe(self) -> str:
        spaces = ", ".join(f"{s['name']}@{s['version_hash']}" for s in self.meta["spaces"])
        widths = self.meta["channels"] or "the spaces' own widths"
        return f"x{self.scale} over {spaces} ({widths}), {self.step}/{self.steps} steps"


def load_store(path: str | Path) -> TrainedStore:
    """Read a supernet checkpoint for scoring; one-line ``UserError`` when it is missing, not a
    supernet, or written without its layout (before the store's shapes were saved with it)."""
    import hashlib
    import io

    path = Path(path)
    if not path.is_file():
        raise UserError(
            f"{path}: no supernet file; train one with "
            f"`distillnas supernet train --space NAME --out {path}`"
        )
    raw = path.read_bytes()  # read once: hashed and loaded
    try:
        ck = torch.load(io.BytesIO(raw), map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any unreadable file becomes one line
        raise UserError(
            f"{path}: not a supernet checkpoint (torch.load failed: {type(exc).__name__})"
        ) from exc
    if not isinstance(ck, dict) or ck.get("format") != STORE_FORMAT:
        raise UserError(f"{path}: not a supernet checkpoint (format {STORE_FORMAT} expected)")
    if "layout" not in ck or "meta" not in ck:
        raise UserError(
            f"{path}: a supernet checkpoint without its layout (written before layouts were "
            "saved); load it with its plan, or rerun its `supernet train` command (it resumes "
            "and rewrites the file)"
        )
    store = WeightStore({k: tuple(v) for k, v in ck["layout"].items()})
    try:
        store.load_state_dict(ck["store"])
    except RuntimeError as exc:
        raise UserError(f"{path}: the store does not match its layout ({exc})") from exc
    return TrainedStore(
        store=store.eval(),
        path=path,
        sha1=hashlib.sha1(raw).hexdigest(),
        step=int(ck["step"]),
        steps=int(ck["meta"]["protocol"]["steps"]),
        meta=dict(ck["meta"]),
        cpu_seconds=float(ck["cpu_s"]),
    )


def train_supernet(
    plan: SupernetPlan,
    data: TrainData,
    *,
    checkpoint: str | Path | None = None,
    hours: float | None = None,
    stop_at: int | None = None,
    save_every: int = 200,
    device: str | torch.device = "cpu",
    log: Any = None,
) -> dict[str, Any]:
    """Train (or resume from ``checkpoint``) the store for ``plan.protocol.steps`` steps, or
    until ``hours`` of wall time pass in this call or step ``stop_at`` is reached (resumably;
    ``hours=0`` only loads). Returns ``{"store", "step", "done",
    "train_seconds", "cpu_seconds", "loss"}`` (seconds summed over resumed calls)."""
    p = plan.protocol
    rng = np.random.default_rng([plan.seed, 0x50E7])
    init = [plan.sample(rng) for _ in range(plan.init_sample)]
    init += plan.cover_specs() if plan.cover_space else []
    dev = _device(device)
    store = WeightStore.for_specs(init, seed=plan.seed).to(dev)
    opt = torch.optim.Adam(store.parameters(), lr=p.lr, betas=p.betas)
    sampler = data.sampler(plan.scale, p.lr_patch, p.batch, np.random.default_rng([plan.seed, 1]))
    step, train_s, cpu_s, losses = 0, 0.0, 0.0, []
    path = Path(checkpoint) if checkpoint is not None else None
    if path is not None and path.is_file():
        ck = torch.load(path, map_location=dev, weights_only=True)
        if ck.get("format") != STORE_FORMAT or ck.get("identity") != _checkpoint_identity(plan):
            raise UserError(f"{path}: a checkpoint of another supernet plan; use another path")
        store.load_state_dict(ck["store"])
        opt.load_state_dict(ck["optimizer"])
        rng.bit_generator.state = json.loads(ck["rng"])
        sampler.load_state_dict(json.loads(ck["sampler"]))
        step, train_s, cpu_s = int(ck["step"]), float(ck["train_seconds"]), float(ck["cpu_s"])
        losses = list(ck["losses"])
        stale = "layout" not in ck  # written before layouts were saved: rewrite it below
    else:
        stale = False

    def save() -> None:
        if path is None:
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        torch.save(
            {
                "format": STORE_FORMAT,
                "identity": _checkpoint_identity(plan),
                "store": store.state_dict(),
                "optimizer": opt.state_dict(),
                "rng": json.dumps(rng.bit_generator.state),
                "sampler": json.dumps(sampler.state_dict()),
                "step": step,
                "train_seconds": train_s,
                "cpu_s": cpu_s,
                "losses": losses,
                "layout": _layout(store),
                "meta": {**_meta(plan), "data": data.source},
            },
            tmp,
        )
        os.replace(tmp, path)

    t_call, start_step = time.perf_counter(), step
    mf = torch.channels_last if p.channels_last else torch.contiguous_format
    window_loss: list[float] = []
    last = p.steps if stop_at is None else min(p.steps, stop_at)
    while step < last and (hours is None or time.perf_counter() - t_call < hours * 3600):
        t0, c0 = time.perf_counter(), time.process_time()
        spec = plan.sample(rng)
        net = build_network(spec, seed=0).to(dev)
        store.inherit(net)
        net = net.to(memory_format=mf).train()
        model = ProxyUpscaler(net, plan.scale, residual=p.residual, channels_last=p.channels_last)
        lr_b, hr_b = sampler.sample()
        loss = F.l1_loss(model(lr_b.to(dev, memory_format=mf)), hr_b.to(dev))
        value = float(loss.detach())
        if not math.isfinite(value):
            raise UserError(f"supernet loss became {value} at step {step + 1} ({spec.key()})")
        loss.backward()
        opt.zero_grad(set_to_none=True)
        store.add_grads(net)
        if plan.clip_grad_norm is not None:
            nn.utils.clip_grad_norm_(store.parameters(), plan.clip_grad_norm)
        for group in opt.param_groups:
            group["lr"] = p.lr_at(step, step / p.steps)
        opt.step()
        step += 1
        window_loss.append(value)
        train_s += time.perf_counter() - t0
        cpu_s += time.process_time() - c0
        if step % save_every == 0 or step == p.steps:
            losses.append([step, float(np.mean(window_loss))])
            window_loss = []
            save()
            if log is not None:
                print(f"supernet step {step}/{p.steps} loss {losses[-1][1]:.4f}", file=log)
    if step > start_step or stale:
        save()
    return {
        "store": store,
        "step": step,
        "done": step >= p.steps,
        "train_seconds": train_s,
        "cpu_seconds": cpu_s,
        "loss": losses,
    }


#: candidates ``check_covers`` samples from a search space
COVER_SAMPLE = 64


def check_covers(trained: TrainedStore, space: SearchSpace, *, min_coverage: float = 0.99,
                 sample: int = COVER_SAMPLE, seed: int = 0) -> SearchSpace:
    """``space`` restricted to the store's scale, once ``sample`` of its candidates (drawn with
    ``seed``) each inherit at least ``min_coverage`` of their weights from the store; else a
    one-line ``UserError`` naming the first candidate that does not, and what the store covers.
    A store of another scale is refused (the upsampler's shapes would slice without meaning)."""
    if not trained.done:
        raise UserError(
            f"{trained.path}: the supernet is trained {trained.step} of {trained.steps} steps; "
            "rerun its `distillnas supernet train` command to finish it"
        )
    if trained.scale not in space.scale:
        raise UserError(
            f"{trained.path}: the supernet is x{trained.scale}; space {space.name!r} has "
            f"x{', x'.join(map(str, space.scale))}"
        )
    space = replace(space, scale=(trained.scale,))
    rng = np.random.default_rng(seed)
    for _ in range(sample):
        spec = space.sample(rng)
        coverage = trained.store.inherit(build_network(spec, seed=0))
        if coverage < min_coverage:
            raise UserError(
                f"{trained.path} does not cover space {space.name!r}: {spec.key()} inherits "
                f"{coverage:.0%} of its weights (the supernet: {trained.describe()}); train one "
                f"over this space with `distillnas supernet train --space ...`"
            )
    return space
