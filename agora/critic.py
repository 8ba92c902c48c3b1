"""A jury as the critic of a message-based reflection loop, such as langgraph-reflection's::

    from langgraph.graph import MessagesState
    from langgraph_reflection import create_reflection_graph

    loop = create_reflection_graph(generator, reflection(jury), state_schema=MessagesState).compile()
    final = await loop.ainvoke({"messages": [("user", task)]}, {"recursion_limit": recursion_limit(3)})

The loop's convention: a critic that adds no message accepts the last AI message; one that adds a human message
rejects it, and the message goes back to the generator. (langgraph-reflection 0.0.1 reads ``graph.builder.schema``,
which LangGraph 1.x no longer has: pass ``state_schema``.)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal

from agora.errors import ConfigError

if TYPE_CHECKING:
    from langchain_core.messages import BaseMessage
    from langgraph.graph.state import CompiledStateGraph

    from agora.protocols.jury import Critique, Jury

JURY_RECURSION_LIMIT = 25
"""The jury's own graph (frame, jurors, aggregate, checks, conclude) runs under this limit, not the caller's."""


def reflection(
    jury: Jury, *, on_inconclusive: Literal["accept", "reject"] = "accept", name: str = "jury"
) -> CompiledStateGraph:
    """The jury as a critic graph over ``MessagesState``: accept adds nothing, reject adds a human message.

    The output judged is the text of the last AI message; the task is the latest human message before it that is
    not this critic's own feedback (feedback messages carry ``name``), so in a multi-turn chat the jury judges the
    answer against the question it answers, and in a reflection loop against the original task, not the feedback.
    A rejection's message lists the reasons of the jurors who rejected. An inconclusive jury (a tie, a failed
    quorum or margin) accepts by default: it found no majority against the output, and a rejection without a
    majority's reasons gives the generator nothing to fix; ``on_inconclusive="reject"`` makes the critic strict,
    its feedback every voter's reasons. The critic is one node, and the jury's graph in it runs under a recursion
    limit of its own, so the caller's ``recursion_limit`` counts the loop's rounds only (see ``recursion_limit``).

    Raises:
        ConfigError: (when run) the messages hold no AI message, or no human message before it.
    """
    from langchain_core.messages import HumanMessage
    from langchain_core.runnables import RunnableConfig
    from langgraph.graph import END, START, MessagesState, StateGraph

    if on_inconclusive not in ("accept", "reject"):
        raise ConfigError(f"reflection: on_inconclusive must be 'accept' or 'reject', got {on_inconclusive!r}")
    critic = jury.critic()

    async def judge(state: MessagesState, config: RunnableConfig) -> dict[str, Any]:
        task, output = turn(state["messages"], name)
        inner: RunnableConfig = {**config, "recursion_limit": JURY_RECURSION_LIMIT}
        critique: Critique = (await critic.ainvoke({"task": task, "output": output}, inner))["critique"]
        if critique.accepted or (critique.outcome == "inconclusive" and on_inconclusive == "accept"):
            return {}
        return {"messages": [HumanMessage(feedback(critique), name=name)]}

    builder = StateGraph(MessagesState)
    builder.add_node("judge", judge)
    builder.add_edge(START, "judge")
    builder.add_edge("judge", END)
    return builder.compile(name=f"{name}_reflection")


def turn(messages: Sequence[BaseMessage], name: str = "jury") -> tuple[str, str]:
    """The task and the output to judge: the text of the last AI message, and of the latest human message before
    it that is not feedback named ``name``."""
    from langchain_core.messages import AIMessage, HumanMessage

    last = next((i for i in reversed(range(len(messages))) if isinstance(messages[i], AIMessage)), None)
    if last is None:
        raise ConfigError("reflection: messages: no AI message to judge")
    asked = (m for m in reversed(messages[:last]) if isinstance(m, HumanMessage) and m.name != name)
    task = next(asked, None)
    if task is None:
        raise ConfigError("reflection: messages: no human message (the task) before the AI message")
    return str(task.text), str(messages[last].text)


def feedback(critique: Critique) -> str:
    """The human message that sends a rejection back to the generator: the verdict and the jurors' reasons."""
    heading = (
        "Reviewers rejected your answer."
        if critique.outcome == "reject"
        else "Reviewers could not agree that your answer is right."
    )
    reasons = "\n".join(f"- {reason}" for reason in critique.reasons or critique.dissent) or "- (no reasons given)"
    return f"{heading} Their reasons:\n{reasons}\n\nRevise your answer to address them."


def recursion_limit(max_rounds: int) -> int:
    """The ``recursion_limit`` under which langgraph-reflection's loop generates at most ``max_rounds`` times.

    A round is two steps (generator, critic); with one more, the loop ends cleanly (it stops when fewer than two
    steps remain) instead of raising ``GraphRecursionError``: after a last rejected round the final message is the
    jury's feedback, and the last AI message the latest answer. The generator's own graph runs under the same
    limit, so a generator of more than ``2 * max_rounds`` steps (a tool-calling agent) needs a higher one.

    Raises:
        ConfigError: ``max_rounds`` below 1.
    """
    if max_rounds < 1:
        raise ConfigError(f"reflection: max_rounds must be at least 1, got {max_rounds}")
    return 2 * max_rounds + 1
