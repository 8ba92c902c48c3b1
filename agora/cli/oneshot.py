"""One-shot protocols on one question: ``judge``, ``debate``, ``consult``, ``jury`` and ``probe``.

Each command checks its input first, then builds its models (a bad spec is reported before any call), runs, prints.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NamedTuple, Optional

import typer

from agora.cli.common import (
    Answers,
    AsJson,
    Backends,
    BaseUrl,
    Checklist,
    Evidence,
    Logprobs,
    Model,
    NoReasoning,
    Open,
    Persona,
    Question,
    Reference,
    RoleModel,
    Rounds,
    RubricFile,
    Samples,
    Scale,
    Seed,
    Swap,
    Timeout,
    check_answers,
    check_model,
    check_setting,
    console,
    persona_option,
    read_evidence,
    with_backends,
)
from agora.errors import ConfigError

if TYPE_CHECKING:
    from agora.agents.judge import Judge
    from agora.backends import Backend
    from agora.methods import Form
    from agora.types import Settings, Verdict


def judge(
    question: Question,
    answer: Answers,
    model: Model = "local",
    persona: Persona = None,
    base_url: BaseUrl = None,
    temperature: Annotated[float, typer.Option("--temperature", callback=check_setting)] = 0.0,
    max_tokens: Annotated[int, typer.Option("--max-tokens", callback=check_setting)] = 512,
    seed: Seed = None,
    timeout: Timeout = 300.0,
    scale: Scale = None,
    rubric: RubricFile = None,
    checklist: Checklist = False,
    no_reasoning: NoReasoning = False,
    logprobs: Logprobs = False,
    reference: Reference = None,
    samples: Samples = 1,
    swap: Swap = False,
    as_json: AsJson = False,
) -> None:
    """One judge picks between two or more answers, directly or by a judging method (scores, a rubric, a
    checklist, a reference answer, samples, both orders)."""
    from agora.agents.judge import Judge
    from agora.protocols import direct_qa
    from agora.types import Settings

    check_answers(answer)
    judge_as = persona_option(persona)
    form = _form(scale, rubric, checklist, not no_reasoning)
    settings = Settings(temperature=temperature, max_tokens=max_tokens, seed=seed, timeout=timeout)

    async def work(backends: Backends) -> dict[str, Any]:
        the_judge = Judge(
            await backends.get(model), judge_as, settings=settings, form=form(None),
            samples=samples, swap=swap, reference="reference" if reference else None, logprobs=logprobs,
        )  # fmt: skip
        return dict(await direct_qa(the_judge).ainvoke(_case(question, answer, reference)))

    _print_result(with_backends(base_url, work), as_json, transcript=False)


def _form(scale: int | None, rubric: Path | None, checklist: bool, reasoning: bool) -> Callable[..., Form]:
    """The form flags, checked before any model is built (one line naming the flag or the rubric file); returns
    what makes a judge's form from a checklist book (shared by checklist jurors, or None)."""
    from agora.methods import form_of

    form_of(scale, rubric, checklist, None, reasoning)
    return partial(form_of, scale, rubric, checklist, reasoning=reasoning)


def _case(question: str, answers: list[str], reference: str | None) -> dict[str, Any]:
    """The input of a one-shot graph: the question, the answers and a ``--reference`` answer."""
    return {"question": question, "answers": answers, "references": {"reference": reference} if reference else {}}


class Arguing(NamedTuple):
    """What the protocols with arguing agents (debate, consultancy) share: the case, the models and the limits.

    (Immutable and typed like a frozen dataclass, without the milliseconds a dataclass costs at every start.)
    """

    question: str
    answers: list[str]
    evidence: Path | None
    speaker_model: str
    judge_model: str
    judge_persona: str | None
    base_url: str | None
    seed: int | None
    timeout: float
    as_json: bool


def debate(
    question: Question,
    answer: Answers,
    model: Model = "local",
    debater_model: RoleModel = None,
    judge_model: RoleModel = None,
    judge_persona: Persona = None,
    rounds: Rounds = 2,
    evidence: Evidence = None,
    open_: Open = False,
    simultaneous: Annotated[bool, typer.Option("--simultaneous", help="Debaters speak at once each round.")] = False,
    base_url: BaseUrl = None,
    seed: Seed = None,
    timeout: Timeout = 300.0,
    as_json: AsJson = False,
) -> None:
    """Debaters argue for the answers over rounds; a judge who never sees the evidence decides."""
    from agora.agents.debater import Debater
    from agora.protocols import debate as build
    from agora.transcript import label

    def graph(speaker: Backend, turn: Settings, the_judge: Judge) -> Any:
        debaters = [Debater(speaker, name=f"debater_{label(i).lower()}", settings=turn) for i in range(len(answer))]
        return build(debaters, the_judge, rounds=rounds, simultaneous=simultaneous, open=open_)

    case = Arguing(
        question=question, answers=answer, evidence=evidence, speaker_model=debater_model or model,
        judge_model=judge_model or model, judge_persona=judge_persona, base_url=base_url, seed=seed, timeout=timeout,
        as_json=as_json,
    )  # fmt: skip
    _argue(graph, case)


def consult(
    question: Question,
    answer: Answers,
    model: Model = "local",
    consultant_model: RoleModel = None,
    judge_model: RoleModel = None,
    judge_persona: Persona = None,
    rounds: Rounds = 2,
    evidence: Evidence = None,
    open_: Open = False,
    base_url: BaseUrl = None,
    seed: Seed = None,
    timeout: Timeout = 300.0,
    as_json: AsJson = False,
) -> None:
    """One consultant argues a side drawn at random (seeded); the judge questions it, then decides."""
    from agora.agents.consultant import Consultant
    from agora.protocols import consultancy

    def graph(speaker: Backend, turn: Settings, the_judge: Judge) -> Any:
        return consultancy(Consultant(speaker, settings=turn), the_judge, rounds=rounds, seed=seed or 0, open=open_)

    case = Arguing(
        question=question, answers=answer, evidence=evidence, speaker_model=consultant_model or model,
        judge_model=judge_model or model, judge_persona=judge_persona, base_url=base_url, seed=seed, timeout=timeout,
        as_json=as_json,
    )  # fmt: skip
    _argue(graph, case)


def jury(
    question: Question,
    answer: Answers,
    model: Model = "local",
    juror_model: Annotated[
        Optional[list[str]],  # noqa: UP045
        typer.Option(
            "--juror-model",
            callback=check_model,
            help="A juror's model spec; repeat to mix models (cycled over the jurors).",
        ),
    ] = None,
    jurors: Annotated[int, typer.Option("--jurors", min=1, help="How many jurors.")] = 3,
    rule: Annotated[str, typer.Option("--rule", help="Voting rule: majority, plurality, unanimity, ...")] = "majority",
    min_confidence: Annotated[
        float, typer.Option("--min-confidence", help="Jurors stating less confidence (0-100) abstain.")
    ] = 0.0,
    min_probability: Annotated[
        float,
        typer.Option(
            "--min-probability",
            min=0,
            max=1,
            help="Jurors whose token probability of their answer (0-1, with --logprobs) is lower, or unknown, abstain.",
        ),
    ] = 0.0,
    quorum: Annotated[int, typer.Option("--quorum", help="Non-abstaining jurors required.")] = 1,
    margin: Annotated[float, typer.Option("--margin", help="Lead the winner needs, as a share of votes.")] = 0.0,
    checks: Annotated[
        str, typer.Option("--checks", help="Live checks, comma-separated: position,master-keys,injection,...")
    ] = "",
    persona: Annotated[
        Optional[list[str]],  # noqa: UP045
        typer.Option("--persona", help="A juror persona; repeat to mix (cycled over the jurors)."),
    ] = None,
    weight: Annotated[
        Optional[list[float]],  # noqa: UP045
        typer.Option(
            "--weight", min=0, help="A juror's vote weight in a weighted rule; repeat, one per juror (cycled)."
        ),
    ] = None,
    base_url: BaseUrl = None,
    temperature: Annotated[
        float, typer.Option("--temperature", callback=check_setting, help="Each juror's sampling temperature.")
    ] = 0.0,
    seed: Seed = None,
    timeout: Timeout = 300.0,
    scale: Scale = None,
    rubric: RubricFile = None,
    checklist: Checklist = False,
    no_reasoning: NoReasoning = False,
    logprobs: Logprobs = False,
    reference: Reference = None,
    samples: Samples = 1,
    swap: Swap = False,
    as_json: AsJson = False,
) -> None:
    """A jury of K jurors decides between the answers under a voting rule, thresholds and live checks.

    Each juror samples with its own seed, derived from --seed and its name, and judges by the judging method the
    flags give (checklist jurors share one checklist).
    """
    from agora.agents.juror import Juror, juror_seed
    from agora.aggregation.checks import live_check
    from agora.aggregation.thresholds import Thresholds
    from agora.protocols import Jury, direct_qa
    from agora.types import Settings

    check_answers(answer)
    policy = Thresholds(min_confidence=min_confidence, quorum=quorum, margin=margin, min_probability=min_probability)
    personas = [persona_option(p) for p in persona or []]
    names = [c.strip() for c in checks.split(",") if c.strip()]
    _check_rule(rule, weight or [])
    for name in names:
        live_check(name)  # bad input is reported before any model is built
    form = _form(scale, rubric, checklist, not no_reasoning)
    specs = juror_model or [model]

    async def work(backends: Backends) -> dict[str, Any]:
        book = None
        if checklist:
            from agora.methods.checklist import Checklists

            book = Checklists()  # the jurors share each question's checklist
        seats = [
            Juror(
                await backends.get(specs[i % len(specs)]),
                personas[i % len(personas)] if personas else None,
                name=f"juror_{i + 1}",
                settings=Settings(temperature=temperature, seed=juror_seed(seed, f"juror_{i + 1}"), timeout=timeout),
                weight=weight[i % len(weight)] if weight else 1.0,
                form=form(book),
                samples=samples,
                swap=swap,
                logprobs=logprobs,
                reference="reference" if reference else None,
            )
            for i in range(jurors)
        ]
        panel = Jury(seats, rule, policy=policy, checks=names)
        return dict(await direct_qa(panel).ainvoke(_case(question, answer, reference)))

    state = with_backends(base_url, work)
    if as_json:
        payload = {**decision_json(state), "verdicts": [v.model_dump(mode="json") for v in state["verdicts"]]}
        print(json.dumps(payload, indent=2))
        return
    print_decision(state)


def probe(
    model: Model = "local",
    probes: Annotated[
        str, typer.Option("--probes", help="Comma-separated: master-keys,position,verbosity,bandwagon,authority,...")
    ] = "master-keys,position,verbosity,bandwagon,authority,critique",
    data: Annotated[
        Optional[Path],  # noqa: UP045
        typer.Option("--data", help="Pairs to probe with (LLMBar, EvalBiasBench or TruthfulQA shape)."),
    ] = None,
    limit: Annotated[Optional[int], typer.Option("--limit", min=1, help="Probe at most N items.")] = None,  # noqa: UP045
    persona: Persona = None,
    base_url: BaseUrl = None,
    seed: Seed = None,
    timeout: Timeout = 300.0,
    as_json: AsJson = False,
) -> None:
    """Per-probe rates for one judge: how often a manipulation flips or fools it, with the counts behind them."""
    from dataclasses import asdict

    from rich.table import Table

    from agora.agents.judge import Judge
    from agora.aggregation.checks import probe_check
    from agora.loaders import no_items
    from agora.paths import data_dir
    from agora.probes import ProbeResult, load_items, run_probes
    from agora.types import Settings

    names = [p.strip() for p in probes.split(",") if p.strip()]
    for name in names:
        probe_check(name)
    path = data or data_dir() / "llmbar_natural.json"
    loaded = load_items(path)
    for bad in loaded.malformed:
        print(f"agora: warning: {bad.source}: skipped: {bad.reason}", file=sys.stderr)
    if not loaded.items:
        first = loaded.malformed[0] if loaded.malformed else None
        raise ConfigError(f"--data: {no_items(path, len(loaded.malformed), first)}")
    judge_as = persona_option(persona)

    async def work(backends: Backends) -> tuple[str, dict[str, ProbeResult]]:
        the_judge = Judge(await backends.get(model), judge_as, settings=Settings(seed=seed, timeout=timeout))
        return the_judge.model.spec, await run_probes(the_judge, names, loaded.items, limit)

    spec, results = with_backends(base_url, work)
    if as_json:
        payload = {"model": spec, "data": str(path), "limit": limit}
        print(json.dumps({**payload, "probes": {name: asdict(r) for name, r in results.items()}}, indent=2))
        return
    table = Table("probe", "rate", "count / n", "parse errors", "skipped", "model calls")
    for name, r in results.items():
        rate = "-" if r.rate is None else f"{r.rate:.2f}"
        table.add_row(name, rate, f"{r.count} / {r.n}", str(r.errors), str(r.skipped), str(r.calls))
    console().print(f"{spec} on {path}" + (f" (first {limit})" if limit else ""))
    console().print(table)


def _argue(graph: Callable[[Backend, Settings, Judge], Any], case: Arguing) -> None:
    """Run a protocol with arguing agents: inputs checked first, then models built, run, printed."""
    from agora.agents.judge import Judge
    from agora.types import Settings

    check_answers(case.answers)
    judge_as = persona_option(case.judge_persona)
    text = read_evidence(case.evidence)

    async def work(backends: Backends) -> dict[str, Any]:
        speaker = await backends.get(case.speaker_model)
        judge_settings = Settings(seed=case.seed, timeout=case.timeout)
        the_judge = Judge(await backends.get(case.judge_model), judge_as, settings=judge_settings)
        built = graph(speaker, Settings(max_tokens=400, seed=case.seed, timeout=case.timeout), the_judge)
        return dict(await built.ainvoke({"question": case.question, "answers": case.answers, "evidence": text}))

    _print_result(with_backends(case.base_url, work), case.as_json, transcript=True)


def _check_rule(name: str, weights: list[float]) -> None:
    """Raise a ``ConfigError`` naming ``--rule`` or ``--weight`` when the jury could not use them."""
    from agora.aggregation.voting import seat_rule, takes_weights

    try:
        seat_rule(name, {}, {})  # the jurors' weights come with the seat
    except ConfigError as exc:
        raise ConfigError(f"--rule: {exc}") from None
    if weights and not takes_weights(name):
        raise ConfigError(f"--weight: rule {name!r} takes no weights")


def _print_result(state: dict[str, Any], as_json: bool, *, transcript: bool) -> None:
    """The last verdict (after the transcript when ``transcript``): printed, or as one JSON object."""
    if as_json:
        payload = verdict_json(state, state["verdicts"][-1])
        if transcript:
            payload = {**case_json(state), "verdict": payload}
        print(json.dumps(payload, indent=2))
        return
    if transcript:
        print_transcript(state)
    print_verdict(state, state["verdicts"][-1])


def case_json(state: dict[str, Any]) -> dict[str, Any]:
    """The question, answers, sides and transcript of a finished graph's ``state``, for ``--json``."""
    return {
        "question": state["question"],
        "answers": state["answers"],
        "sides": state.get("sides", {}),
        "transcript": [t.model_dump(mode="json") for t in state.get("transcript", [])],
    }


def verdict_json(state: dict[str, Any], verdict: Verdict) -> dict[str, Any]:
    """``verdict`` with the text of the answer it chose, for ``--json``."""
    chosen = None if verdict.choice is None else state["answers"][verdict.choice]
    return {**verdict.model_dump(mode="json"), "answer": chosen}


def decision_json(state: dict[str, Any]) -> dict[str, Any]:
    """The jury's decision in ``state`` with the text of the winning answer, for ``--json``."""
    decision = state["decision"]
    chosen = state["answers"][decision.outcome] if isinstance(decision.outcome, int) else None
    return {**decision.model_dump(mode="json"), "answer": chosen}


def print_transcript(state: dict[str, Any]) -> None:
    """Each turn of the transcript, fenced as the judges read it."""
    from agora.transcript import render_turn

    out = console()
    for turn in state.get("transcript", []):
        out.print(render_turn(turn), markup=False)
        out.print()


def print_verdict(state: dict[str, Any], verdict: Verdict) -> None:
    """One judge's verdict: choice, confidence, reasoning, and the model, tokens and attempts behind it."""
    from rich.markup import escape

    from agora.transcript import label

    out = console()
    shown = "abstained" if verdict.choice is None else f"{label(verdict.choice)}: {state['answers'][verdict.choice]}"
    out.print(f"[bold]choice[/bold]      {shown}")
    out.print(f"[bold]confidence[/bold]  {verdict.confidence:g}")
    out.print(f"[bold]reasoning[/bold]   {escape(verdict.reasoning)}")
    out.print(
        f"[dim]{verdict.model} · {verdict.usage.prompt_tokens}+{verdict.usage.completion_tokens} tokens · "
        f"{verdict.attempts} attempt(s)[/dim]"
    )


def print_decision(state: dict[str, Any]) -> None:
    """A jury's verdicts as a table, then its decision, abstentions and flags."""
    from rich.table import Table
    from rich.text import Text

    from agora.transcript import label

    decision = state["decision"]
    out = console()
    table = Table("juror", "choice", "confidence", "reasoning")
    for v in state["verdicts"]:
        shown = "abstained" if v.choice is None else label(v.choice)
        table.add_row(v.judge, shown, f"{v.confidence:g}", Text(v.error or v.reasoning))  # plain: '[local]' stays
    out.print(table)
    outcome = decision.outcome if decision.outcome == "inconclusive" else label(int(decision.outcome))
    out.print(f"[bold]decision[/bold]  {outcome}  votes {decision.votes}  rule {decision.rule}")
    if decision.abstained:
        out.print(f"[bold]abstained[/bold] {', '.join(decision.abstained)}")
    if decision.flags:
        out.print(f"[bold]flags[/bold]     {', '.join(decision.flags)}")
