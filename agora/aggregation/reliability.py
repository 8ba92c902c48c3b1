"""Juror reliability by Dawid–Skene: each juror's confusion matrix and each item's posterior, learned by EM over
a run's items with crowd-kit's ``DawidSkene``.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt

from agora.errors import ConfigError
from agora.types import Verdict

Array = npt.NDArray[np.float64]

# crowd-kit floors probabilities at this before taking logs; the posterior of a new item does the same.
FLOOR = 1e-10

MISSING = "Dawid-Skene needs crowd-kit: pip install 'agora[stats]'"
"""What to do when crowd-kit is not installed."""


@dataclass(frozen=True, eq=False)
class Reliability:
    """A fitted Dawid–Skene model over ``n_answers`` answers.

    Attributes:
        confusion: per juror, ``confusion[juror][true, stated]`` is the probability that the juror states answer
            ``stated`` when answer ``true`` is right; each row sums to 1 (a row of an answer nobody chose is 0).
        prior: the probability that each answer is the right one, over the run.
        posteriors: one row per fitted item: the probability that each answer is right, given the item's votes
            (the prior for an item nobody voted on).
    """

    confusion: dict[str, Array]
    prior: Array
    posteriors: Array

    @property
    def n_answers(self) -> int:
        """The number of answers the model was fitted on."""
        return len(self.prior)

    def accuracy(self) -> dict[str, float]:
        """Each juror's probability of stating the right answer: the prior-weighted diagonal of its confusion."""
        return {juror: float(self.prior @ np.diag(matrix)) for juror, matrix in self.confusion.items()}

    def posterior(self, verdicts: Sequence[Verdict]) -> Array:
        """The probability that each answer is right for one item, given its ``verdicts``.

        The E-step of the fitted model: the prior times each known juror's probability of its vote. Abstentions and
        jurors the model was not fitted on carry no information.
        """
        log = np.log(np.maximum(self.prior, FLOOR))
        for juror, choice in _cast(verdicts, self.n_answers):
            if juror in self.confusion:
                log += np.log(np.maximum(self.confusion[juror][:, choice], FLOOR))
        likelihood = np.exp(log - log.max())
        return likelihood / likelihood.sum()


def fit_dawid_skene(votes: Sequence[Sequence[Verdict]], n_answers: int) -> Reliability:
    """Learn juror reliabilities by EM from ``votes``: one sequence of verdicts per item, jurors named by ``judge``.

    Raises:
        ConfigError: no vote at all, or a choice outside the ``n_answers`` answers.
    """
    # Imported here: crowd-kit brings pandas and scikit-learn, over a second to import, and is an extra.
    try:
        import pandas as pd
        from crowdkit.aggregation import DawidSkene
    except ImportError:
        raise ConfigError(MISSING) from None

    rows = [(item, *vote) for item, verdicts in enumerate(votes) for vote in _cast(verdicts, n_answers)]
    if not rows:
        raise ConfigError("dawid-skene: no votes to fit")
    with warnings.catch_warnings():  # crowd-kit 1.4 uses pandas keywords that pandas 3 deprecates
        warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"crowdkit\.")
        fitted = DawidSkene().fit(pd.DataFrame(rows, columns=["task", "worker", "label"]))
    errors, priors = fitted.errors_, fitted.priors_
    assert errors is not None and priors is not None, "crowd-kit sets both when it fits"
    answers = range(n_answers)
    confusion = {
        juror: errors.loc[juror].reindex(index=answers, columns=answers, fill_value=0.0).to_numpy().T
        for juror in errors.index.unique(level="worker")
    }
    model = Reliability(confusion, priors.reindex(answers, fill_value=0.0).to_numpy(), np.empty((0, n_answers)))
    # From the final parameters (crowd-kit's ``probas_`` precede its last M-step): the rule agrees on fitted items.
    return replace(model, posteriors=np.array([model.posterior(verdicts) for verdicts in votes]))


def installed() -> bool:
    """Whether crowd-kit can be imported; only its top package is tried, which takes a millisecond."""
    try:
        import crowdkit  # noqa: F401
    except ImportError:
        return False
    return True


def _cast(verdicts: Sequence[Verdict], n_answers: int) -> list[tuple[str, int]]:
    """``(juror, choice)`` for each verdict that votes; a choice outside the answers is a ``ConfigError``."""
    cast = [(v.judge, v.choice) for v in verdicts if v.choice is not None and not v.abstained]
    for juror, choice in cast:
        if choice >= n_answers:
            raise ConfigError(f"dawid-skene: {juror} chose answer {choice}, outside the {n_answers} answers")
    return cast
