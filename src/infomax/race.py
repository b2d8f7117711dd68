"""Several candidate critics trained side by side; the ones that cannot catch up stop early.

``estimate_mi(critic="auto")`` trains more than one critic and reports the one
best on the validation rows. Training each to the end wastes the time of the
losers, which are often plain after a few evaluations (a parametric start that
misses a non-monotone dependence stays far below a flexible critic). So
:func:`race` advances every candidate one validation interval at a time and,
after each round, stops a candidate that cannot finish more than
:data:`RACE_TIE` nats above the leader even on an optimistic projection: its best
validation value so far plus its recent gain per evaluation (the mean over the
last :data:`GAIN_WINDOW` evaluations) for every evaluation it has left. Learning
curves under a cosine learning-rate decay flatten as they go, so a recent gain
kept up to the end overstates what is to come. A candidate that could only tie
the leader stops too: between two critics within :data:`RACE_TIE` of each other on
the validation rows, the choice is noise.

Each candidate keeps its own random generator for its minibatches, so a
candidate that runs to the end trains exactly as it would alone.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from infomax.fit import Training

__all__ = ["GAIN_WINDOW", "RACE_TIE", "can_still_win", "race"]

#: Nats a candidate must be able to finish above the leader to keep training.
RACE_TIE = 0.01
#: Evaluations over which a candidate's recent gain is averaged.
GAIN_WINDOW = 2


def can_still_win(training: Training, leader_best: float, tie: float = RACE_TIE) -> bool:
    """Whether ``training`` could finish more than ``tie`` nats above ``leader_best``.

    The projection is the best validation value so far plus the mean gain of
    the best value over the last :data:`GAIN_WINDOW` evaluations, kept up for
    every evaluation left (:attr:`Training.remaining_evaluations`). A candidate
    with fewer than :data:`GAIN_WINDOW` evaluations since its start is kept; a
    non-finite evaluation (a diverged critic) counts as no progress.
    """
    bests: list[float] = []
    for _, value in training.curve:
        value = value if math.isfinite(value) else -math.inf  # a diverged evaluation gains nothing
        bests.append(max(value, bests[-1]) if bests else value)
    if len(bests) <= GAIN_WINDOW:
        return True
    gain = max(0.0, (bests[-1] - bests[-1 - GAIN_WINDOW]) / GAIN_WINDOW)
    return bests[-1] + gain * training.remaining_evaluations > leader_best + tie


def race(trainings: Mapping[str, Training], tie: float = RACE_TIE) -> str:
    """Advance every candidate in turn until each has stopped; the best one's name.

    Args:
        trainings: the candidates by name, each freshly built.
        tie: :data:`RACE_TIE`.

    Returns:
        The name of the candidate with the best validation value (the first
        one on a tie). Every candidate is left stopped, holding its best
        checkpoint; what each ran is in its :attr:`Training.curve`.
    """
    if not trainings:
        raise ValueError("race needs at least one candidate")
    names = list(trainings)
    while True:
        running = [name for name in names if not trainings[name].done]
        if not running:
            break
        for name in running:
            trainings[name].advance()
        leader = max(names, key=lambda name: trainings[name].best_value)
        leader_best = trainings[leader].best_value
        for name in names:
            behind = trainings[name]
            if name != leader and not behind.done and not can_still_win(behind, leader_best, tie):
                behind.stop()
    return max(names, key=lambda name: trainings[name].best_value)
