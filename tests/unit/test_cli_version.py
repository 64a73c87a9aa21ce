"""``bxtui --version`` and ``bxtui version`` print the installed package's version."""

from __future__ import annotations

from importlib.metadata import version

import pytest
from conftest import bxtui_binary, run_cmd


@pytest.mark.parametrize("argv", [["--version"], ["version"]])
def test_version_from_package_metadata(argv: list[str]) -> None:
    res = run_cmd([bxtui_binary(), *argv], timeout=30)
    assert (res.returncode, res.stdout, res.stderr) == (0, f"bxtui {version('bxtui')}\n", "")


def test_version_takes_no_arguments() -> None:
    res = run_cmd([bxtui_binary(), "version", "extra"], timeout=30)
    assert res.returncode == 2
    assert res.stdout == "" and "Traceback" not in res.stderr
    assert res.stderr.count("\n") == 1 and "unrecognized arguments: extra" in res.stderr
