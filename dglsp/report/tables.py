"""Tables as text: one renderer for the markdown tables (pasteable into a README or an issue) and the plain,
space-separated ones (read in a terminal, split by tests)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal


def render_table(
    rows: Sequence[Sequence[str]], style: Literal["markdown", "plain"] = "markdown", align: str = ""
) -> str:
    """The first row is the header, a rule follows it; columns are padded to their widest cell.

    `align` holds one `<` (left) or `>` (right) per column, all left when empty.
    """
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    aligns = align or "<" * len(widths)
    padded = [[f"{c:{a}{w}}" for c, a, w in zip(row, aligns, widths, strict=True)] for row in rows]
    if style == "markdown":
        lines = ["| " + " | ".join(cells) + " |" for cells in padded]
        rule = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    else:
        lines = ["  ".join(cells) for cells in padded]
        rule = "  ".join("-" * w for w in widths)
    return "\n".join([lines[0], rule, *lines[1:]])
