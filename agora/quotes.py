"""Check the passages agents quote from the evidence, and mark them for the judge.

Debaters and consultants quote the evidence, which the judge cannot see, inside ``<quote>…</quote>``.
Each quote is checked against the evidence and rewritten as ``<v_quote>…</v_quote>`` when it was found
there and ``<u_quote>…</u_quote>`` when it was not (Khan et al. 2024, "Debating with more persuasive
LLMs leads to more truthful answers"). Any ``<v_quote>``/``<u_quote>`` tag an agent wrote itself is
escaped, so only the verifier can produce those marks.

The check is tolerant: both sides are normalised (NFKC, curly quotes and dashes, case, punctuation,
whitespace), a quote is split on ellipses into fragments that must each be found in the evidence, and
each fragment is scored by fuzzy partial matching (rapidfuzz) against a threshold rather than matched
exactly. Fragments found verbatim must also appear in order.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

from rapidfuzz import fuzz

from agora.types import Quote

QUOTE_TAG = re.compile(r"<\s*quote\s*>(.*?)<\s*/\s*quote\s*>", re.DOTALL | re.IGNORECASE)

# An agent's own verifier mark, opening or closing, with or without its ``>``: ``<v_quote>``, ``</U-Quote >``.
_FORGED_TAG = re.compile(r"<(\s*/?\s*[uv][\s_-]*quote\b[^<>]*)(>?)", re.IGNORECASE)
# An ellipsis after NFKC (which turns "…" into "..."): "...", ". . .", "[...]", "(…)".
_ELLIPSIS = re.compile(r"[\[(]?\s*(?:\.\s*){3,}[\])]?")
_APOSTROPHES = re.compile(r"['`´]")
_NON_WORD = re.compile(r"[\W_]+")
_TRANSLATE = str.maketrans(
    {
        **dict.fromkeys("‘’‚‛′‹›", "'"),
        **dict.fromkeys("“”„‟″«»", '"'),
        **dict.fromkeys("‐‑‒–—―−", "-"),
    }
)


@dataclass(frozen=True)
class QuotePolicy:
    """How strictly a quote must match the evidence.

    Attributes:
        threshold: the lowest fragment score (0..1) at which a quote counts as verified.
        min_fragment_chars: ellipsis fragments shorter than this after normalisation are ignored,
            unless no fragment of the quote is this long.
    """

    threshold: float = 0.9
    min_fragment_chars: int = 8


def normalise(text: str) -> str:
    """``text`` reduced for comparison: NFKC, casefolded, apostrophes dropped, other punctuation as spaces.

    Curly quotes and apostrophes count as straight ones and every dash as ``-``; runs of punctuation
    and whitespace collapse to one space, so ``"Don’t — STOP!"`` becomes ``"dont stop"``.
    """
    text = unicodedata.normalize("NFKC", text).translate(_TRANSLATE).casefold()
    text = _APOSTROPHES.sub("", text)
    return _NON_WORD.sub(" ", text).strip()


def _fragments(quote: str, policy: QuotePolicy) -> list[str]:
    """The normalised ellipsis-separated fragments of ``quote`` that are to be checked, in order."""
    parts = [normalise(p) for p in _ELLIPSIS.split(unicodedata.normalize("NFKC", quote))]
    parts = [p for p in parts if p]
    long = [p for p in parts if len(p) >= policy.min_fragment_chars]
    return long or parts


def _fragment_score(fragment: str, evidence: str) -> float:
    """How well ``fragment`` matches its best span of ``evidence``, 0..1 (both already normalised)."""
    if not evidence:
        return 0.0
    if len(fragment) > len(evidence):
        # partial_ratio would look for the evidence inside the fragment; compare them whole instead.
        return fuzz.ratio(fragment, evidence) / 100
    return fuzz.partial_ratio(fragment, evidence) / 100


def _verify(quote: str, evidence: str, policy: QuotePolicy) -> Quote:
    """``verify_quote`` with the evidence already normalised."""
    fragments = _fragments(quote, policy)
    if not fragments or not evidence:
        return Quote(text=quote, verified=False, score=0.0)
    scores = []
    cursor = 0  # fragments found verbatim must follow one another; fuzzy ones are searched after the last one
    for fragment in fragments:
        found = evidence.find(fragment, cursor)
        if found >= 0:
            scores.append(1.0)
            cursor = found + len(fragment)
        else:
            scores.append(_fragment_score(fragment, evidence[cursor:]))
    score = min(1.0, max(0.0, min(scores)))
    return Quote(text=quote, verified=score >= policy.threshold, score=score)


def verify_quote(quote: str, evidence: str | None, policy: QuotePolicy = QuotePolicy()) -> Quote:
    """Check one quote against the evidence.

    The score is that of the worst-matching fragment; the quote is verified when it reaches
    ``policy.threshold``. An empty quote, or missing or empty evidence, is unverified with score 0.
    """
    return _verify(quote, normalise(evidence or ""), policy)


def extract_quotes(text: str, evidence: str | None, policy: QuotePolicy = QuotePolicy()) -> tuple[Quote, ...]:
    """Every ``<quote>…</quote>`` in ``text``, in order, checked against the evidence."""
    normalised = normalise(evidence or "")
    return tuple(_verify(m.group(1), normalised, policy) for m in QUOTE_TAG.finditer(text))


def _neutralise(text: str) -> str:
    """``text`` with every ``<v_quote>``/``<u_quote>``-like tag escaped to plain text (``&lt;v_quote&gt;``)."""
    return _FORGED_TAG.sub(lambda m: f"&lt;{m.group(1)}{'&gt;' if m.group(2) else ''}", text)


def mark_quotes(text: str, quotes: Sequence[Quote]) -> str:
    """``text`` as the judge sees it: the i-th ``<quote>`` tag becomes ``<v_quote>`` or ``<u_quote>`` per ``quotes[i]``.

    Verifier marks the agent wrote itself are escaped, inside quotes and out.

    Raises:
        ValueError: ``quotes`` does not hold one entry per ``<quote>`` tag, with the tag's text.
    """
    matches = list(QUOTE_TAG.finditer(text))
    if len(matches) != len(quotes):
        raise ValueError(f"text has {len(matches)} <quote> tags but {len(quotes)} quotes were given")
    parts = []
    end = 0
    for i, (match, quote) in enumerate(zip(matches, quotes, strict=True)):
        if quote.text != match.group(1):
            raise ValueError(f"quote {i} does not match the text of <quote> tag {i}")
        tag = "v_quote" if quote.verified else "u_quote"
        parts.append(_neutralise(text[end : match.start()]))
        parts.append(f"<{tag}>{_neutralise(match.group(1))}</{tag}>")
        end = match.end()
    parts.append(_neutralise(text[end:]))
    return "".join(parts)
