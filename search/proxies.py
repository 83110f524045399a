"""Named proxy-training protocols (``quick``, ``medium``, ``demo``, ``paper``) and their data.

A ``ProxyProtocol`` is plain data: the training set, LR patch, batch, budget (steps and/or
seconds), Adam learning rate and schedule, warm-up, EMA, the bicubic-residual proxy device,
channels_last, and which images are scored at intermediate checkpoints and at the end.
``get_protocol(name)`` looks one up; ``protocol.with_budget(steps=..., seconds=...)`` makes a
variant. ``TrainData.for_protocol(protocol, data_root)`` loads what a protocol names.

Data (``TrainData``): the training default with ../shared/data present (or ``data_root`` /
``$DISTILLNAS_DATA``) is T91 + BSD200 (the classic "291" set) with evaluation on Set5 (Set14 and
B100 too at the end of ``medium``). Without it, the protocols fall back to the embedded default:
scikit-image's bundled photos (``search.datasets.embedded_default``: 5 train, 2 validation
images); PSNR on those is comparable only with itself, never with Set5. ``demo`` always uses
the embedded images; ``paper`` needs DIV2K and never falls back.

Evaluation cost: intermediate checkpoints (the values a pruner reads) score a fixed centre crop
of ``eval_crop`` LR px of each validation image (``None``: the full image); the final score
uses the full images of ``final_sets``. A crop score is comparable only with crop scores of the
same protocol; it is never the paper number.

Bicubic residual (``residual="bicubic"``): a PROXY DEVICE ONLY. The network is trained and
scored as ``net(lr) + bicubic(lr)`` (torch ``F.interpolate``, bicubic, align_corners=False), so
short training scores refinement instead of re-learning the identity (issue 8 measured Kendall
tau 0.28 -> 0.50 at 150 steps with it). It changes the function trained: such weights are NOT
the architecture's own SR model and score badly without the added bicubic. ``quick`` and
``demo`` use it; ``medium`` and ``paper`` train the architecture's own output.

Measured on this machine (AMD EPYC, 2 cores SHARED with other jobs during the measurement,
load average 3.5-7, torch 2.13.0 CPU; x2, batch 16, LR patch 32, bicubic residual). Wall times
under that load were 3-30x the idle ones, so the robust figures are 1-thread CPU seconds:

  ======================  ======  ==========================  ===========================
  net (x2)                params  step, 1 thread CPU s        step, 2 threads wall s
                                  (channels_last / without)   (least loaded run, load 3.5)
  ======================  ======  ==========================  ===========================
  rfdb c16 x2 blocks      24.7K   0.047 / -                   -
  rfdb c24 x3 blocks      76.2K   0.099 / 0.155               0.059
  drfdn (DCB/MKDCB)       191K    0.333 / 0.511               0.19
  e_rfdn (c50 x4, ESA)    417K    0.340 / 0.550               0.24
  ======================  ======  ==========================  ===========================

channels_last saves 35-38 % here. Whole ``quick`` runs (300 steps, checkpoints, full Set5),
1 thread, as CPU seconds: rfdb c24x3 44 s (Set5 x2 34.35 dB), e_rfdn 139 s (34.69 dB); torch
bicubic alone scores 33.97 dB and MATLAB bicubic 33.67 dB. With 2 threads on an idle host that
is about 20 s and 75-80 s (0.06 and 0.24 s/step): about a minute for a typical 50-400K-param
candidate, which set ``quick`` to 300 steps (the issue's figures: 376K net 0.25 s/step at patch
32, 0.5 s at 48). ``medium`` (1200 steps plus full Set5 + Set14 + B100, which costs about 48
CPU-s for e_rfdn at x2, 37 of them B100) is about 1.5 min for a 76K net and 5.5 min for a 417K
one. ``demo`` trained e_rfdn at x4 in 14 CPU-s (18 s wall with the embedded data's first LR
computation). Step times: median of 12 steps after 3 warm-up steps of the training loop.
Whole runs again: ``benchmarks/proxy_fidelity.py --budget-mult 1 --threads 1`` trains its
architectures under ``quick`` only and records wall and CPU seconds per candidate.
"""

from __future__ import annotations

import math
import os
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from blocks.errors import UserError
from blocks.registry import Registry
from search.datasets import (
    EVAL_SET_NAMES,
    Pair,
    PatchSampler,
    check_scale,
    default_eval_dirs,
    default_train_dirs,
    downscale,
    embedded_default,
    load_pairs,
    load_train_images,
    make_pairs,
    shared_data_root,
)
from search.images import modcrop, to_rgb

SCHEDULES = ("cosine", "constant", "step")
RESIDUALS = ("bicubic",)
TRAIN_DATA = ("t91+bsd200", "embedded", "div2k")
EMBEDDED_VAL_NAME = "embedded-val"


@dataclass(frozen=True)
class ProxyProtocol:
    """One named way to train and score a candidate; every field changes the result.

    Budget: ``steps`` (optimizer steps; deterministic, fair across candidates) and/or
    ``seconds`` (training wall time, evaluation excluded; machine-dependent). When both are
    set the run stops at whichever comes first; the schedule's horizon is ``steps`` when set,
    else the fraction of ``seconds`` used. Learning rate: linear warm-up over ``warmup_steps``
    from lr/warmup to ``lr``, then ``cosine`` (down to ``lr * min_lr_ratio`` at the end),
    ``constant``, or ``step`` (multiplied by ``gamma`` every ``step_size`` steps).
    ``ema_decay``: evaluate an exponential moving average of the weights (None: off).
    ``eval_crop``: LR side in px of the centre crop scored at intermediate checkpoints
    (None: full images); ``final_sets`` are scored on full images at the end.
    """

    name: str
    description: str
    source: str
    train_data: str
    lr_patch: int
    batch: int
    steps: int | None
    seconds: float | None
    lr: float
    schedule: str
    warmup_steps: int
    eval_every: int
    eval_sets: tuple[str, ...]
    final_sets: tuple[str, ...]
    eval_crop: int | None = None
    min_lr_ratio: float = 0.0
    step_size: int | None = None
    gamma: float = 0.5
    betas: tuple[float, float] = (0.9, 0.999)
    ema_decay: float | None = None
    residual: str | None = None
    channels_last: bool = True
    fallback_embedded: bool = True
    requires_gpu: bool = False

    def __post_init__(self) -> None:
        for name in ("eval_sets", "final_sets", "betas"):
            value = getattr(self, name)
            if not isinstance(value, tuple):
                object.__setattr__(self, name, tuple(value))
        _validate(self)

    def with_budget(
        self, *, steps: int | None = None, seconds: float | None = None
    ) -> ProxyProtocol:
        """The same protocol with a new budget (exactly one of steps/seconds, or both).

        A changed budget is no longer the GPU-sized default, so ``requires_gpu`` is dropped.
        """
        if steps is None and seconds is None:
            raise UserError("with_budget needs steps or seconds")
        return replace(self, steps=steps, seconds=seconds, requires_gpu=False)

    def lr_at(self, step: int, progress: float) -> float:
        """Learning rate for optimizer step ``step`` (0-based); ``progress`` in [0, 1] of budget."""
        if self.warmup_steps and step < self.warmup_steps:
            return self.lr * (step + 1) / self.warmup_steps
        if self.schedule == "constant":
            return self.lr
        if self.schedule == "step":
            assert self.step_size is not None
            return self.lr * self.gamma ** (step // self.step_size)
        # cosine over what is left after warm-up
        if self.steps is not None:
            span = max(1, self.steps - self.warmup_steps)
            t = min(1.0, max(0.0, (step - self.warmup_steps) / span))
        else:
            t = min(1.0, max(0.0, progress))
        floor = self.lr * self.min_lr_ratio
        return floor + 0.5 * (self.lr - floor) * (1.0 + math.cos(math.pi * t))

    def to_dict(self) -> dict[str, Any]:
        """Plain data (lists for tuples) for JSON records."""
        out = asdict(self)
        for key, value in out.items():
            if isinstance(value, tuple):
                out[key] = list(value)
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ProxyProtocol:
        """Inverse of ``to_dict``; unknown keys raise."""
        valid = set(cls.__dataclass_fields__)
        unknown = sorted(set(data) - valid)
        if unknown:
            raise UserError(
                f"unknown key(s) {', '.join(map(repr, unknown))} in a proxy protocol; "
                f"valid: {', '.join(sorted(valid))}"
            )
        return cls(**dict(data))


def _validate(p: ProxyProtocol) -> None:
    def positive_int(value: Any, what: str, allow_none: bool = False) -> None:
        if value is None and allow_none:
            return
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise UserError(f"proxy {p.name!r}: {what} must be a positive integer; got {value!r}")

    positive_int(p.lr_patch, "lr_patch")
    positive_int(p.batch, "batch")
    positive_int(p.steps, "steps", allow_none=True)
    positive_int(p.eval_every, "eval_every")
    positive_int(p.eval_crop, "eval_crop", allow_none=True)
    if p.steps is None and p.seconds is None:
        raise UserError(f"proxy {p.name!r}: needs a budget (steps or seconds)")
    if p.seconds is not None and not (isinstance(p.seconds, int | float) and p.seconds > 0):
        raise UserError(f"proxy {p.name!r}: seconds must be > 0; got {p.seconds!r}")
    if not (isinstance(p.lr, int | float) and p.lr > 0):
        raise UserError(f"proxy {p.name!r}: lr must be > 0; got {p.lr!r}")
    if p.schedule not in SCHEDULES:
        raise UserError(
            f"proxy {p.name!r}: unknown schedule {p.schedule!r}; known: {', '.join(SCHEDULES)}"
        )
    if p.schedule == "step":
        positive_int(p.step_size, "step_size")
    warm = p.warmup_steps
    if isinstance(warm, bool) or not isinstance(warm, int) or warm < 0:
        raise UserError(f"proxy {p.name!r}: warmup_steps must be >= 0; got {p.warmup_steps!r}")
    if p.residual is not None and p.residual not in RESIDUALS:
        raise UserError(
            f"proxy {p.name!r}: unknown residual {p.residual!r}; known: "
            f"{', '.join(RESIDUALS)} or None"
        )
    if p.ema_decay is not None and not 0.0 < p.ema_decay < 1.0:
        raise UserError(f"proxy {p.name!r}: ema_decay must be in (0, 1); got {p.ema_decay!r}")
    if p.train_data not in TRAIN_DATA:
        raise UserError(
            f"proxy {p.name!r}: unknown train_data {p.train_data!r}; known: {', '.join(TRAIN_DATA)}"
        )
    if not p.eval_sets or not p.final_sets:
        raise UserError(f"proxy {p.name!r}: needs eval_sets and final_sets")
    if not 0.0 <= p.min_lr_ratio <= 1.0:
        raise UserError(f"proxy {p.name!r}: min_lr_ratio must be in [0, 1]")


PROTOCOLS: Registry[ProxyProtocol] = Registry("proxy protocol")


def register_protocol(protocol: ProxyProtocol) -> ProxyProtocol:
    """Add a protocol under its name (lower case, once)."""
    PROTOCOLS.add(protocol.name, protocol)
    return protocol


def get_protocol(name: str | ProxyProtocol) -> ProxyProtocol:
    """The protocol named ``name`` (a ProxyProtocol passes through); unknown names raise."""
    if isinstance(name, ProxyProtocol):
        return name
    return PROTOCOLS.get(name)


def protocol_names() -> list[str]:
    return PROTOCOLS.names()


_ISSUE8 = "issue 8 / protocols.md proxy calibration (bicubic residual, warm-up, lr 2e-3)"

register_protocol(
    ProxyProtocol(
        name="quick",
        description="about a minute per 50-400K-param candidate on 2 CPU cores: 300 steps, "
        "batch 16, LR patch 32, bicubic residual; Set5 centre crops at checkpoints, full Set5 at "
        "the end",
        source=_ISSUE8,
        train_data="t91+bsd200",
        lr_patch=32,
        batch=16,
        steps=300,
        seconds=None,
        lr=2e-3,
        schedule="cosine",
        min_lr_ratio=0.05,
        warmup_steps=20,
        eval_every=50,
        eval_sets=("Set5",),
        eval_crop=64,
        final_sets=("Set5",),
        residual="bicubic",
    )
)

register_protocol(
    ProxyProtocol(
        name="medium",
        description="a few CPU minutes per candidate: 1200 steps, batch 16, LR patch 32, the "
        "architecture's own output (no residual), EMA; Set5 crops at checkpoints, full "
        "Set5 + Set14 + B100 at the end",
        source="this repository (issue 4); recipe after protocols.md with a longer budget",
        train_data="t91+bsd200",
        lr_patch=32,
        batch=16,
        steps=1200,
        seconds=None,
        lr=2e-3,
        schedule="cosine",
        min_lr_ratio=0.01,
        warmup_steps=50,
        eval_every=200,
        eval_sets=("Set5",),
        eval_crop=96,
        final_sets=EVAL_SET_NAMES,
        ema_decay=0.995,
        residual=None,
    )
)

register_protocol(
    ProxyProtocol(
        name="demo",
        description="tens of seconds on the embedded scikit-image photos (make demo): 80 steps, "
        "batch 8, LR patch 24, bicubic residual",
        source="this repository (issue 4)",
        train_data="embedded",
        lr_patch=24,
        batch=8,
        steps=80,
        seconds=None,
        lr=2e-3,
        schedule="cosine",
        min_lr_ratio=0.05,
        warmup_steps=10,
        eval_every=20,
        eval_sets=(EMBEDDED_VAL_NAME,),
        eval_crop=64,
        final_sets=(EMBEDDED_VAL_NAME,),
        residual="bicubic",
    )
)

register_protocol(
    ProxyProtocol(
        name="paper",
        description="the full paper protocol, GPU only: DIV2K (800 train images), LR patch 48 "
        "(HR 192 at x4), batch 16, 1e6 steps, Adam 2e-4 halved every 2e5 steps; "
        "Set5 + Set14 + B100",
        source="IMDN, Hui et al., ACM MM 2019, sec. 4.1 (same recipe as EDSR/RFDN: DIV2K, "
        "L1, Adam b=(0.9, 0.999), 2e-4 halved every 2e5 iterations)",
        train_data="div2k",
        lr_patch=48,
        batch=16,
        steps=1_000_000,
        seconds=None,
        lr=2e-4,
        schedule="step",
        step_size=200_000,
        gamma=0.5,
        warmup_steps=0,
        eval_every=5_000,
        eval_sets=("Set5",),
        eval_crop=None,
        final_sets=EVAL_SET_NAMES,
        residual=None,
        fallback_embedded=False,
        requires_gpu=True,
    )
)


# ---------------------------------------------------------------------------------------------
# data


def cache_root() -> Path:
    """Where derived data (LR training images) is cached: ``$DISTILLNAS_CACHE`` or
    ``$XDG_CACHE_HOME/distillnas`` (``~/.cache/distillnas``)."""
    env = os.environ.get("DISTILLNAS_CACHE")
    if env:
        return Path(env)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "distillnas"


def resolve_data_root(data_root: str | Path | None = None) -> Path | None:
    """``data_root``, else ``$DISTILLNAS_DATA``, else the shared data next to the repository."""
    if data_root is not None:
        root = Path(data_root)
        if not root.is_dir():
            raise UserError(f"{root}: data folder not found")
        return root
    env = os.environ.get("DISTILLNAS_DATA")
    if env:
        root = Path(env)
        if not root.is_dir():
            raise UserError(f"{root}: data folder not found (from $DISTILLNAS_DATA)")
        return root
    return shared_data_root()


def _div2k_train_dir(root: Path) -> Path | None:
    for rel in ("DIV2K/DIV2K_train_HR", "DIV2K_train_HR", "DIV2K/HR", "DIV2K/train/HR"):
        if (root / rel).is_dir():
            return root / rel
    return None


class _SharedLRSampler(PatchSampler):
    """A PatchSampler whose LR images come precomputed from ``TrainData`` (made once per scale,
    shared by every candidate), instead of being remade per run. ``images`` must already be RGB,
    modcropped and at least one HR patch large, so the sampler keeps them all, in order."""

    def __init__(
        self,
        images: Sequence[np.ndarray],
        lr_images: Sequence[np.ndarray],
        scale: int,
        lr_patch: int,
        batch: int,
        rng: np.random.Generator,
    ) -> None:
        super().__init__(images, scale, lr_patch, batch, rng)
        if len(self.images) != len(lr_images):  # pragma: no cover - guarded by the caller
            raise AssertionError("sampler dropped images that TrainData kept")
        self._shared_lr = list(lr_images)

    def lr_image(self, index: int) -> np.ndarray:
        return self._shared_lr[index]


@dataclass
class TrainData:
    """Training images plus validation sets, loaded once and shared by many training runs.

    ``train_images``: uint8 HxWx3 RGB. ``eval_sources``: set name -> a test-set folder (standard
    layout, ``search.datasets.SRSet``) or in-memory HR images (name -> uint8 array; LR made with
    MATLAB bicubic). LR training images and validation pairs are cached per scale (LR training
    images also on disk under ``cache_dir``, keyed by image content, when ``cache_dir`` is set).
    """

    source: str
    train_images: list[np.ndarray] = field(repr=False)
    eval_sources: dict[str, Path | dict[str, np.ndarray]] = field(repr=False)
    root: Path | None = None
    cache_dir: Path | None = None
    _lr: dict[int, list[np.ndarray]] = field(default_factory=dict, repr=False)
    _pairs: dict[tuple[str, int], list[Pair]] = field(default_factory=dict, repr=False)

    # -- construction -------------------------------------------------------------------------

    @classmethod
    def for_protocol(
        cls,
        protocol: ProxyProtocol | str,
        data_root: str | Path | None = None,
        *,
        cache_dir: Path | None | bool = True,
    ) -> TrainData:
        """The data a protocol names, from ``data_root`` (or $DISTILLNAS_DATA, or ../shared/data).

        ``t91+bsd200`` falls back to the embedded photos when no root has T91 + BSD200 (only if
        no root was given explicitly: an explicit root that lacks them is an error); ``div2k``
        never falls back. ``cache_dir=True`` uses ``cache_root()``; None/False disables it.
        """
        protocol = get_protocol(protocol)
        cdir = cache_root() if cache_dir is True else (cache_dir or None)
        explicit = data_root is not None or bool(os.environ.get("DISTILLNAS_DATA"))
        if protocol.train_data == "embedded":
            return cls.embedded(cache_dir=cdir)
        root = resolve_data_root(data_root)
        if protocol.train_data == "div2k":
            train_dir = _div2k_train_dir(root) if root is not None else None
            if train_dir is None:
                raise UserError(
                    f"proxy {protocol.name!r} needs DIV2K (DIV2K/DIV2K_train_HR) under "
                    f"{root or 'a data root (--data DIR or $DISTILLNAS_DATA)'}; "
                    "get it with `distillnas data fetch DIV2K --to DIR`"
                )
            return cls.from_dirs(
                [train_dir], default_eval_dirs(root), source="div2k", root=root, cache_dir=cdir
            )
        train_dirs = default_train_dirs(root) if root is not None else []
        if train_dirs and (root / "Set5").is_dir():
            return cls.from_dirs(
                train_dirs, default_eval_dirs(root), source="t91+bsd200", root=root, cache_dir=cdir
            )
        if explicit or not protocol.fallback_embedded:
            raise UserError(f"{root}: proxy {protocol.name!r} needs T91/, BSD200/ and Set5/ there")
        return cls.embedded(cache_dir=cdir)

    @classmethod
    def embedded(cls, *, cache_dir: Path | None = None) -> TrainData:
        """scikit-image's bundled photos: 5 training images, 2 validation (``embedded-val``)."""
        emb = embedded_default()
        return cls(
            "embedded",
            list(emb.train.values()),
            {EMBEDDED_VAL_NAME: dict(emb.val)},
            cache_dir=cache_dir,
        )

    @classmethod
    def from_dirs(
        cls,
        train_dirs: Sequence[str | Path],
        eval_dirs: Sequence[str | Path],
        *,
        source: str = "custom",
        root: Path | None = None,
        cache_dir: Path | None = None,
    ) -> TrainData:
        """Training images from folders, validation sets from test-set folders (named by folder)."""
        if not eval_dirs:
            raise UserError("no validation set found (expected Set5/ next to the training data)")
        images = load_train_images(list(train_dirs))
        return cls(
            source,
            images,
            {Path(d).name: Path(d) for d in eval_dirs},
            root=root,
            cache_dir=cache_dir,
        )

    @classmethod
    def from_images(
        cls,
        train: Sequence[np.ndarray],
        val: Mapping[str, np.ndarray],
        *,
        val_name: str = "val",
        source: str = "custom",
    ) -> TrainData:
        """In-memory data (tests, notebooks): uint8 training images and named validation HR."""
        return cls(source, [to_rgb(np.asarray(t)) for t in train], {val_name: dict(val)})

    # -- queries ------------------------------------------------------------------------------

    def set_names(self, wanted: Sequence[str]) -> list[str]:
        """The validation sets to use for a protocol's ``wanted`` names: those present, in order;
        a data source without any of them (embedded, custom) uses all of its own sets."""
        present = [n for n in wanted if n in self.eval_sources]
        if present:
            return present
        if any(n in EVAL_SET_NAMES for n in wanted) and self.source in ("t91+bsd200", "div2k"):
            raise UserError(f"{self.root}: none of {', '.join(wanted)} found")
        return list(self.eval_sources)

    def pairs(self, name: str, scale: int) -> list[Pair]:
        """(name, LR, HR) of validation set ``name`` at ``scale`` (cached)."""
        key = (name, check_scale(scale))
        if key not in self._pairs:
            src = self.eval_sources[name]
            self._pairs[key] = (
                load_pairs(src, scale) if isinstance(src, Path) else make_pairs(src, scale)
            )
        return self._pairs[key]

    def train_hr(self, scale: int, lr_patch: int) -> list[int]:
        """Indices of training images that hold one HR patch of ``lr_patch * scale`` px."""
        hr = lr_patch * scale
        return [
            i
            for i, img in enumerate(self.train_images)
            if min(img.shape[0] // scale, img.shape[1] // scale) * scale >= hr
        ]

    def lr_images(self, scale: int) -> list[np.ndarray]:
        """MATLAB-bicubic LR of every modcropped training image at ``scale`` (cached)."""
        scale = check_scale(scale)
        if scale not in self._lr:
            self._lr[scale] = [self._lr_one(img, scale) for img in self.train_images]
        return self._lr[scale]

    def _lr_one(self, img: np.ndarray, scale: int) -> np.ndarray:
        if self.cache_dir is None:
            return downscale(img, scale)
        import hashlib

        digest = hashlib.sha1(np.ascontiguousarray(img).tobytes())
        digest.update(repr((img.shape, scale, "matlab-bicubic-v1")).encode())
        path = self.cache_dir / "lr" / f"{digest.hexdigest()}.npy"
        if path.is_file():
            try:
                lr = np.load(path, allow_pickle=False)
                if lr.shape[:2] == (img.shape[0] // scale, img.shape[1] // scale):
                    return lr
            except (OSError, ValueError):
                pass
        lr = downscale(img, scale)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(f".{os.getpid()}.tmp")
            with open(tmp, "wb") as fh:
                np.save(fh, lr, allow_pickle=False)
            os.replace(tmp, path)
        except OSError:
            pass  # a read-only cache only costs time
        return lr

    def sampler(
        self, scale: int, lr_patch: int, batch: int, rng: np.random.Generator
    ) -> PatchSampler:
        """A seeded PatchSampler over the training images that hold one HR patch, using the
        shared LR cache. Smaller images are skipped with one warning; none left is a UserError."""
        scale = check_scale(scale)
        keep = self.train_hr(scale, lr_patch)
        if not keep:
            raise UserError(
                f"no training image is at least {lr_patch * scale}x{lr_patch * scale} px (the HR "
                f"patch for lr_patch={lr_patch} at x{scale}); {len(self.train_images)} given"
            )
        skipped = len(self.train_images) - len(keep)
        if skipped:
            warnings.warn(
                f"training data {self.source}: skipped {skipped} of "
                f"{len(self.train_images)} images smaller than the "
                f"{lr_patch * scale}px HR patch",
                stacklevel=2,
            )
        lr_all = self.lr_images(scale)
        images = [modcrop(self.train_images[i], scale) for i in keep]
        return _SharedLRSampler(images, [lr_all[i] for i in keep], scale, lr_patch, batch, rng)

    def describe(self) -> dict[str, Any]:
        """Plain data for records: source, root, counts and validation set names."""
        return {
            "source": self.source,
            "root": str(self.root) if self.root is not None else None,
            "train_images": len(self.train_images),
            "eval_sets": list(self.eval_sources),
        }
