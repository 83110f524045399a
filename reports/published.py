"""Published reference points for Pareto overlays: a different protocol, never part of a front.

From ../shared/reference/protocols.md: Set5 x2 Y-PSNR as printed in the papers, Mult-Adds = conv
MACs at a 1280x720 HR output. Those nets were trained for days on DIV2K with GPUs; a CPU proxy
run sits far below them, so plots draw them apart and label their protocol.
"""

from __future__ import annotations

import pandas as pd

__all__ = [
    "PUBLISHED_MACS_OUTPUT_SIZE",
    "PUBLISHED_PROTOCOL",
    "PUBLISHED_SCALE",
    "published_points",
]

PUBLISHED_PROTOCOL = "published (DIV2K, GPU-days)"
PUBLISHED_SCALE = 2
PUBLISHED_MACS_OUTPUT_SIZE = (1280, 720)
"""(width, height) of the HR output at which the published Mult-Adds are counted."""

# name, params, mult-adds (None where the paper gives none), Set5 x2 Y-PSNR (dB)
_ROWS: tuple[tuple[str, int, int | None, float], ...] = (
    ("FSRCNN", 12_000, 6_000_000_000, 37.00),
    ("MoreMNAS-C", 25_000, 5_500_000_000, 37.06),
    ("FALSR-B", 326_000, 74_700_000_000, 37.61),
    ("FALSR-C", 408_000, 93_700_000_000, 37.66),
    ("CARN-M", 412_000, 91_200_000_000, 37.53),
    ("FALSR-A", 1_021_000, 234_700_000_000, 37.82),
    ("CARN", 1_592_000, 222_800_000_000, 37.76),
    ("IMDN", 694_000, 158_800_000_000, 38.00),
    ("RFDN", 534_000, None, 38.05),
    ("FDIWN", 629_000, 112_000_000_000, 38.07),
)


def published_points() -> pd.DataFrame:
    """The published table: name, params, macs (Mult-Adds at 1280x720 output; NA where not
    given), psnr_y_db (Set5 x2), scale, eval_set, protocol. Params are as printed (e.g. 12K)."""
    df = pd.DataFrame(_ROWS, columns=["name", "params", "macs", "psnr_y_db"])
    df["params"] = df["params"].astype("Int64")
    df["macs"] = pd.array([m for m in df["macs"]], dtype="Int64")
    df["scale"] = PUBLISHED_SCALE
    df["eval_set"] = "Set5"
    df["protocol"] = PUBLISHED_PROTOCOL
    return df
