"""SR data: test sets in the standard layout, training images, a seeded patch sampler, defaults.

Arrays are uint8 HxWx3 RGB (or HxW gray) in [0, 255]; training tensors are float32 NCHW in
[0, 1]. LR images follow the MATLAB bicubic convention (``search.imresize``); an HR image pairs
with an LR of floor(H/s) x floor(W/s), made from the HR modcropped to a multiple of s.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from blocks.errors import UserError
from search.images import list_images, load_image, modcrop, to_rgb
from search.imresize import imresize

if TYPE_CHECKING:
    import torch

SUPPORTED_SCALES = (2, 3, 4)
EVAL_SET_NAMES = ("Set5", "Set14", "B100")
TRAIN_SET_NAMES = ("T91", "BSD200")


class Pair(NamedTuple):
    """One test image: its name (file stem), the uint8 LR and the uint8 HR (not modcropped)."""

    name: str
    lr: np.ndarray
    hr: np.ndarray


def check_scale(scale: int, where: str | Path = "scale") -> int:
    """Return ``scale`` as an int if it is one of SUPPORTED_SCALES, else raise a UserError."""
    valid = ", ".join(map(str, SUPPORTED_SCALES))
    try:
        ok = int(scale) == scale and int(scale) in SUPPORTED_SCALES
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise UserError(f"{where}: unsupported scale {scale!r}; valid scales: {valid}")
    return int(scale)


def downscale(hr: np.ndarray, scale: int) -> np.ndarray:
    """The standard LR of an HR image: MATLAB bicubic by 1/scale of the modcropped HR (uint8)."""
    return imresize(modcrop(hr, scale), 1.0 / scale)


def make_pairs(images: Mapping[str, np.ndarray], scale: int) -> list[Pair]:
    """LR/HR pairs from in-memory HR images (name -> uint8 array), LR made with ``downscale``."""
    scale = check_scale(scale)
    return [Pair(name, downscale(hr, scale), hr) for name, hr in images.items()]


@dataclass(frozen=True)
class SRSet:
    """A test-set folder: ``HR/`` plus ``LR_bicubic/X{s}/{stem}x{s}.png``, or HR images only.

    HR-only folders (``HR/`` without ``LR_bicubic/X{s}``, or a folder of images) get their LR made
    on the fly with MATLAB bicubic (``downscale``). ``name`` is the folder name (e.g. ``Set5``).
    """

    root: Path
    hr_dir: Path
    name: str = field(default="")

    @classmethod
    def open(cls, root: str | Path) -> SRSet:
        """Find the layout under ``root``; a missing folder or one without images is a UserError."""
        root = Path(root)
        if not root.is_dir():
            raise UserError(f"{root}: data folder not found (expected HR/ and LR_bicubic/X{{s}}/)")
        hr_dir = root / "HR"
        if not hr_dir.is_dir():
            if not list_images(root):
                raise UserError(
                    f"{root}: no HR/ folder and no images; expected HR/ and LR_bicubic/X{{s}}/ "
                    "(or a folder of HR images)"
                )
            hr_dir = root
        return cls(root=root, hr_dir=hr_dir, name=root.resolve().name)

    def hr_paths(self) -> list[Path]:
        """The HR image files, sorted; an empty HR folder is a UserError."""
        paths = list_images(self.hr_dir)
        if not paths:
            raise UserError(f"{self.hr_dir}: empty folder, no HR images (.png, .bmp, .tif, .jpg)")
        return paths

    def lr_dir(self, scale: int) -> Path | None:
        """``LR_bicubic/X{scale}`` when present, else None (LR then made on the fly)."""
        path = self.root / "LR_bicubic" / f"X{scale}"
        return path if self.hr_dir != self.root and path.is_dir() else None

    def lr_path(self, hr_path: Path, scale: int) -> Path:
        """Where the LR of ``hr_path`` lies: ``LR_bicubic/X{s}/{stem}x{s}{suffix}``."""
        lr_dir = self.root / "LR_bicubic" / f"X{scale}"
        for suffix in (hr_path.suffix, ".png"):
            candidate = lr_dir / f"{hr_path.stem}x{scale}{suffix}"
            if candidate.is_file():
                return candidate
        return lr_dir / f"{hr_path.stem}x{scale}.png"

    def pairs(self, scale: int) -> list[Pair]:
        """Load every (name, LR, HR) at ``scale``; HR is the original, not modcropped.

        Raises a one-line UserError naming the file for: an unsupported scale, an empty HR
        folder, a missing LR file, a corrupt image, or an LR whose size is not floor(H/s) x
        floor(W/s) of its HR or whose channel count differs.
        """
        scale = check_scale(scale, self.root)
        lr_dir = self.lr_dir(scale)
        out = []
        for hr_path in self.hr_paths():
            hr = load_image(hr_path)
            if hr.shape[0] < scale or hr.shape[1] < scale:
                raise UserError(f"{hr_path}: {hr.shape[1]}x{hr.shape[0]} is too small for x{scale}")
            if lr_dir is None:
                lr = downscale(hr, scale)
            else:
                lr_path = self.lr_path(hr_path, scale)
                if not lr_path.is_file():
                    raise UserError(f"{lr_path}: LR image missing for HR {hr_path.name}")
                lr = load_image(lr_path)
                check_lr_size(lr, hr, scale, lr_path, hr_path)
            out.append(Pair(hr_path.stem, lr, hr))
        return out


def check_lr_size(
    lr: np.ndarray, hr: np.ndarray, scale: int, lr_path: Path | str, hr_path: Path | str
) -> None:
    """UserError unless the LR is floor(H/s) x floor(W/s) of the HR with the same channels."""
    want = (hr.shape[0] // scale, hr.shape[1] // scale)
    if lr.shape[:2] != want:
        raise UserError(
            f"{lr_path}: LR is {lr.shape[1]}x{lr.shape[0]} (WxH) but HR {Path(hr_path).name} "
            f"({hr.shape[1]}x{hr.shape[0]}) at x{scale} needs {want[1]}x{want[0]}"
        )
    if lr.ndim != hr.ndim:
        kinds = {2: "gray", 3: "RGB"}
        raise UserError(
            f"{lr_path}: LR is {kinds[lr.ndim]} but HR {Path(hr_path).name} is {kinds[hr.ndim]}"
        )


def load_pairs(root: str | Path, scale: int) -> list[Pair]:
    """(name, lr_uint8, hr_uint8) for every image of the test set at ``root`` (see ``SRSet``)."""
    check_scale(scale, root)
    return SRSet.open(root).pairs(scale)


# ---------------------------------------------------------------------------------------------
# training images and patches


def load_train_images(dirs: Sequence[str | Path]) -> list[np.ndarray]:
    """Every image directly in each folder (or in its ``HR/``), as uint8 HxWx3 RGB.

    Gray images are replicated to 3 channels and alpha is dropped. A missing or empty folder or
    a corrupt image is a one-line UserError naming it. Order: folders as given, files by name.
    """
    if not dirs:
        raise UserError("no training folders given")
    images = []
    for folder in map(Path, dirs):
        if not folder.is_dir():
            raise UserError(f"{folder}: training folder not found")
        if (folder / "HR").is_dir():
            folder = folder / "HR"
        paths = list_images(folder)
        if not paths:
            raise UserError(f"{folder}: empty folder, no training images (.png, .bmp, .tif, .jpg)")
        images.extend(to_rgb(load_image(p)) for p in paths)
    return images


class PatchSampler:
    """Seeded random LR/HR training patches with flips and 90-degree rotations.

    ``images``: uint8 HR images (HxW gray -> replicated to RGB, HxWx4 -> alpha dropped). Each
    image's LR is made once (MATLAB bicubic of the modcropped HR): on first use, or all in the
    constructor with ``precompute=True`` (so a timed budget does not pay for it); a sample
    picks an image uniformly, an aligned crop of ``lr_patch`` LR px (``lr_patch * scale`` HR px)
    and one of the 8 flips/rotations. Images smaller than the HR patch are skipped with one
    warning giving the count; if none remains it is a UserError. ``sample()`` returns
    ``(lr, hr)``: float32 tensors Bx3xPxP and Bx3x(sP)x(sP) in [0, 1].
    """

    def __init__(
        self,
        images: Sequence[np.ndarray],
        scale: int,
        lr_patch: int,
        batch: int,
        rng: np.random.Generator,
        *,
        precompute: bool = False,
    ) -> None:
        self.scale = check_scale(scale)
        if int(lr_patch) != lr_patch or lr_patch < 1:
            raise UserError(f"lr_patch must be a positive integer, got {lr_patch!r}")
        if int(batch) != batch or batch < 1:
            raise UserError(f"batch must be a positive integer, got {batch!r}")
        if not isinstance(rng, np.random.Generator):
            raise TypeError("rng must be a numpy.random.Generator (np.random.default_rng(seed))")
        self.lr_patch, self.batch, self.rng = int(lr_patch), int(batch), rng
        hr_patch = self.lr_patch * self.scale
        kept = [to_rgb(img) for img in images]
        kept = [modcrop(img, self.scale) for img in kept]
        self.images = [img for img in kept if min(img.shape[:2]) >= hr_patch]
        self.skipped = len(kept) - len(self.images)
        if not self.images:
            raise UserError(
                f"no training image is at least {hr_patch}x{hr_patch} px (the HR patch for "
                f"lr_patch={self.lr_patch} at x{self.scale}); {len(kept)} given"
            )
        if self.skipped:
            warnings.warn(
                f"PatchSampler: skipped {self.skipped} of {len(kept)} images smaller than the "
                f"{hr_patch}x{hr_patch} HR patch",
                stacklevel=2,
            )
        self._lr: list[np.ndarray | None] = [None] * len(self.images)
        if precompute:
            for index in range(len(self.images)):
                self.lr_image(index)

    def lr_image(self, index: int) -> np.ndarray:
        """The cached LR (uint8 HxWx3) of training image ``index``."""
        lr = self._lr[index]
        if lr is None:
            lr = self._lr[index] = imresize(self.images[index], 1.0 / self.scale)
        return lr

    def sample_uint8(self) -> tuple[np.ndarray, np.ndarray]:
        """One batch as uint8 arrays: LR BxPxPx3 and HR Bx(sP)x(sP)x3."""
        p, s = self.lr_patch, self.scale
        lr_out = np.empty((self.batch, p, p, 3), dtype=np.uint8)
        hr_out = np.empty((self.batch, p * s, p * s, 3), dtype=np.uint8)
        picks = self.rng.integers(len(self.images), size=self.batch)
        for b, index in enumerate(picks):
            lr_img, hr_img = self.lr_image(int(index)), self.images[int(index)]
            y = int(self.rng.integers(lr_img.shape[0] - p + 1))
            x = int(self.rng.integers(lr_img.shape[1] - p + 1))
            flips = int(self.rng.integers(8))
            lr_out[b] = _dihedral(lr_img[y : y + p, x : x + p], flips)
            hr_out[b] = _dihedral(hr_img[y * s : (y + p) * s, x * s : (x + p) * s], flips)
        return lr_out, hr_out

    def sample(self) -> tuple[torch.Tensor, torch.Tensor]:
        """One batch ``(lr, hr)`` as float32 NCHW tensors in [0, 1]."""
        lr, hr = self.sample_uint8()
        return _batch_to_tensor(lr), _batch_to_tensor(hr)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        while True:
            yield self.sample()

    def state_dict(self) -> dict[str, Any]:
        """The generator state, so a resumed run draws the same patches as an unbroken one."""
        return {"bit_generator": self.rng.bit_generator.state}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore what ``state_dict`` returned."""
        self.rng.bit_generator.state = state["bit_generator"]


def _dihedral(patch: np.ndarray, code: int) -> np.ndarray:
    """One of the 8 flips/rotations of HxWxC: bit 0 h-flip, bit 1 v-flip, bit 2 transpose."""
    if code & 1:
        patch = patch[:, ::-1]
    if code & 2:
        patch = patch[::-1]
    if code & 4:
        patch = patch.transpose(1, 0, 2)
    return patch


def _batch_to_tensor(batch: np.ndarray) -> torch.Tensor:
    import torch

    chw = np.ascontiguousarray(batch.transpose(0, 3, 1, 2), dtype=np.float32)
    return torch.from_numpy(chw / np.float32(255.0))


# ---------------------------------------------------------------------------------------------
# defaults


def shared_data_root() -> Path | None:
    """``$DISTILLNAS_SHARED_DATA`` or ``../shared/data`` next to the repository, if it has Set5."""
    env = os.environ.get("DISTILLNAS_SHARED_DATA")
    root = Path(env) if env else Path(__file__).resolve().parents[1].parent / "shared" / "data"
    return root if (root / "Set5" / "HR").is_dir() else None


def default_train_dirs(shared_root: str | Path) -> list[Path]:
    """T91 + BSD200 (the classic "291" training set) under ``shared_root``; [] if absent."""
    dirs = [Path(shared_root) / name for name in TRAIN_SET_NAMES]
    return dirs if all(d.is_dir() for d in dirs) else []


def default_eval_dirs(shared_root: str | Path) -> list[Path]:
    """Set5, Set14 and B100 under ``shared_root`` (those present, in that order)."""
    return [Path(shared_root) / n for n in EVAL_SET_NAMES if (Path(shared_root) / n).is_dir()]


def _motorcycle_left() -> np.ndarray:
    from skimage import data

    return data.stereo_motorcycle()[0]


def _skimage(name: str) -> Callable[[], np.ndarray]:
    def load() -> np.ndarray:
        from skimage import data

        return getattr(data, name)()

    return load


# Real colour photographs that scikit-image ships inside its wheel (no pooch download needed).
# Left out: hubble_deep_field (72% black sky), cat (= chelsea), colorwheel/logo (synthetic),
# motorcycle_right (same scene as the left view), gray images (the test sets are colour).
EMBEDDED_TRAIN: dict[str, Callable[[], np.ndarray]] = {
    "astronaut": _skimage("astronaut"),  # 512x512, portrait + objects
    "rocket": _skimage("rocket"),  # 427x640, night scene with structures
    "motorcycle_left": _motorcycle_left,  # 500x741, indoor scene, many edges
    "immunohistochemistry": _skimage("immunohistochemistry"),  # 512x512, microscopy texture
    "retina": _skimage("retina"),  # 1411x1411, fundus photograph
}
EMBEDDED_VAL: dict[str, Callable[[], np.ndarray]] = {
    "chelsea": _skimage("chelsea"),  # 300x451, cat (fur, eyes)
    "coffee": _skimage("coffee"),  # 400x600, cup on a wooden table
}


@dataclass(frozen=True)
class EmbeddedData:
    """Named uint8 RGB images for training and validation (no overlap)."""

    train: dict[str, np.ndarray]
    val: dict[str, np.ndarray]


def embedded_default() -> EmbeddedData:
    """The data for a fresh machine without ../shared/data: scikit-image's bundled photos.

    Train (5): astronaut, rocket, motorcycle_left (``stereo_motorcycle()[0]``),
    immunohistochemistry, retina. Validation (2): chelsea, coffee. All load offline from the
    scikit-image 0.26 wheel. The split is fixed (no randomness); validation LR is made with
    ``make_pairs`` (MATLAB bicubic), so its PSNR is comparable only with itself, not with Set5.
    """
    return EmbeddedData(
        train={name: to_rgb(load()) for name, load in EMBEDDED_TRAIN.items()},
        val={name: to_rgb(load()) for name, load in EMBEDDED_VAL.items()},
    )
