"""A jury: K jurors judge the same view in parallel (fan-out in the graph), then an aggregation node decides.

A jury takes the judge's seat in any protocol, and doubles as a critic for a user's own workflow.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal, Protocol, runtime_checkable

from langgraph.constants import END, START
from pydantic import BaseModel

from agora.agents.juror import Juror
from agora.aggregation.checks import Hearing, live_check, run_live
from agora.aggregation.thresholds import Thresholds, decide, sit, stand_in
from agora.aggregation.voting import Rule, seat_rule
from agora.errors import ConfigError
from agora.protocols.nodes import aggregate_node, judge_node
from agora.state import DebateState, Decider, View, seat_builder, view
from agora.types import Decision, Verdict

if TYPE_CHECKING:
    from langchain_core.runnables import Runnable
    from langgraph.graph import StateGraph
    from langgraph.graph.state import CompiledStateGraph
    from langgraph.types import Checkpointer

ACCEPT = "Accept: the output correctly and fully completes the task."
REJECT = "Reject: the output is wrong, incomplete or does not follow the task."


@runtime_checkable
class Asker(Decider, Protocol):
    """A juror that can also ask a consultant a question (a model juror; a human cannot)."""

    async def ask(self, seen: View) -> str: ...


class Panel:
    """A jury seen as one judge, so that checks which re-ask the judge (position, critique) re-ask the jury."""

    def __init__(self, jury: Jury) -> None:
        self.jury = jury
        self.name = "jury"

    async def decide(self, seen: View) -> Verdict:
        """The jury's decision as a verdict: the outcome, or an abstention when inconclusive."""
        decision = await self.jury.rule_on(seen)
        choice = decision.outcome if isinstance(decision.outcome, int) else None
        reasons = "; ".join(decision.dissent) or "jury decision"
        return Verdict(
            choice=choice,
            confidence=decision.confidence or 0,
            reasoning=reasons,
            abstained=choice is None,
            judge=self.name,
            model="jury",
        )


class Critique(BaseModel):
    """A jury's verdict on a candidate output."""

    outcome: Literal["accept", "reject", "inconclusive"]
    accepted: bool
    confidence: float | None
    abstained: bool
    reasons: list[str]
    dissent: list[str]
    decision: Decision


class CriticState(DebateState, total=False):
    """State of the critic graph: the task and candidate output in, the critique out."""

    task: str
    output: str
    critique: Critique


class Jury:
    """K jurors, a voting rule and a threshold policy.

    A juror is a ``Juror``, any other decider (a ``Judge``, a ``HumanJudge``: the graph then pauses for the human),
    or a model spec, which becomes ``juror_1``, ``juror_2``...; names must be unique. ``rule`` is a registered name,
    with ``params`` bound (a rule that takes ``weights`` gets the jurors' ``weight``, 1 by default, unless ``params``
    gives them), or a bound rule (``get_rule("weighted", weights=...)``). A failed juror abstains, or with
    ``Thresholds(on_failure="replace")`` its seat, and its weight, go to the next of ``spares``.
    """

    def __init__(
        self,
        jurors: Sequence[Decider | str],
        rule: str | Rule = "majority",
        *,
        params: Mapping[str, Any] | None = None,
        policy: Thresholds = Thresholds(),
        spares: Sequence[Decider] = (),
        checks: Sequence[str] = (),
        sees_evidence: bool = False,
    ) -> None:
        self.jurors = [Juror(j, name=f"juror_{i + 1}") if isinstance(j, str) else j for i, j in enumerate(jurors)]
        names = [j.name for j in [*self.jurors, *spares]]
        if len(self.jurors) < 1:
            raise ConfigError("a jury needs at least one juror")
        if len(set(names)) != len(names):
            raise ConfigError(f"jury: juror and spare names must be unique, got {names}")
        if params and not isinstance(rule, str):
            raise ConfigError("jury: params apply to a rule given by name, not to a bound rule")
        self.spares = list(spares)
        self.vote = seat_rule(rule, params or {}, self.weights()) if isinstance(rule, str) else rule
        self.policy = policy
        for name in checks:
            live_check(name)  # an unknown or probe-only check fails here, not mid-run
        self.checks = list(checks)
        self.sees_evidence = sees_evidence

    def graph(self, checkpointer: Checkpointer = None, *, sees_evidence: bool | None = None) -> CompiledStateGraph:
        """START → every juror in parallel → aggregate → END: a ``Case`` in, a ``Ruling`` out.

        ``sees_evidence`` overrides the jury's own setting: a protocol decides what its judging seat reads.
        """
        builder = seat_builder()
        self._add(builder, START, END, self.sees_evidence if sees_evidence is None else sees_evidence)
        return builder.compile(checkpointer=checkpointer, name="jury")

    def _add(self, builder: StateGraph, entry: str, exit_: str, sees_evidence: bool) -> None:
        names = [j.name for j in self.jurors]
        for juror in self.jurors:
            builder.add_node(juror.name, judge_node(juror, sees_evidence=sees_evidence, jury=self.policy))
            builder.add_edge(entry, juror.name)
        aggregate = aggregate_node(self.vote, names, self.policy, self.spares, sees_evidence=sees_evidence)
        builder.add_node("aggregate", aggregate)
        builder.add_edge(names, "aggregate")
        if not self.checks:
            builder.add_edge("aggregate", exit_)
            return

        async def check(state: DebateState) -> dict[str, Any]:
            hearing = Hearing(Panel(self), view(state, evidence=sees_evidence), state.get("evidence"))
            return {"decision": await run_live(self.checks, hearing, state["decision"])}

        builder.add_node("checks", check)
        builder.add_edge("aggregate", "checks")
        builder.add_edge("checks", exit_)

    def weights(self) -> dict[str, float]:
        """Each seat's vote weight under the name its verdict carries; a spare in a seat weighs what the seat does."""
        seats = {j.name: getattr(j, "weight", 1.0) for j in self.jurors}
        return seats | {stand_in(spare.name, name): weight for spare in self.spares for name, weight in seats.items()}

    @property
    def foreperson(self) -> Decider:
        """Who speaks for the jury: the first juror that can ask questions (a human cannot), else the first."""
        return next((j for j in self.jurors if isinstance(j, Asker)), self.jurors[0])

    @property
    def name(self) -> str:
        """The foreperson's name."""
        return self.foreperson.name

    async def ask(self, seen: View) -> str:
        """A question for a consultant (consultancy protocols), asked by the foreperson."""
        asker = self.foreperson
        if not isinstance(asker, Asker):
            raise ConfigError("jury: no juror can ask the consultant questions; set judge_questions=False")
        return await asker.ask(seen)

    async def rule_on(self, seen: View) -> Decision:
        """The jury's decision on ``seen`` outside a graph: every juror, the policy and the rule (no checks)."""
        verdicts = await sit(self.jurors, self.spares, seen, self.policy)
        return decide(verdicts, len(seen.answers), self.vote, self.policy)

    def critic(self, checkpointer: Checkpointer = None) -> CompiledStateGraph:
        """The jury as a critic subgraph: ``{"task", "output"}`` in, ``{"critique": Critique}`` out."""
        from langgraph.graph import StateGraph

        builder = StateGraph(CriticState)

        async def frame(state: CriticState) -> dict[str, Any]:
            question = f"Task:\n{state['task']}\n\nCandidate output:\n{state['output']}\n\nShould it be accepted?"
            return {"question": question, "answers": [ACCEPT, REJECT]}

        async def conclude(state: CriticState) -> dict[str, Any]:
            decision: Decision = state["decision"]
            latest = {v.judge: v for v in state.get("verdicts", [])}
            reasons = [f"{v.judge}: {v.reasoning}" for v in latest.values() if v.choice == decision.outcome]
            outcome = {0: "accept", 1: "reject"}.get(decision.outcome, "inconclusive")  # type: ignore[arg-type]
            critique = Critique(
                outcome=outcome,  # type: ignore[arg-type]
                accepted=outcome == "accept",
                confidence=decision.confidence,
                abstained=outcome == "inconclusive",
                reasons=reasons,
                dissent=decision.dissent,
                decision=decision,
            )
            return {"critique": critique}

        builder.add_node("frame", frame)
        builder.add_edge(START, "frame")
        self._add(builder, "frame", "conclude", self.sees_evidence)
        builder.add_node("conclude", conclude)
        builder.add_edge("conclude", END)
        return builder.compile(checkpointer=checkpointer, name="jury_critic")

    def runnable(self) -> Runnable[dict[str, str], Critique]:
        """The critic as a LangChain Runnable: ``{"task": ..., "output": ...}`` → ``Critique``."""
        from langchain_core.runnables import RunnableLambda

        return self.critic() | RunnableLambda(lambda state: state["critique"])
