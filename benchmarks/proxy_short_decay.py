"""Issue 8: the reference recipe on its full pixels per step, on a short schedule decayed to 0.

    .venv/bin/python benchmarks/proxy_short_decay.py measure --strategy NAME
    .venv/bin/python benchmarks/proxy_short_decay.py rank

What was known when this file was written. Row 4b5 (benchmarks/reference_prefix.py): the
reference recipe (batch 16, LR patch 32, lr 2e-3 halved every 2000 steps) cut at 4000 steps, one
halving in, ranks the nets at tau 0.82-0.85 (31 nets, and the 10 fresh ones out of sample), at
650-720 s per net; cut at 1000 or 2000 steps, at its full learning rate, it ranks at 0.51-0.58,
below parameter count. Row 4b7 (benchmarks/proxy_supernet_finish.py): ending the supernet
fine-tune in a cosine decay lifted its tau from 0.63 to 0.79 on the same nets. Row 4b10
(benchmarks/proxy_small_batch.py): the 4000-step schedule on a seventh of the pixels per step
ranks at 0.22, far below parameter count; its secondary (batch 8, patch 24, 2000 steps) had 8 of
its 41 nets measured (tau 0.43 on those 8) when this file was committed. So the question here:
is what the 4000-step cut gains over the 1000-step one the decay rather than the steps? Each
strategy is ``search.fidelity.REFERENCE_PROTOCOL`` (T91 + BSD200, batch 16, LR patch 32, lr
2e-3 with 100 warm-up steps, Adam, EMA 0.995, no residual) with only its steps changed and its
learning rate decayed along a cosine to 0 at the last step (``schedule="cosine"``,
``min_lr_ratio=0``) instead of halved every 2000 steps; trained from scratch with seed 1 (the
reference used seed 0), 1 thread, scored once on full Set5 at the end. No net had been trained
under these schedules.

Cost expected from row 4b5 (654 s for 4000 steps, 0.16 s a step on average): 600 steps about
100 CPU-s per net, 1000 steps about 165.

Pre-registered (in the commit that adds this file, before any net was trained under it):
- nets: all 41 reference nets (31 + 10 fresh), each against its own long-training reference on
  Set5 + Set14 + B100, exactly as row 4b10 (``proxy_small_batch.reference_nets``);
- primary: ``b16p32-600-cos`` (600 steps, cosine to 0), judged on issue 8's goal on all 41:
  Kendall tau >= 0.8, the 95% paired-bootstrap interval (10000 draws, seed 0) of its
  difference to params-only above 0, and mean CPU-s per net (training and scoring) <= 120; the
  same figures on the 31 and the 10 fresh nets beside it;
- secondary: ``b16p32-1000-cos`` (1000 steps, cosine to 0; over the budget by design: does a
  longer decayed run reach the 4000-step cut's ranking?), measured after the primary,
  reported if finished.
Nothing else is picked; every strategy measured is reported.

Writes benchmarks/results/proxy_short_decay_{strategy}.json (``measure``, resumable per net;
several processes side by side split the nets) and benchmarks/results/proxy_short_decay.{json,md}
(``rank``). The machinery is proxy_small_batch.py's, with this file's strategies.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from proxy_small_batch import Row, main  # noqa: E402

#: name -> (batch, LR patch px, steps, step size: None, a cosine to 0 at the last step)
STRATEGIES: dict[str, tuple[int, int, int, int | None]] = {
    "b16p32-600-cos": (16, 32, 600, None),
    "b16p32-1000-cos": (16, 32, 1000, None),
}
PRIMARY = "b16p32-600-cos"
ROW = Row("proxy_short_decay", "the reference recipe on a short schedule decayed to 0",
          STRATEGIES, PRIMARY)

if __name__ == "__main__":
    sys.exit(main(row=ROW))
