"""A jury as the critic of langgraph-reflection's loop: generate → jury → revise, until the jury accepts.

    pip install langgraph-reflection
    .venv/bin/python examples/reflection.py --model local --task "Write a haiku about the sea." --max-rounds 3

The generator is a one-node graph over ``MessagesState`` that calls the model; ``agora.critic.reflection(jury)``
is the critic, as it is: it judges the latest answer, and a rejection comes back to the generator as a human
message with the jurors' reasons. ``--max-rounds`` bounds the loop through ``recursion_limit``: when the jury still
rejects after that many answers, the loop stops cleanly and the last answer is printed as it stands.
"""

from __future__ import annotations

import argparse
import asyncio
from typing import Any, Literal

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage
from langgraph.graph import START, MessagesState, StateGraph
from langgraph.graph.state import CompiledStateGraph
from langgraph_reflection import create_reflection_graph

from agora import Settings, resolve_model
from agora.agents.juror import Juror
from agora.backends import Backend
from agora.critic import recursion_limit, reflection
from agora.protocols import Jury
from agora.types import Message, Role, system

ROLES: dict[str, Role] = {"human": "user", "ai": "assistant", "system": "system"}


def generator(model: Backend) -> CompiledStateGraph:
    """START → generate: the model answers the conversation so far (the task, earlier answers, the jury's feedback)."""

    async def generate(state: MessagesState) -> dict[str, Any]:
        history = [Message(role=ROLES[m.type], content=str(m.text)) for m in state["messages"] if m.type in ROLES]
        prompt = [system("Complete the task. Reply with the output only."), *history]
        reply = await model.complete(prompt, Settings(max_tokens=300))
        return {"messages": [AIMessage(reply.text.strip())]}

    builder = StateGraph(MessagesState)
    builder.add_node("generate", generate)
    builder.add_edge(START, "generate")
    return builder.compile(name="generator")


def build(model: Backend, jury: Jury, on_inconclusive: Literal["accept", "reject"] = "accept") -> CompiledStateGraph:
    """The reflection loop: the generator, then the jury's critic, again while the critic adds a human message."""
    critic = reflection(jury, on_inconclusive=on_inconclusive)
    return create_reflection_graph(generator(model), critic, state_schema=MessagesState).compile()


def outcome(messages: list[BaseMessage]) -> tuple[str, int, bool]:
    """The final answer, how many answers the loop generated, and whether the jury accepted the last one."""
    answers = [m for m in messages if isinstance(m, AIMessage)]
    return str(answers[-1].text), len(answers), not isinstance(messages[-1], HumanMessage)


async def main() -> None:
    parser = argparse.ArgumentParser(description="generate → jury critic → revise, with langgraph-reflection")
    parser.add_argument("--model", default="local", help="the model spec of the generator and the jurors")
    parser.add_argument("--task", default="Write one sentence that explains why the sky is blue.")
    parser.add_argument("--jurors", type=int, default=3)
    parser.add_argument("--max-rounds", type=int, default=3, help="the most answers the generator gives")
    parser.add_argument("--on-inconclusive", choices=("accept", "reject"), default="accept")
    args = parser.parse_args()
    if args.jurors < 1:
        parser.error(f"--jurors must be at least 1, got {args.jurors}")
    if args.max_rounds < 1:
        parser.error(f"--max-rounds must be at least 1, got {args.max_rounds}")
    model = resolve_model(args.model)
    jury = Jury([Juror(model, name=f"juror_{i + 1}") for i in range(args.jurors)])
    final = await build(model, jury, args.on_inconclusive).ainvoke(
        {"messages": [HumanMessage(args.task)]}, {"recursion_limit": recursion_limit(args.max_rounds)}
    )
    answer, rounds, accepted = outcome(final["messages"])
    print(f"answer: {answer}")
    verdict = "accepted by the jury" if accepted else f"still rejected: stopped at --max-rounds {args.max_rounds}"
    print(f"rounds: {rounds} ({verdict})")


if __name__ == "__main__":
    asyncio.run(main())
