"""Zero-cost proxies: score an untrained SR network from one batch, in seconds, without training.

All take a freshly built network (``build_network(spec, seed=seed)``) and a fixed LR/HR batch
(NCHW RGB in [0, 1]); all are deterministic for a seed and a batch. Higher = predicted better.

- ``grad_norm``: sum over parameters of the L2 norm of d(L1 loss)/d(theta) at initialisation.
- ``synflow`` (Tanaka et al. 2020): with every weight replaced by its absolute value and an
  all-ones input, R = sum(output); score = sum |theta * dR/dtheta|, in float64; reported as
  log10 (the raw value spans many decades).
- ``naswot`` (Mellor et al. 2021): binary codes of every activation module's output (x > 0) per
  batch item; K[i, j] = number of units where items i and j agree; score = log|det K|.
- ``log_params``: log10 of the parameter count (the capacity prior, for comparison).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from blocks.build import build_network
from blocks.specs import NetSpec

ACTIVATION_TYPES = (nn.ReLU, nn.LeakyReLU, nn.GELU, nn.SiLU, nn.PReLU)


def grad_norm(net: nn.Module, lr: torch.Tensor, hr: torch.Tensor) -> float:
    """Sum of per-parameter gradient L2 norms of the L1 loss at the current weights."""
    net = copy.deepcopy(net).train()
    net.zero_grad(set_to_none=True)
    F.l1_loss(net(lr), hr).backward()
    return float(sum(p.grad.norm() for p in net.parameters() if p.grad is not None))


def synflow(net: nn.Module, lr: torch.Tensor) -> float:
    """log10 of the SynFlow saliency sum (|theta| weights, ones input of lr's shape, float64)."""
    net = copy.deepcopy(net).double().eval()
    with torch.no_grad():
        for p in net.parameters():
            p.abs_()
    x = torch.ones(1, *lr.shape[1:], dtype=torch.float64)
    net.zero_grad(set_to_none=True)
    net(x).sum().backward()
    total = sum(
        float((p.detach() * p.grad).abs().sum()) for p in net.parameters() if p.grad is not None
    )
    return math.log10(total) if total > 0 else -math.inf


def naswot(net: nn.Module, lr: torch.Tensor) -> float:
    """log|det K| of the activation-pattern agreement kernel over the batch items."""
    net = copy.deepcopy(net).eval()
    n = lr.shape[0]
    k = torch.zeros(n, n, dtype=torch.float64)

    def hook(_m: nn.Module, _inp: tuple[torch.Tensor, ...], out: torch.Tensor) -> None:
        c = (out.detach().reshape(n, -1) > 0).double()
        k.add_(c @ c.t() + (1.0 - c) @ (1.0 - c).t())

    handles = [
        m.register_forward_hook(hook) for m in net.modules() if isinstance(m, ACTIVATION_TYPES)
    ]
    try:
        with torch.no_grad():
            net(lr)
    finally:
        for h in handles:
            h.remove()
    sign, logdet = torch.linalg.slogdet(k)
    return float(logdet) if float(sign) > 0 else -math.inf


def log_params(net: nn.Module) -> float:
    """log10 of the number of parameters."""
    return math.log10(sum(p.numel() for p in net.parameters()))


ZERO_COST: dict[str, Callable[[nn.Module, torch.Tensor, torch.Tensor], float]] = {
    "grad_norm": grad_norm,
    "synflow": lambda net, lr, hr: synflow(net, lr),
    "naswot": lambda net, lr, hr: naswot(net, lr),
    "log_params": lambda net, lr, hr: log_params(net),
}


def score_spec(
    spec: NetSpec,
    lr: torch.Tensor,
    hr: torch.Tensor,
    *,
    seed: int = 0,
    names: tuple[str, ...] = tuple(ZERO_COST),
) -> dict[str, float]:
    """Every zero-cost proxy in ``names`` for ``spec`` built with ``seed`` on one batch."""
    unknown = sorted(set(names) - set(ZERO_COST))
    if unknown:
        raise KeyError(f"unknown zero-cost proxy {unknown[0]!r}; known: {', '.join(ZERO_COST)}")
    net = build_network(spec, seed=seed)
    return {name: ZERO_COST[name](net, lr, hr) for name in names}
