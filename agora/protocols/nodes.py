"""Node factories shared by the protocols and the YAML graphs: speakers, judges, the judge's questions, side
assignment, the round loop, the join of a simultaneous round and a jury's aggregation.
"""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any

from agora.agents.debater import Debater
from agora.aggregation.thresholds import Thresholds, decide, fill
from agora.aggregation.voting import Rule
from agora.errors import ConfigError
from agora.quotes import extract_quotes
from agora.state import DebateState, Decider, view
from agora.types import Turn, Verdict

if TYPE_CHECKING:
    from langgraph.graph import StateGraph

# An async function DebateState -> state update. Typed Any: LangGraph's add_node overloads reject a precise Callable.
Node = Any
# Decides which answer each speaker argues.
Assign = Callable[[DebateState], Awaitable[dict[str, int]]]


def speaker_node(agent: Debater, *, sees_evidence: bool = True, simultaneous: bool = False) -> Node:
    """A debater or consultant turn; quotes are verified against the evidence, whatever the agent saw.

    With ``simultaneous``, the agent sees only the turns of earlier rounds.
    """

    async def speak(state: DebateState) -> dict[str, Any]:
        turns = state.get("transcript", [])
        round_ = 1 + sum(1 for t in turns if t.speaker == agent.name)
        visible = [t for t in turns if t.round < round_] if simultaneous else turns
        side = state["sides"][agent.name]
        text = await agent.argue(view(state, evidence=sees_evidence, transcript=visible), side, round_)
        turn = Turn(
            speaker=agent.name,
            role=agent.role,  # type: ignore[arg-type]
            round=round_,
            text=text,
            side=side,
            quotes=extract_quotes(text, state.get("evidence")),
        )
        return {"transcript": [turn]}

    return speak


def judge_node(judge: Decider, *, sees_evidence: bool = False, jury: Thresholds | None = None) -> Node:
    """The judge reads its view and adds a verdict.

    Seated in a jury (``jury`` is its policy), a juror that fails abstains with the error recorded, so that the
    aggregation node can apply the policy (count it as abstaining, or ask a spare).
    """

    async def decide(state: DebateState) -> dict[str, Any]:
        seen = view(state, evidence=sees_evidence)
        if jury is None:
            return {"verdicts": [await judge.decide(seen)]}
        return {"verdicts": [await fill(judge, iter(()), seen)]}

    return decide


def question_node(judge: Any, consultant: str) -> Node:
    """The judge asks the consultant a question (consultancy); it joins the transcript in the same round."""

    async def ask(state: DebateState) -> dict[str, Any]:
        round_ = sum(1 for t in state.get("transcript", []) if t.speaker == consultant)
        text = await judge.ask(view(state, evidence=False))
        return {"transcript": [Turn(speaker=judge.name, role="judge", round=round_, text=text)]}

    return ask


def sides_node(assign: Assign) -> Node:
    """Assigns each speaker the answer it argues."""

    async def setup(state: DebateState) -> dict[str, Any]:
        return {"sides": await assign(state)}

    return setup


def fixed_sides(speakers: Sequence[str], sides: Sequence[int] | None = None) -> Assign:
    """Speaker ``i`` argues answer ``sides[i]`` (by default, answer ``i``)."""
    given = list(range(len(speakers)) if sides is None else sides)
    if len(given) != len(speakers) or len(set(given)) != len(given) or min(given, default=0) < 0:
        raise ConfigError(f"sides {given} do not give each of {len(speakers)} speaker(s) a distinct answer")

    async def assign(state: DebateState) -> dict[str, int]:
        n = _answer_count(state, speakers)
        if max(given) >= n:
            raise ConfigError(f"sides {given}: the item has only {n} answers")
        return dict(zip(speakers, given, strict=True))

    return assign


def seeded_sides(speakers: Sequence[str], seed: int) -> Assign:
    """Distinct answers drawn at random, reproducibly per question and seed."""

    async def assign(state: DebateState) -> dict[str, int]:
        n = _answer_count(state, speakers)
        drawn = random.Random(f"{seed}\x1f{state['question']}").sample(range(n), len(speakers))
        return dict(zip(speakers, drawn, strict=True))

    return assign


def open_sides(speakers: Sequence[Debater]) -> Assign:
    """The first speaker chooses its answer, seeing the evidence; the others take the remaining answers in order."""

    async def assign(state: DebateState) -> dict[str, int]:
        names = [s.name for s in speakers]
        n = _answer_count(state, names)
        first = await speakers[0].choose(view(state, evidence=True))
        rest = [i for i in range(n) if i != first]
        return {names[0]: first, **dict(zip(names[1:], rest, strict=False))}

    return assign


def _answer_count(state: DebateState, speakers: Sequence[str]) -> int:
    """The number of answers; two or more speakers need exactly one answer each."""
    n = len(state["answers"])
    if len(speakers) > 1 and n != len(speakers):
        raise ConfigError(f"debate: {len(speakers)} debaters need {len(speakers)} answers, got {n}")
    return n


def rounds_done(state: DebateState, speakers: Sequence[str]) -> int:
    """Rounds every one of ``speakers`` has finished."""
    turns = state.get("transcript", [])
    return min(sum(1 for t in turns if t.speaker == s) for s in speakers)


def add_loop(
    builder: StateGraph, source: str, speakers: Sequence[str], rounds: int, back: str | Sequence[str], exit_: str
) -> None:
    """A conditional edge from ``source``: to ``back`` (one node, or several in parallel) until every one of
    ``speakers`` has taken ``rounds`` turns, then to ``exit_``.
    """
    targets = [back] if isinstance(back, str) else list(back)

    def route(state: DebateState) -> list[str]:
        return targets if rounds_done(state, speakers) < rounds else [exit_]

    builder.add_conditional_edges(source, route, [*targets, exit_])


async def join(state: DebateState) -> dict[str, Any]:
    """Waits for every branch of a parallel step, such as the debaters of a simultaneous round."""
    return {}


def aggregate_node(
    vote: Rule,
    jurors: Sequence[str],
    policy: Thresholds = Thresholds(),
    spares: Sequence[Decider] = (),
    *,
    sees_evidence: bool = False,
) -> Node:
    """A jury's decision by ``vote`` under ``policy`` over the latest verdict of each of ``jurors`` (this sitting's).

    With ``policy.on_failure == "replace"``, each failed juror's seat goes to the next unused spare first; the spares'
    verdicts join the state.
    """
    names = set(jurors)

    async def aggregate(state: DebateState) -> dict[str, Any]:
        latest = {v.judge: v for v in state.get("verdicts", []) if v.judge in names}
        verdicts = list(latest.values())
        replaced: list[Verdict] = []
        if policy.on_failure == "replace":
            pool = iter(spares)
            seen = view(state, evidence=sees_evidence)
            for i, verdict in enumerate(verdicts):
                spare = next(pool, None) if verdict.error else None
                if spare is not None:
                    taken = await fill(spare, pool, seen)
                    verdicts[i] = taken.model_copy(update={"judge": f"{taken.judge} for {verdict.judge}"})
                    replaced.append(verdicts[i])
        decision = decide(verdicts, len(state["answers"]), vote, policy)
        return {"decision": decision, "verdicts": replaced}

    return aggregate
