"""The HTML report: one self-contained page (inline CSS, inline SVG plots, a few lines of inline script; a
Content-Security-Policy forbids fetching anything), readable on a laptop and on a phone.

All run text (questions, answers, transcripts, reasoning, names) is untrusted model or data-set output: it is
escaped wherever it lands, attributes included.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from agora.metrics.types import RunMetrics
from agora.reports import plots as draw
from agora.reports.markup import e, table
from agora.reports.run import CompareRow, RunReport
from agora.reports.tables import Table, both_facts, facts, metric_tables, partial_note, side_by_side
from agora.reports.viewer import item_viewer

CSP = "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:"

STYLE = """
:root{--fg:#1d2330;--muted:#5d6675;--bg:#fff;--panel:#f5f6f8;--line:#dde1e7;--accent:#3b5bdb;
--ok:#1b7f3b;--bad:#b3261e;--warn-bg:#fff4d6;--warn:#7a5200;--v:#d3f0dc;--u:#fbdcdc}
@media (prefers-color-scheme:dark){:root{--fg:#e4e7ec;--muted:#9aa3b2;--bg:#14171c;--panel:#1d2129;--line:#323844;
--accent:#8fa8ff;--ok:#5fd08a;--bad:#ff8a80;--warn-bg:#3d3212;--warn:#ffd77a;--v:#1f4a2d;--u:#5a2626}}
*{box-sizing:border-box}
html{-webkit-text-size-adjust:100%}
body{margin:0;font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;
color:var(--fg);background:var(--bg)}
main{max-width:1100px;margin:0 auto;padding:16px}
h1{font-size:1.5rem;margin:.2em 0 .4em;overflow-wrap:anywhere}
h2{font-size:1.2rem;margin:1.6em 0 .5em;padding-bottom:.2em;border-bottom:1px solid var(--line)}
h3{font-size:1rem;margin:1.2em 0 .4em}
a{color:var(--accent)}
nav{display:flex;flex-wrap:wrap;gap:.3em .9em;font-size:.9rem;margin:.5em 0 1em}
.partial{background:var(--warn-bg);color:var(--warn);border:2px solid currentColor;border-radius:6px;
padding:.6em .9em;font-weight:600;margin:.5em 0 1em;overflow-wrap:anywhere}
dl.facts{display:grid;grid-template-columns:max-content minmax(0,1fr);gap:.15em 1em;margin:0;font-size:.9rem}
dl.facts dt{color:var(--muted)}
dl.facts dd{margin:0;overflow-wrap:anywhere}
.scroll{overflow-x:auto;-webkit-overflow-scrolling:touch;margin:.4em 0;max-width:100%}
table{border-collapse:collapse;font-size:.88rem;font-variant-numeric:tabular-nums}
th,td{padding:.3em .6em;border-bottom:1px solid var(--line);text-align:left;vertical-align:top}
th{background:var(--panel);font-weight:600;white-space:nowrap}
td.num{text-align:right;white-space:nowrap}
.note{color:var(--muted);font-size:.85rem;margin:.3em 0}
.plots{display:grid;grid-template-columns:repeat(auto-fit,minmax(min(100%,400px),1fr));gap:12px;margin:.6em 0}
figure.plot{margin:0;padding:8px;background:#fff;color:#1d2330;border:1px solid var(--line);border-radius:6px;
min-width:0}
figure.plot figcaption{font-size:.85rem;color:#5d6675;margin-bottom:4px}
.plot svg{display:block;width:100%;height:auto;margin:0 auto;overflow:visible}
.plot svg text{font-family:"DejaVu Sans",Verdana,system-ui,sans-serif}
.plot svg *{stroke-linejoin:round}
.filter{display:flex;flex-wrap:wrap;gap:.5em 1em;align-items:center;margin:.5em 0}
.filter input[type=search]{flex:1 1 220px;min-width:0;padding:.4em .6em;font:inherit;border:1px solid var(--line);
border-radius:4px;background:var(--bg);color:var(--fg)}
details.item{border:1px solid var(--line);border-radius:6px;margin:.4em 0;background:var(--bg)}
details.item>summary{cursor:pointer;padding:.45em .7em;display:flex;flex-wrap:wrap;gap:.2em .6em;align-items:baseline}
details.item[open]>summary{background:var(--panel);border-bottom:1px solid var(--line)}
summary .id{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:.8rem;color:var(--muted);
overflow-wrap:anywhere}
summary .q{flex:1 1 16em;min-width:0;overflow-wrap:anywhere}
.badges{display:flex;flex-wrap:wrap;gap:.3em}
.badge{font-size:.75rem;padding:0 .45em;border-radius:999px;border:1px solid currentColor;white-space:nowrap}
.right{color:var(--ok)}.wrong{color:var(--bad)}.none{color:var(--muted)}
.itembody{padding:.6em .9em}
.question{font-weight:600;overflow-wrap:anywhere;white-space:pre-wrap}
ol.answers{padding-left:1.6em;margin:.3em 0}
ol.answers li{overflow-wrap:anywhere;white-space:pre-wrap}
ol.answers li.gold::marker{color:var(--ok);font-weight:700}
.tag{font-size:.72rem;padding:0 .4em;border-radius:3px;background:var(--ok);color:var(--bg);margin-left:.4em;
white-space:nowrap}
.tag.warn{background:var(--bad)}
details.sub{margin:.4em 0}
details.sub>summary{cursor:pointer;color:var(--muted);font-size:.88rem}
pre,.text{white-space:pre-wrap;overflow-wrap:anywhere;font:inherit;margin:0}
pre.evidence{background:var(--panel);padding:.5em;border-radius:4px;font-size:.85rem;max-height:20em;overflow:auto}
section.protocol{border-top:1px dashed var(--line);margin-top:.8em;padding-top:.4em}
section.protocol h4{margin:.2em 0 .4em;font-size:.95rem}
.turn{border-left:3px solid var(--line);padding:.2em .7em;margin:.4em 0}
.turn.side0{border-color:#4c72b0}.turn.side1{border-color:#dd8452}.turn.side2{border-color:#55a868}
.turn .meta{font-size:.8rem;color:var(--muted)}
q.v,q.u{quotes:none;padding:0 .15em;border-radius:3px}
q.v{background:var(--v)}q.u{background:var(--u);text-decoration:line-through dotted}
.qmark{font-size:.7rem;font-weight:700;margin-left:.2em;white-space:nowrap}
table.verdicts td:nth-child(5){min-width:14em;overflow-wrap:anywhere}
.decision{background:var(--panel);border-radius:4px;padding:.4em .7em;margin:.4em 0;font-size:.9rem;
overflow-wrap:anywhere}
.error{color:var(--bad);overflow-wrap:anywhere}
footer{color:var(--muted);font-size:.8rem;margin:2em 0 1em}
@media (max-width:600px){main{padding:10px}body{font-size:14px}th,td{padding:.25em .4em}}
"""

SCRIPT = """
(function(){var box=document.getElementById('filter'),only=document.getElementById('only-wrong'),
shown=document.getElementById('shown');if(!box||!only||!shown)return;
var items=Array.prototype.slice.call(document.querySelectorAll('details.item'));
function apply(){var q=box.value.toLowerCase().trim(),k=0;items.forEach(function(d){
var ok=(!q||d.getAttribute('data-text').indexOf(q)>=0)&&(!only.checked||d.getAttribute('data-wrong')==='1');
d.hidden=!ok;if(ok)k++;});shown.textContent=k+' of '+items.length+' items';}
box.addEventListener('input',apply);only.addEventListener('change',apply);apply();})();
"""


def page(title: str, body: Iterable[str], *, script: bool = False) -> str:
    """A complete, self-contained HTML document."""
    return "\n".join(
        [
            "<!doctype html>",
            '<html lang="en">',
            "<head>",
            '<meta charset="utf-8">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            f'<meta http-equiv="Content-Security-Policy" content="{CSP}">',
            '<meta name="color-scheme" content="light dark">',
            f"<title>{e(title)}</title>",
            f"<style>{STYLE}</style>",
            "</head>",
            "<body>",
            "<main>",
            *body,
            "<footer>Made by <code>agora report</code> from the run store alone; no model was called.</footer>",
            "</main>",
            f"<script>{SCRIPT}</script>" if script else "",
            "</body>",
            "</html>",
        ]
    )


def figure(svg: str | None, caption: str) -> str:
    """A plot under its caption, or nothing."""
    return "" if svg is None else f'<figure class="plot"><figcaption>{e(caption)}</figcaption>{svg}</figure>'


def plots(figures: Iterable[str]) -> list[str]:
    """Figures in a grid that has as many columns as the screen fits; nothing when there is no figure."""
    shown = [f for f in figures if f]
    return ['<div class="plots">', *shown, "</div>"] if shown else []


def facts_list(report: RunReport) -> str:
    """The run's facts as a definition list."""
    return '<dl class="facts">' + "".join(f"<dt>{e(k)}</dt><dd>{e(v)}</dd>" for k, v in facts(report)) + "</dl>"


def partial_banner(report: RunReport, tag: str = "") -> str:
    """The prominent partial-run warning, or nothing."""
    return f'<div class="partial" role="alert">⚠ {e(tag + partial_note(report))}</div>' if report.partial else ""


def section(found: Table, *, level: int, anchor: str) -> list[str]:
    """One table under its heading, with its note."""
    parts = [f'<h{level} id="{e(anchor + found.anchor)}">{e(found.title)}</h{level}>']
    if found.rows:
        parts.append(table(found.header, found.rows, labels=found.labels))
    return parts + ([f'<p class="note">{e(found.note)}</p>'] if found.note else [])


def figures(metrics: RunMetrics, anchor: str) -> list[str]:
    """The plots that go below the table ``anchor``: accuracy, calibration and risk-coverage below the headline,
    the κ heatmaps below the agreement, the flip rates below the robustness."""
    if anchor == "headline":
        return plots(
            [
                figure(
                    draw.accuracy(metrics.headline), "Accuracy by protocol and judge, 95% intervals (◆ the decision)"
                ),
                figure(draw.reliability(metrics.headline), "Reliability diagram: accuracy against stated confidence"),
                figure(draw.risk_coverage(metrics.headline), "Risk–coverage: selective accuracy as coverage falls"),
            ]
        )
    if anchor == "agreement":
        caption = "Cohen's κ between the judges of {} (blue: agreement beyond chance; red: below chance)"
        return plots(figure(draw.kappa_heatmap(j), caption.format(j.protocol)) for j in metrics.agreement)
    if anchor == "robustness":
        return plots([figure(draw.flip_rates(metrics.robustness), "How often each judge fell for each probe")])
    return []


def metric_sections(metrics: RunMetrics, *, with_plots: bool = True, level: int = 2, anchor: str = "") -> list[str]:
    """Every table of a run's metrics, and below them their plots (which replace the κ matrices)."""
    parts = []
    for found in metric_tables(metrics):
        if with_plots and found.anchor.startswith("kappa-"):
            continue
        parts += section(found, level=level, anchor=anchor)
        parts += figures(metrics, found.anchor) if with_plots else []
    return parts


def nav(metrics: RunMetrics) -> str:
    """Links to the sections of the page."""
    links = [(t.anchor, t.title) for t in metric_tables(metrics) if not t.anchor.startswith("kappa-")]
    links.append(("items", "Items"))
    return "<nav>" + "".join(f'<a href="#{e(a)}">{e(t)}</a>' for a, t in links) + "</nav>"


def render(report: RunReport) -> str:
    """The HTML report of one run: facts, tables, plots and the item viewer."""
    title = f"Run report: {report.name}"
    body = [
        f"<h1>{e(title)}</h1>",
        partial_banner(report),
        facts_list(report),
        nav(report.metrics),
        *metric_sections(report.metrics),
        *item_viewer(report),
    ]
    return page(title, body, script=True)


def render_compare(a: RunReport, b: RunReport, rows: Sequence[CompareRow]) -> str:
    """Two runs side by side: their facts, each protocol and judge with the paired difference, then each run's
    tables."""
    title = f"Comparison: {a.name} (A) vs {b.name} (B)"
    runs = both_facts(a, b)
    body = [
        f"<h1>{e(title)}</h1>",
        partial_banner(a, "Run A: "),
        partial_banner(b, "Run B: "),
        table(runs.header, runs.rows, labels=3),
        *section(side_by_side(rows), level=2, anchor=""),
    ]
    for tag, report in (("A", a), ("B", b)):
        body.append(f'<h2 id="run-{tag.lower()}">Run {tag}: {e(report.name)}</h2>')
        body += metric_sections(report.metrics, with_plots=False, level=3, anchor=f"{tag.lower()}-")
    return page(title, body)
