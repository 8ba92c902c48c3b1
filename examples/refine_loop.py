"""A jury as critic in your own LangGraph workflow: generate → jury critique → refine, until accepted.

    .venv/bin/python examples/refine_loop.py --model local --task "Write a haiku about the sea."

The jury's critique subgraph (``Jury.critic()``) is one node of this graph; the reasons behind a rejection feed
the next draft. The loop stops when the jury accepts, or after ``max_rounds`` drafts.
"""

from __future__ import annotations

import argparse
import asyncio
import operator
from typing import Annotated, Any, TypedDict

from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph

from agora import Settings, resolve_model
from agora.agents.juror import Juror
from agora.backends import Backend
from agora.protocols import Jury
from agora.protocols.jury import Critique
from agora.types import system, user


class RefineState(TypedDict, total=False):
    task: str
    output: str
    critique: Critique
    drafts: Annotated[list[str], operator.add]


def build(generator: Backend, jury: Jury, max_rounds: int = 3) -> CompiledStateGraph:
    """generate → critique (the jury subgraph) → END when accepted or after ``max_rounds`` drafts, else generate."""

    async def generate(state: RefineState) -> dict[str, Any]:
        prompt = f"Task:\n{state['task']}"
        if "critique" in state:
            reasons = "\n".join(state["critique"].reasons) or "The reviewers could not agree."
            prompt += (
                f"\n\nYour previous output:\n{state['output']}\n\nReviewers rejected it:\n{reasons}\n\nImprove it."
            )
        reply = await generator.complete(
            [system("Complete the task. Reply with the output only."), user(prompt)], Settings(max_tokens=300)
        )
        return {"output": reply.text.strip(), "drafts": [reply.text.strip()]}

    def again(state: RefineState) -> str:
        return END if state["critique"].accepted or len(state["drafts"]) >= max_rounds else "generate"

    builder = StateGraph(RefineState)
    builder.add_node("generate", generate)
    builder.add_node("critique", jury.critic())
    builder.add_edge(START, "generate")
    builder.add_edge("generate", "critique")
    builder.add_conditional_edges("critique", again, ["generate", END])
    return builder.compile(name="refine_loop")


async def main() -> None:
    parser = argparse.ArgumentParser(description="generate → jury critique → refine")
    parser.add_argument("--model", default="local")
    parser.add_argument("--task", default="Write one sentence that explains why the sky is blue.")
    parser.add_argument("--jurors", type=int, default=3)
    parser.add_argument("--max-rounds", type=int, default=3)
    args = parser.parse_args()
    model = resolve_model(args.model)
    jury = Jury([Juror(model, name=f"juror_{i + 1}") for i in range(args.jurors)])
    final = await build(model, jury, args.max_rounds).ainvoke({"task": args.task})
    for i, draft in enumerate(final["drafts"], 1):
        print(f"draft {i}: {draft}")
    critique = final["critique"]
    print(f"jury: {critique.outcome} (confidence {critique.confidence}, votes {critique.decision.votes})")


if __name__ == "__main__":
    asyncio.run(main())
