"""JSON text as Go's encoding/json writes it (what buildx's files and streams hold)."""

from __future__ import annotations

import json

__all__ = ["go_dumps"]

#: Go escapes these inside strings (HTML safety, JavaScript line ends); Python does not.
_GO_ESCAPES = str.maketrans({"<": "\\u003c", ">": "\\u003e", "&": "\\u0026",
                             "\u2028": "\\u2028", "\u2029": "\\u2029"})


def go_dumps(doc: object, indent: int | None = None) -> str:
    """``doc`` as ``json.Marshal`` (``indent`` None) or ``json.MarshalIndent`` writes it.

    Keys keep the mapping's order (sort them first where Go sorts a map).
    """
    separators = (",", ": ") if indent is not None else (",", ":")
    text = json.dumps(doc, indent=indent, ensure_ascii=False, separators=separators)
    return text.translate(_GO_ESCAPES)
