"""Retrying a failed RUN with an edited command: what to run, what cannot be reproduced, tries.

Pure: the failed step's ExecOp and the Dockerfile's command text in, arguments and notes out.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

from tui.buildkit.proto import ops_pb2
from tui.debug.model.failure import SourceSnippet
from tui.debug.model.writeback import exec_args

__all__ = ["DEFAULT_SHELL", "Try", "TryHistory", "dockerfile_ranges", "not_reproduced", "prefill",
           "retry_args"]

#: The Dockerfile frontend's default SHELL.
DEFAULT_SHELL = ("/bin/sh", "-c")


def _shell_prefix(step_args: Sequence[str], source: str | None) -> list[str]:
    """The SHELL a shell-form command runs under: the step's own when it is shell form."""
    if source is not None:
        if exec_args(source) is None and step_args and step_args[-1] == source:
            return list(step_args[:-1])
        return list(DEFAULT_SHELL)
    if len(step_args) >= 2 and step_args[-2] == "-c":  # no source: a shell-form look
        return list(step_args[:-1])
    return list(DEFAULT_SHELL)


def prefill(step_args: Sequence[str], source: str | None) -> str:
    """The failing command as the user edits it: the Dockerfile's text, else from the args."""
    if source:
        return source
    if len(step_args) >= 2 and step_args[-2] == "-c":
        return step_args[-1]
    return json.dumps(list(step_args))


def retry_args(step_args: Sequence[str], source: str | None, cmd: str) -> list[str]:
    """The process arguments for ``cmd`` as the Dockerfile frontend would make them.

    A JSON array of strings is the exec form (run as is); anything else is shell form, run
    under the step's SHELL (``/bin/sh -c`` when the step was exec form).
    """
    args = exec_args(cmd)
    if args is not None:
        return args
    return [*_shell_prefix(step_args, source), cmd]


def not_reproduced(ex: ops_pb2.ExecOp) -> list[str]:
    """What of the step a gateway container cannot give (one phrase each)."""
    notes: list[str] = []
    for m in ex.mounts:
        if m.mountType == ops_pb2.TMPFS and m.HasField("TmpfsOpt") and m.TmpfsOpt.size:
            notes.append(f"tmpfs size of {m.dest} ({m.TmpfsOpt.size} bytes): unlimited here")
    if ex.security == ops_pb2.INSECURE:
        notes.append("security=insecure: the retry runs sandboxed")
    meta = ex.meta
    if meta.HasField("proxy_env"):
        notes.append("proxy settings (proxy_env): not set")
    if meta.ulimit:
        notes.append("ulimits: the daemon's defaults")
    if meta.cgroupParent:
        notes.append(f"cgroup parent {meta.cgroupParent}: the daemon's default")
    if meta.validExitCodes:
        notes.append("valid exit codes: only 0 counts as success here")
    if ex.cdiDevices:
        notes.append("CDI devices: not attached")
    return notes


@dataclass(frozen=True)
class Try:
    """One retry: the command and how it ended (None while it runs)."""

    command: str
    exit_code: int | None = None

    @property
    def passed(self) -> bool:
        """Whether it exited with 0."""
        return self.exit_code == 0


class TryHistory:
    """The commands tried, walked with up/down like a shell's history."""

    def __init__(self, first: str) -> None:
        self.tries: list[Try] = []
        self._draft = first
        self._pos: int | None = None  # None: the draft

    def add(self, command: str) -> None:
        """A new try starts."""
        self.tries.append(Try(command))
        self._pos = None
        self._draft = command

    def finish(self, exit_code: int) -> Try:
        """The last try ended with ``exit_code``."""
        last = Try(self.tries[-1].command, exit_code)
        self.tries[-1] = last
        return last

    @property
    def last_passed(self) -> Try | None:
        """The latest try that exited 0 (None when none did)."""
        return next((t for t in reversed(self.tries) if t.passed), None)

    def older(self, current: str) -> str:
        """The previous try's command (``current`` kept as the draft)."""
        if not self.tries:
            return current
        if self._pos is None:
            self._draft = current
            self._pos = len(self.tries) - 1
        else:
            self._pos = max(self._pos - 1, 0)
        return self.tries[self._pos].command

    def newer(self) -> str:
        """The next try's command, or the draft after the last one."""
        if self._pos is None:
            return self._draft
        self._pos += 1
        if self._pos >= len(self.tries):
            self._pos = None
            return self._draft
        return self.tries[self._pos].command


def dockerfile_ranges(sources: Sequence[SourceSnippet], filename: str
                      ) -> tuple[bytes, list[tuple[int, int]]] | None:
    """The Dockerfile bytes the frontend parsed and the failed instruction's line ranges.

    One (first, last) per location the error names in ``filename`` (several when identical
    instructions share the step); None when the error names no place in it.
    """
    found = [s for s in sources if s.language == "Dockerfile" and s.ranges
             and s.filename.rsplit("/", 1)[-1] == filename.rsplit("/", 1)[-1]]
    if not found:
        return None
    data = found[0].data
    ranges = [(min(a for a, _ in s.ranges), max(b for _, b in s.ranges))
              for s in found if s.data == data]
    return data, ranges
