"""A docstring's ``>>>`` examples as code blocks in the API reference (mkdocs.yml loads this).

Docstrings here are plain prose with interactive examples in Python's own form. Read as
Markdown, ``>>>`` lines would be nested quotes and an output such as ``[('happiness', 0.93)]``
a link to nothing, which fails the strict build; so each run of example lines (a ``>>>`` line,
its ``...`` continuations and the output up to a blank line) is fenced as ``pycon`` first.
"""

from __future__ import annotations

from typing import Any

import griffe


def fence_examples(text: str) -> str:
    """``text`` with every run of ``>>>`` example lines inside a ```` ```pycon ```` fence."""
    out: list[str] = []
    block: list[str] = []
    indent = ""
    for line in text.splitlines():
        stripped = line.lstrip()
        if not block and stripped.startswith(">>>"):
            indent = line[: len(line) - len(stripped)]
            block = [stripped]
        elif block and stripped:
            block.append(line.removeprefix(indent))
        else:
            if block:
                out += [f"{indent}```pycon", *(indent + b for b in block), f"{indent}```"]
                block = []
            out.append(line)
    if block:
        out += [f"{indent}```pycon", *(indent + b for b in block), f"{indent}```"]
    return "\n".join(out)


class DoctestBlocks(griffe.Extension):
    """Fences the examples of every docstring as it is loaded."""

    def on_object(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        if obj.docstring is not None and ">>>" in obj.docstring.value:
            obj.docstring.value = fence_examples(obj.docstring.value)
