"""What a candidate costs on the target device and what it is worth under the proxy protocol."""

from __future__ import annotations

import functools
import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from blocks.specs import NetSpec
from profiles.counting import count_model, peak_memory_mib
from profiles.devices import DeviceProfile, device_latency
from search.budgets import Budgets
from search.proxies import ProxyProtocol, TrainData
from search.runner import TrainOutcome


def candidate_dir(run_dir: Path, key: str) -> Path:
    """Where a candidate's checkpoint, weights.pt, spec.json and train.json live."""
    return Path(run_dir) / "candidates" / hashlib.sha256(key.encode()).hexdigest()[:16]


def train_candidate(out: Path, *args: Any, **kwargs: Any) -> Any:
    """``search.train.train`` resuming ``out``. A checkpoint there from another run (a study
    deleted and made again with other settings, or two servers' studies of one name) stops the
    search with what a search user can do, not the trainer's ``--no-resume``, which ``search``
    does not have: nothing is overwritten."""
    from blocks.errors import UserError
    from search.train import train

    try:
        return train(*args, out_dir=out, resume=True, **kwargs)
    except UserError as exc:  # told by its text: search/train.py stays as it is (its sha1
        # keys issue 8's stored reference tables and cached runs); tests/search/test_run_dir.py
        if "checkpoint is from a different run" not in str(exc):
            raise
        reason = str(exc).split("different run ", 1)[1].split(";", 1)[0]
        raise UserError(
            f"{out} holds a checkpoint of this net from another run {reason}: a study of this "
            "name was made before with other settings; use another --study or --storage, or "
            "delete that folder to train it afresh") from None


def device_costs(spec: NetSpec, device: DeviceProfile, budgets: Budgets, *,
                 measure_memory: bool = True, latency_runs: int = 15) -> dict[str, Any]:
    """Costs at the device's input size: params and MACs counted on the meta device, latency by
    the device's method, peak memory measured on the CPU.

    Costs that cannot change the verdict are skipped: once params or MACs break a budget,
    latency and memory are not measured (the candidate is infeasible whatever they are).
    """
    t0 = time.perf_counter()
    counts = count_model(spec, device.input_hw, tally_ops=False)  # params and MACs suffice
    costs: dict[str, Any] = {
        "params": counts.params, "macs": counts.macs, "flops": counts.flops,
        "latency_ms": None, "latency_source": device.latency.method,
        "peak_memory_mib": None, "input_hw": list(device.input_hw), "device": device.name,
    }
    if not budgets.violations(costs):
        lat = device_latency(spec, device, macs=counts.macs, runs=latency_runs, warmup=3)
        costs["latency_ms"] = lat.latency_ms
        costs["latency_label"] = lat.label
        if measure_memory and not budgets.violations(costs):
            costs["peak_memory_mib"] = peak_memory_mib(spec, device.input_hw)
    costs["profile_seconds"] = time.perf_counter() - t0
    return costs


@dataclass
class DeviceEvaluator:
    """``device_costs`` on the target device, and proxy training of feasible candidates."""

    device: DeviceProfile
    protocol: ProxyProtocol
    data: TrainData
    run_dir: Path
    train_device: str = "cpu"
    threads: int | None = None
    measure_memory: bool = True
    progress: bool = False
    latency_runs: int = 15

    @property
    def proxy_name(self) -> str:
        return self.protocol.name

    @property
    def total_steps(self) -> int:
        return int(self.protocol.steps or 0)

    @property
    def checkpoint_every(self) -> int:
        return int(self.protocol.eval_every)

    def costs(self, spec: NetSpec, budgets: Budgets) -> dict[str, Any]:
        return device_costs(spec, self.device, budgets, measure_memory=self.measure_memory,
                            latency_runs=self.latency_runs)

    def train(self, spec: NetSpec, *, seed: int,
              report: Callable[[int, float], bool]) -> TrainOutcome:
        from search.train import save_outputs

        out = candidate_dir(self.run_dir, spec.key())
        result = train_candidate(out, spec, data=self.data, protocol=self.protocol, seed=seed,
                                 device=self.train_device, threads=self.threads,
                                 progress=self.progress, report=report)
        if result.status == "complete":
            save_outputs(out, result, spec=spec, protocol=self.protocol, data=self.data)
        return outcome(result)


def outcome(result: Any, setup_s: float = 0.0) -> TrainOutcome:
    """A ``search.train`` result reduced to what a trial record needs; ``setup_s``: scoring
    time spent before training (counted as training)."""
    status = {"diverged": "failed"}.get(result.status, result.status)
    return TrainOutcome(
        status=status, psnr_y_db=result.psnr_y_db, ssim_y=result.ssim_y, steps=result.steps,
        train_seconds=result.train_seconds + setup_s, eval_seconds=result.eval_seconds,
        message=result.message or (result.status if status == "failed" else ""),
        curve=tuple((int(s), float(p)) for s, p in result.curve),
    )


@functools.lru_cache(maxsize=2)
def _store(path: str, sha1: str):  # noqa: ANN202 - a TrainedStore, imported lazily
    """The store at ``path``, loaded once per process; a file changed since the search checked
    it is an error (its scores would mix two supernets in one study)."""
    from blocks.errors import UserError
    from search.supernet import load_store

    trained = load_store(path)
    if trained.sha1 != sha1:
        raise UserError(f"{path} changed during the search (sha1 {trained.sha1[:8]}, "
                        f"not {sha1[:8]}); rerun it with the file it started with")
    return trained


@dataclass
class SupernetEvaluator(DeviceEvaluator):
    """``--proxy supernet``: each candidate inherits its weights from a trained supernet
    (``search.supernet``), is fine-tuned under ``protocol`` (``finetune_protocol``) and scored
    at the end. Its proxy name carries the store's sha1, so a study never mixes two supernets.
    A candidate that inherits less than ``min_coverage`` of its weights is recorded as failed
    (its score would be a partly untrained net's)."""

    store_path: Path | None = None
    store_sha1: str = ""
    min_coverage: float = 0.99

    @property
    def proxy_name(self) -> str:
        return f"{self.protocol.name}@{self.store_sha1[:8]}"

    def train(self, spec: NetSpec, *, seed: int,
              report: Callable[[int, float], bool]) -> TrainOutcome:
        from blocks.build import build_network
        from search.train import save_outputs

        t0 = time.perf_counter()
        trained = _store(str(self.store_path), self.store_sha1)
        net = build_network(spec, seed=seed)
        coverage = trained.store.inherit(net)
        if coverage < self.min_coverage:
            return TrainOutcome(
                status="failed", psnr_y_db=None, ssim_y=None, steps=0,
                train_seconds=time.perf_counter() - t0, eval_seconds=0.0,
                message=f"the supernet covers {coverage:.0%} of this net's weights "
                        f"(< {self.min_coverage:.0%}): {trained.describe()}")
        out = candidate_dir(self.run_dir, spec.key())
        setup_s = time.perf_counter() - t0  # loading the store and inheriting: scoring time
        result = train_candidate(out, net, data=self.data, protocol=self.protocol, seed=seed,
                                 device=self.train_device, threads=self.threads,
                                 progress=self.progress, report=report, scale=spec.scale)
        if result.status == "complete":
            save_outputs(out, result, spec=spec, protocol=self.protocol, data=self.data,
                         extra={"supernet": str(self.store_path), "supernet_sha1":
                                self.store_sha1, "coverage": coverage})
        return outcome(result, setup_s)
