"""Ratings of players (debaters, models) from pairwise matches: Elo, and Bradley-Terry fitted by choix, each with
a bootstrap interval over the matches."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from agora.metrics.bootstrap import LEVEL
from agora.metrics.types import Estimate, Rating

Match = tuple[str, str]
"""(winner, loser)."""

BASE = 1500.0
K = 32.0
RESAMPLES = 500
ALPHA = 0.01
"""choix's regularisation: keeps a player who never lost at a finite strength."""


def elo(matches: Sequence[Match], players: Sequence[str], *, k: float = K) -> np.ndarray:
    """Elo ratings after playing ``matches`` in order, everyone starting at 1500."""
    index = {p: i for i, p in enumerate(players)}
    ratings = np.full(len(players), BASE)
    for winner, loser in matches:
        w, lose = index[winner], index[loser]
        expected = 1.0 / (1.0 + 10 ** ((ratings[lose] - ratings[w]) / 400.0))
        ratings[w] += k * (1.0 - expected)
        ratings[lose] -= k * (1.0 - expected)
    return ratings


def bradley_terry(matches: Sequence[Match], players: Sequence[str]) -> np.ndarray:
    """Bradley-Terry log-strengths (mean zero) by choix's iterative Luce spectral ranking."""
    import choix

    index = {p: i for i, p in enumerate(players)}
    data = [(index[w], index[lose]) for w, lose in matches]
    return np.asarray(choix.ilsr_pairwise(len(players), data, alpha=ALPHA))


def ratings(matches: Sequence[Match], *, seed: int = 0, resamples: int = RESAMPLES) -> tuple[Rating, ...]:
    """Every player's Elo and Bradley-Terry strength, best first by Bradley-Terry, with percentile intervals from
    ``resamples`` bootstrap resamples of the matches.

    Elo depends on the order of play, and the last matches weigh most; so, as in the bootstrap Elo of Chatbot Arena,
    the Elo given is the median over the resamples, each played in its own random order, not the rating after the
    matches in the order they happened to finish. Bradley-Terry is the fit to all matches.
    """
    players = sorted({p for match in matches for p in match})
    if len(players) < 2:
        return ()
    bt_value = bradley_terry(matches, players)
    rng = np.random.default_rng(seed)
    elos, bts = [], []
    for _ in range(resamples):
        sample = [matches[i] for i in rng.integers(0, len(matches), len(matches))]
        elos.append(elo(sample, players))
        bts.append(bradley_terry(sample, players))
    tails = [100 * (1 - LEVEL) / 2, 100 * (1 + LEVEL) / 2]
    elo_low, elo_value, elo_high = np.percentile(elos, [tails[0], 50, tails[1]], axis=0)
    bt_low, bt_high = np.percentile(bts, tails, axis=0)
    played = {p: sum(p in match for match in matches) for p in players}
    found = [
        Rating(
            player,
            Estimate(float(elo_value[i]), float(elo_low[i]), float(elo_high[i]), played[player]),
            Estimate(float(bt_value[i]), float(bt_low[i]), float(bt_high[i]), played[player]),
            played[player],
        )
        for i, player in enumerate(players)
    ]
    return tuple(sorted(found, key=lambda r: -(r.bradley_terry.value or 0.0)))
