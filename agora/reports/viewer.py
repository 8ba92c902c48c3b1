"""The item viewer of the HTML report: each item with, under every protocol, the transcript (quotes marked verified
or unverified), each verdict with its confidence and flags, the checklist the verdicts were graded on, and the
decision with its flags (and its cascade stage). Items are ``<details>`` elements, so the viewer works without
script; a filter box narrows them down where script runs."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence

from agora.items import Item
from agora.quotes import QUOTE_TAG
from agora.reports.markup import e, table
from agora.reports.run import RunReport
from agora.runner.record import Record
from agora.transcript import label
from agora.types import Decision, Turn, Verdict

SUMMARY_CHARS = 140


def item_viewer(report: RunReport) -> list[str]:
    """The items section: a filter, then every item the store holds (and any record whose item it does not)."""
    scenario = report.manifest.get("scenario") or {}
    order = {p.get("name"): i for i, p in enumerate(scenario.get("protocols") or [])}
    by_item: dict[str, list[Record]] = defaultdict(list)
    for record in sorted(report.records, key=lambda r: order.get(r.protocol, len(order))):
        by_item[record.item].append(record)
    parts = [
        '<h2 id="items">Items</h2>',
        '<div class="filter"><input type="search" id="filter" placeholder="Filter by question, answer or id"'
        ' aria-label="Filter items"><label><input type="checkbox" id="only-wrong"> only items decided wrongly, left'
        f' open or failed</label><span id="shown" class="note">{len(report.items)} items</span></div>',
    ]
    known = {item.id for item in report.items}
    fitted = report.fitted
    parts += [item_block(item.id, item, by_item.get(item.id, []), fitted) for item in report.items]
    parts += [item_block(ident, None, records, fitted) for ident, records in by_item.items() if ident not in known]
    if not report.items and not by_item:
        parts.append('<p class="note">No item yet.</p>')
    return parts


def outcome(record: Record) -> tuple[str, str]:
    """The class and the mark of a record: its decision right, wrong or open (inconclusive, no gold); an error; or
    how many probes fooled a judge."""
    if record.status == "error":
        return "wrong", "error"
    if record.decision is None and record.probes:
        applied = [fell for judges in record.probes.values() for fell in judges.values() if fell is not None]
        return ("wrong" if any(applied) else "right"), f"fooled {sum(applied)}/{len(applied)}"
    if record.decision is None:
        return "none", "no decision"
    return decision_mark(record.decision, record.gold)


def decision_mark(decision: Decision, gold: int | None) -> tuple[str, str]:
    """The class and the mark of a decision: right, wrong or open (inconclusive, no gold)."""
    chosen = decision.outcome
    if not isinstance(chosen, int):
        return "none", "inconclusive"
    if gold is None:
        return "none", label(chosen)
    return ("right", f"{label(chosen)} ✓") if chosen == gold else ("wrong", f"{label(chosen)} ✗")


def item_block(
    ident: str, item: Item | None, records: Sequence[Record], fitted: Mapping[str, Decision] | None = None
) -> str:
    """One item as a ``<details>`` element: a summary line with each protocol's outcome, then the item and every
    protocol's record (with its fitted decision from ``fitted``, task key → decision, if any)."""
    question = item.question if item else "(item not in the store)"
    answers = item.answers if item else ()
    marks = [outcome(r) for r in records]
    badges = [
        f'<span class="badge {css}">{e(task_name(r))} {e(mark)}</span>'
        for r, (css, mark) in zip(records, marks, strict=True)
    ]
    badges = badges or ['<span class="badge none">no record yet</span>']
    wrong = any(
        mark in ("inconclusive", "error") or (css == "wrong" and r.decision is not None)
        for r, (css, mark) in zip(records, marks, strict=True)
    )
    flat = " ".join(question.split())
    short = flat if len(flat) <= SUMMARY_CHARS else flat[: SUMMARY_CHARS - 1] + "…"
    summary = (
        f'<summary><span class="id">{e(ident)}</span><span class="q">{e(short)}</span>'
        f'<span class="badges">{"".join(badges)}</span></summary>'
    )
    inner = [f'<p class="question">{e(question)}</p>']
    if answers:
        gold = item.gold if item else None
        rows = "".join(
            f'<li class="gold">{e(a)}<span class="tag">gold</span></li>' if i == gold else f"<li>{e(a)}</li>"
            for i, a in enumerate(answers)
        )
        inner.append(f'<ol class="answers" type="A">{rows}</ol>')
    if item and item.evidence:
        inner.append(
            f'<details class="sub"><summary>evidence ({len(item.evidence):,} characters)</summary>'
            f'<pre class="evidence">{e(item.evidence)}</pre></details>'
        )
    if item and item.source:
        inner.append(f'<p class="note">source: {e(item.source)}</p>')
    inner += [protocol_block(r, (fitted or {}).get(r.key)) for r in records]
    searchable = " ".join([ident, question, *answers]).lower()
    return (
        f'<details class="item" data-text="{e(searchable)}" data-wrong="{int(wrong)}">{summary}'
        f'<div class="itembody">{"".join(inner)}</div></details>'
    )


def task_name(record: Record) -> str:
    """The protocol's name, with a tournament's assignment (``debate 0A-1B``)."""
    return f"{record.protocol} {record.assignment}" if record.assignment else record.protocol


def protocol_block(record: Record, fitted: Decision | None = None) -> str:
    """One protocol's record of an item: the transcript, the verdicts, the decision (and the ``fitted`` one) and the
    probes, or the error."""
    parts = [f'<section class="protocol"><h4>{e(task_name(record))}</h4>']
    if record.models:
        played = " · ".join(f"{speaker}: {model}" for speaker, model in record.models.items())
        parts.append(f'<p class="note">played by {e(played)}</p>')
    if record.status == "error":
        parts.append(f'<p class="error">error: {e(record.error or "unknown")}</p>')
    parts += [turn_block(t) for t in record.transcript]
    if record.verdicts:
        parts.append(verdict_table(record.verdicts, record.gold))
        parts += checklists(record.verdicts)
    if record.decision is not None:
        parts.append(decision_block(record.decision, record.gold))
    if fitted is not None:
        parts.append(decision_block(fitted, record.gold, "fitted decision"))
    if record.probes:
        rows = [
            (check, judge, "not applicable" if fell is None else ("fell for it" if fell else "held"))
            for check, judges in record.probes.items()
            for judge, fell in judges.items()
        ]
        parts.append(table(("probe", "judge", "result"), rows, labels=3))
    return "".join(parts) + "</section>"


def turn_block(turn: Turn) -> str:
    """One transcript turn, its quotes marked verified or unverified."""
    side = f" · for {label(turn.side)}" if turn.side is not None else ""
    meta = f"round {turn.round} · {turn.speaker} ({turn.role}){side}"
    css = f"turn side{turn.side}" if turn.side is not None else "turn"
    return f'<div class="{css}"><div class="meta">{e(meta)}</div><div class="text">{marked(turn)}</div></div>'


def marked(turn: Turn) -> str:
    """The turn's text, escaped, each ``<quote>`` shown as a verified (✓) or unverified (✗) quotation."""
    out = []
    end = 0
    for i, match in enumerate(QUOTE_TAG.finditer(turn.text)):
        out.append(e(turn.text[end : match.start()]))
        quote = turn.quotes[i] if i < len(turn.quotes) else None
        if quote is None:
            css, mark, title = "u", "?", "quote not checked"
        elif quote.verified:
            css, mark, title = "v", "✓ verified", f"verified quote (match {quote.score:.2f})"
        else:
            css, mark, title = "u", "✗ unverified", f"unverified quote (best match {quote.score:.2f})"
        state = "right" if css == "v" else "wrong"
        out.append(
            f'<q class="{css}" title="{e(title)}">{e(match.group(1))}</q>'
            f'<span class="qmark {state}" title="{e(title)}">{mark}</span>'
        )
        end = match.end()
    out.append(e(turn.text[end:]))
    return "".join(out)


def verdict_table(verdicts: Sequence[Verdict], gold: int | None) -> str:
    """Each verdict: judge, choice, stated confidence, right or not, reasoning (or the error), persona, model, and
    its flags when any verdict has some."""
    flagged = any(v.flags for v in verdicts)
    rows = []
    for v in verdicts:
        choice = "abstained" if v.choice is None else label(v.choice)
        right = "–" if v.choice is None or gold is None else ("✓" if v.choice == gold else "✗")
        css = {"✓": "right", "✗": "wrong"}.get(right, "none")
        reasoning = f'<span class="error">{e(v.error)}</span>' if v.error else e(v.reasoning)
        flags = "".join(f'<span class="tag warn">{e(f)}</span>' for f in v.flags) or "–"
        rows.append(
            f'<tr><td>{e(v.judge)}</td><td>{e(choice)}</td><td class="num">{v.confidence:g}</td>'
            f'<td class="{css}">{right}</td><td>{reasoning}</td><td>{e(v.persona or "–")}</td>'
            f"<td>{e(v.model)}</td>{f'<td>{flags}</td>' if flagged else ''}</tr>"
        )
    columns = ("judge", "choice", "confidence", "right", "reasoning", "persona", "model", *(["flags"] * flagged))
    head = "".join(f'<th scope="col">{h}</th>' for h in columns)
    return (
        f'<div class="scroll"><table class="verdicts"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table></div>"
    )


def checklists(verdicts: Sequence[Verdict]) -> list[str]:
    """Each distinct checklist the verdicts were graded on, its questions numbered, with the judges who used it and
    each answer's score from each of them."""
    used: dict[tuple[str, ...], list[Verdict]] = {}
    for v in verdicts:
        if v.checklist:
            used.setdefault(tuple(v.checklist), []).append(v)
    parts = []
    for questions, graders in used.items():
        items = "".join(f"<li>{e(q)}</li>" for q in questions)
        scores = [
            f"{g.judge}: " + " / ".join(f"{label(i)} {score:g}" for i, score in enumerate(g.scores))
            for g in graders
            if g.scores
        ]
        scored = f'<p class="note">scores: {e("; ".join(scores))}</p>' if scores else ""
        parts.append(
            f'<details class="sub"><summary>checklist ({len(questions)} questions; '
            f"{e(', '.join(g.judge for g in graders))})</summary><ol>{items}</ol>{scored}</details>"
        )
    return parts


def decision_block(decision: Decision, gold: int | None, title: str = "decision") -> str:
    """A decision of the seat (``title``): outcome, rule, votes, confidence, abstentions, flags and dissent."""
    css, mark = decision_mark(decision, gold)
    parts = [f'<strong>{e(title)}:</strong> <span class="{css}">{e(mark)}</span>', f"rule {e(decision.rule)}"]
    if decision.stage is not None:
        parts.append(f"cascade stage {decision.stage}")
    parts.append("votes " + " / ".join(f"{label(i)} {v:g}" for i, v in enumerate(decision.votes)))
    if decision.confidence is not None:
        parts.append(f"confidence {decision.confidence:.1f}")
    if decision.probability is not None:
        parts.append(f"probability {decision.probability:.2f}")
    if decision.abstained:
        parts.append("abstained: " + e(", ".join(decision.abstained)))
    if decision.flags:
        parts.append("flags " + "".join(f'<span class="tag warn">{e(f)}</span>' for f in decision.flags))
    text = " · ".join(parts)
    if decision.dissent:
        dissent = "".join(f"<li>{e(d)}</li>" for d in decision.dissent)
        text += f'<details class="sub"><summary>dissent ({len(decision.dissent)})</summary><ul>{dissent}</ul></details>'
    return f'<div class="decision">{text}</div>'
