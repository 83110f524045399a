"""Proxy training: determinism, resume, divergence, pruning, EMA, residual, checkpoints, outputs."""

from __future__ import annotations

import json
import math
from dataclasses import replace

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from blocks.build import build_network
from blocks.errors import UserError
from blocks.specs import NetSpec, block_spec, load_spec_file
from search.datasets import Pair
from search.proxies import ProxyProtocol, TrainData, get_protocol
from search.train import (
    CHECKPOINT_NAME,
    ProxyUpscaler,
    TrainResult,
    centre_crop_pairs,
    infer_scale,
    save_outputs,
    train,
)

SPEC = NetSpec("distill", 2, (block_spec("rfdb", 8), block_spec("rfdb", 8)), "lrelu")


@pytest.fixture(scope="module")
def data() -> TrainData:
    rng = np.random.default_rng(0)
    train_images = [rng.integers(0, 256, (40, 48, 3), dtype=np.uint8) for _ in range(3)]
    # a smooth validation image, so PSNR values are ordinary numbers
    yy, xx = np.mgrid[0:36, 0:40]
    val = np.stack([(yy * 6) % 256, (xx * 5) % 256, (yy + xx) * 3 % 256], -1).astype(np.uint8)
    return TrainData.from_images(train_images, {"v1": val})


def tiny(**changes: object) -> ProxyProtocol:
    base = replace(
        get_protocol("quick"),
        name="tiny",
        steps=6,
        eval_every=3,
        lr_patch=8,
        batch=2,
        warmup_steps=2,
        eval_crop=12,
    )
    return replace(base, **changes)


def run(data: TrainData, protocol: ProxyProtocol | None = None, **kw: object) -> TrainResult:
    kw.setdefault("seed", 3)
    kw.setdefault("progress", False)
    kw.setdefault("threads", 1)  # one thread: fast for tiny tensors and immune to busy cores
    return train(SPEC, data=data, protocol=protocol or tiny(), **kw)


def same_weights(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_two_runs_are_bit_identical(data: TrainData) -> None:
    a, b = run(data), run(data)
    assert a.status == b.status == "complete" and a.steps == 6
    assert same_weights(a.weights, b.weights)
    assert a.psnr_y_db == b.psnr_y_db and a.ssim_y == b.ssim_y and a.curve == b.curve
    assert [s for s, _ in a.curve] == [3, 6] and math.isfinite(a.psnr_y_db)
    c = run(data, seed=4)
    assert not same_weights(a.weights, c.weights)


def test_resume_equals_uninterrupted_and_checkpoint_loads_weights_only(data, tmp_path) -> None:
    full = run(data)

    def interrupt(step: int, psnr: float) -> None:
        raise KeyboardInterrupt  # a kill right after the first checkpoint was written

    with pytest.raises(KeyboardInterrupt):
        run(data, out_dir=tmp_path, report=interrupt)
    ckpt = torch.load(tmp_path / CHECKPOINT_NAME, weights_only=True)
    assert (
        ckpt["step"] == 3
        and ckpt["final"] is None
        and set(ckpt) >= {"model", "optimizer", "ema", "sampler", "curve", "train_seconds"}
    )
    resumed = run(data, out_dir=tmp_path)
    assert resumed.resumed_from_step == 3 and resumed.steps == 6
    assert same_weights(full.weights, resumed.weights)
    assert resumed.curve == full.curve and resumed.psnr_y_db == full.psnr_y_db
    # a finished run is not trained again: its stored result comes back with its weights
    again = run(data, out_dir=tmp_path, report=interrupt)
    assert again.status == "complete" and again.psnr_y_db == full.psnr_y_db
    assert same_weights(again.weights, full.weights)
    # a checkpoint from another run is refused, not silently mixed in
    with pytest.raises(UserError, match="different run"):
        run(data, out_dir=tmp_path, seed=9)
    fresh = run(data, out_dir=tmp_path, seed=9, resume=False)
    assert fresh.resumed_from_step == 0


def test_nan_loss_stops_with_diverged_without_raising(data, tmp_path) -> None:
    res = run(data, tiny(lr=1e30, warmup_steps=0, steps=20), out_dir=tmp_path)
    assert res.status == "diverged" and res.steps < 20
    assert "loss became" in res.message or "non-finite" in res.message
    assert math.isnan(res.psnr_y_db) and res.weights is None
    assert json.loads(json.dumps(res.to_dict()))["psnr_y_db"] is None  # strict JSON


def test_report_is_called_at_checkpoints_and_can_prune(data) -> None:
    calls: list[tuple[int, float]] = []
    res = run(data, report=lambda s, p: calls.append((s, p)))
    assert [s for s, _ in calls] == [3, 6] and calls == res.curve
    pruned = run(data, report=lambda s, p: True)
    assert pruned.status == "pruned" and pruned.steps == 3 and len(pruned.curve) == 1
    assert math.isnan(pruned.psnr_y_db) and math.isfinite(pruned.intermediate_psnr_y_db)


def test_ema_scores_averaged_weights_without_changing_training(data, tmp_path) -> None:
    plain = run(data)
    ema = run(data, tiny(ema_decay=0.9), out_dir=tmp_path)
    raw = torch.load(tmp_path / CHECKPOINT_NAME, weights_only=True)["model"]
    assert same_weights(raw, plain.weights)  # the optimised weights are the same
    assert not same_weights(ema.weights, plain.weights)  # but the averaged ones are scored


def test_residual_adds_torch_bicubic() -> None:
    class Zero(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.zeros(x.shape[0], 3, 2 * x.shape[2], 2 * x.shape[3])

    x = torch.rand(1, 3, 5, 6)
    up = ProxyUpscaler(Zero(), 2, residual="bicubic")(x)
    want = F.interpolate(x, scale_factor=2, mode="bicubic", align_corners=False)
    assert torch.equal(up, want)
    assert torch.equal(ProxyUpscaler(Zero(), 2)(x), torch.zeros_like(want))


def test_residual_changes_what_is_trained(data) -> None:
    with_res, without = run(data), run(data, tiny(residual=None))
    assert not same_weights(with_res.weights, without.weights)
    assert with_res.residual == "bicubic" and without.residual is None


def test_threads_restored_channels_last_off_and_seconds_budget(data) -> None:
    before = torch.get_num_threads()
    other = 1 if before != 1 else 2
    res = run(data, tiny(channels_last=False, steps=None, seconds=0.3), threads=other)
    assert torch.get_num_threads() == before and res.threads == other
    assert res.status == "complete" and res.steps >= 1 and res.train_seconds >= 0.3


def test_out_of_memory_is_a_failed_status(data) -> None:
    class Greedy(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = nn.Conv2d(3, 12, 3, padding=1)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            if self.training:
                raise RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB")
            return F.pixel_shuffle(self.conv(x), 2)

    res = train(Greedy(), data=data, protocol=tiny(), seed=0, progress=False, threads=1)
    assert res.status == "failed" and "out of memory" in res.message and res.scale == 2


def test_other_errors_propagate(data) -> None:
    class Broken(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.w = nn.Parameter(torch.zeros(1))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            raise ValueError("bug")

    with pytest.raises(ValueError, match="bug"):
        train(Broken(), data=data, protocol=tiny(), seed=0, progress=False, scale=2, threads=1)


def test_scale_override_module_scale_and_bad_inputs(data) -> None:
    assert infer_scale(build_network(SPEC.with_scale(3), seed=0)) == 3
    res = run(data, tiny(steps=1, eval_every=1), scale=3)
    assert res.scale == 3 and res.spec_key.startswith("distill.x3")
    with pytest.raises(UserError, match="GPU-only"):
        train(SPEC, data=data, protocol="paper", progress=False)
    with pytest.raises(UserError, match="unknown proxy protocol"):
        train(SPEC, data=data, protocol="quik", progress=False)
    with pytest.raises(UserError, match="threads"):
        run(data, threads=0)


def test_progress_bar_goes_to_stderr(data, capsys) -> None:
    run(data, tiny(steps=2, eval_every=2), progress=True)
    out, err = capsys.readouterr()
    assert out == "" and "train[tiny]" in err


def test_centre_crop_pairs_aligns_lr_and_hr() -> None:
    lr = np.arange(10 * 12 * 3, dtype=np.uint8).reshape(10, 12, 3)
    hr = np.repeat(np.repeat(lr, 2, 0), 2, 1)
    ((_, lc, hc),) = centre_crop_pairs([Pair("a", lr, hr)], 4, 2)
    assert lc.shape == (4, 4, 3) and hc.shape == (8, 8, 3)
    assert np.array_equal(hc[::2, ::2], lc)
    ((_, lc, _),) = centre_crop_pairs([Pair("a", lr, hr)], 50, 2)
    assert lc.shape == lr.shape


def test_save_outputs_round_trips(data, tmp_path) -> None:
    res = run(data)
    paths = save_outputs(tmp_path, res, spec=SPEC, protocol=tiny(), data=data)
    assert load_spec_file(paths["spec"]) == SPEC
    state = torch.load(paths["weights"], weights_only=True)
    net = build_network(SPEC)
    net.load_state_dict(state)  # a plain state_dict of the architecture
    record = json.loads(paths["train"].read_text())
    assert record["result"]["status"] == "complete" and record["protocol"]["name"] == "tiny"
    assert TrainResult.from_dict(record["result"]).curve == res.curve
    assert "bicubic" in record["weights_note"]
