"""search.pruner.GainModel: rung scores read as forecasts of the final ones, in the replay."""

from __future__ import annotations

import math

import pytest

from search.pruner import GainModel, ParetoSuccessiveHalving, replay

PRUNER = ParetoSuccessiveHalving((50,), eta=3.0)
# four nets that finish (each either has fewer than 3 peers at step 50 or leads there); their
# finals grow with log10 MACs (31 + 2 log10 G) while their step-50 scores barely do
GIGA = [1, 2, 4, 8]
FINISHED = [({50: s}, [g * 1e9]) for s, g in zip([30.0, 30.3, 30.1, 30.4], GIGA, strict=True)]
FINALS = [31 + 2 * math.log10(g) for g in GIGA]
# then a 16 G net that scores lowest at step 50, dominated there by all four: the raw scores stop
# it; the forecast (about 33.4 dB from its cost) puts it ahead of them
LATE = ({50: 29.0}, [16e9])


def test_raw_scores_stop_the_slow_starter_and_forecasts_keep_it() -> None:
    trials = [*FINISHED, LATE]
    assert replay(PRUNER, trials) == [None, None, None, None, 50]
    gain = GainModel(min_trials=4)
    assert replay(PRUNER, trials, gain=gain, finals=[*FINALS, 34.0]) == [None] * 5


def test_the_model_waits_for_enough_finished_trials() -> None:
    trials = [*FINISHED, LATE]
    # five finished trials needed: with four, the rung scores are used as they are
    assert replay(PRUNER, trials, gain=GainModel(min_trials=5), finals=[*FINALS, 34.0]) == [
        None, None, None, None, 50]
    rows = [(t[0][50], t[1], f) for t, f in zip(FINISHED, FINALS, strict=True)]
    assert GainModel(min_trials=5).fit(rows) is None
    forecast = GainModel(min_trials=4).fit(rows)
    # it reproduces the finished trials' finals (an exact linear relation in log10 MACs)
    for (score, costs, final) in rows:
        assert forecast(score, costs) == pytest.approx(final, abs=1e-3)


def test_a_gain_model_needs_every_final() -> None:
    with pytest.raises(ValueError, match="final score of every trial"):
        replay(PRUNER, [*FINISHED, LATE], gain=GainModel(min_trials=4), finals=FINALS)
