"""Typed code: no attribute probing, no cancellation swallowed around an await (issue 14)."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

TUI = Path(__file__).resolve().parents[2] / "tui"

#: getattr is fine for a protobuf field named by a Python keyword (``def``: only in
#: tui/buildkit/defs.py, whose typed accessors the rest calls) and for the emulator's cffi
#: symbols; every other dynamic lookup is a probe a type should replace.
KEYWORD_FIELDS = {"def"}
KEYWORD_ACCESSORS = "defs.py"
CFFI = {("ghostty.py", "lib")}


def _trees() -> Iterator[tuple[Path, ast.AST]]:
    files = [p for p in sorted(TUI.rglob("*.py")) if not p.name.endswith(("_pb2.py", "_grpc.py"))]
    assert len(files) > 50
    for path in files:
        yield path, ast.parse(path.read_text(), str(path))


def _allowed(path: Path, call: ast.Call) -> bool:
    if len(call.args) < 2:
        return False
    target, name = call.args[0], call.args[1]
    if isinstance(name, ast.Constant) and name.value in KEYWORD_FIELDS:
        return path.name == KEYWORD_ACCESSORS
    return isinstance(target, ast.Name) and (path.name, target.id) in CFFI


def test_no_getattr_or_hasattr_probes() -> None:
    found = []
    for path, tree in _trees():
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) \
                    and node.func.id in ("getattr", "hasattr") and not _allowed(path, node):
                found.append(f"{path.relative_to(TUI.parent)}:{node.lineno}")
            if isinstance(node, ast.FunctionDef) and node.name in (
                    "__getattr__", "__getattribute__", "__setattr__"):
                found.append(f"{path.relative_to(TUI.parent)}:{node.lineno} {node.name}")
    assert found == []


def _names(node: ast.expr) -> list[str]:
    if isinstance(node, ast.Attribute):
        return [node.attr]
    if isinstance(node, ast.Name):
        return [node.id]
    return []


def test_no_cancellation_suppressed() -> None:
    """``suppress(BaseException)``/``suppress(CancelledError)``: tui.buildkit.aio instead."""
    found = []
    for path, tree in _trees():
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Call) and "suppress" in _names(node.func)):
                continue
            caught = [n for arg in node.args for n in _names(arg)]
            if {"BaseException", "CancelledError"} & set(caught):
                found.append(f"{path.relative_to(TUI.parent)}:{node.lineno}")
    assert found == []


#: What each folder of ``tui/debug`` may not import (at the top or inside a function).
LAYERS = {
    "model": ("tui.debug.engine", "tui.debug.headless", "tui.ui", "textual"),
    "engine": ("tui.debug.headless", "tui.ui", "textual"),
    "headless": ("tui.ui", "textual"),
}


def _imported(tree: ast.AST) -> Iterator[str]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            yield node.module


def test_debug_layers_import_downwards_only() -> None:
    found = []
    for folder, forbidden in LAYERS.items():
        for path in sorted((TUI / "debug" / folder).glob("*.py")):
            tree = ast.parse(path.read_text(), str(path))
            found += [f"{folder}/{path.name}: {name}" for name in _imported(tree)
                      if name.startswith(forbidden)]
    assert not found, found
