"""HTML building blocks shared by the report page and its item viewer: escaped text and tables."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from html import escape


def e(value: object) -> str:
    """Escaped text, quotes included, so that it is safe in attributes too."""
    return escape(str(value), quote=True)


def table(header: Sequence[str], rows: Iterable[Sequence[object]], *, labels: int = 2) -> str:
    """An HTML table, every cell escaped, that scrolls sideways on a narrow screen; the columns after the first
    ``labels`` (figures) right-aligned."""
    head = "".join(f'<th scope="col">{e(h)}</th>' for h in header)
    body = "".join("<tr>" + "".join(_cell(v, numeric=i >= labels) for i, v in enumerate(row)) + "</tr>" for row in rows)
    return f'<div class="scroll"><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>'


def _cell(value: object, *, numeric: bool) -> str:
    return f'<td class="num">{e(value)}</td>' if numeric else f"<td>{e(value)}</td>"
