"""Layering: tui/ui talks to tui/debug only; the headless command line never loads Textual."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

UI = Path(__file__).resolve().parents[2] / "tui" / "ui"
ALLOWED_ROOTS = {"textual", "rich", "tui", "pyghostty", "cffi", "__future__"}
FORBIDDEN = ("tui.buildkit", "grpc", "google.protobuf")


def _imports(path: Path) -> list[str]:
    names: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
    return names


def test_ui_imports_only_debug_textual_rich_and_stdlib() -> None:
    files = sorted(UI.rglob("*.py"))
    assert len(files) > 10
    for path in files:
        for name in _imports(path):
            root = name.split(".")[0]
            assert not name.startswith(FORBIDDEN), f"{path.name} imports {name}"
            if root == "tui":
                assert name.startswith(("tui.debug", "tui.ui")) or name == "tui", (path, name)
            else:
                assert root in ALLOWED_ROOTS or root in sys.stdlib_module_names, (path, name)


def test_headless_path_does_not_import_textual_or_the_emulator() -> None:
    code = ("import sys, tui.cli, tui.debug.engine.session; "
            "print(sorted(m for m in ('textual', 'pyghostty', 'rich') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_app_does_not_import_the_emulator_until_a_shell_opens() -> None:
    code = "import sys, tui.ui.run; print('pyghostty' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
