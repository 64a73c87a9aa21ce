"""The open debug processes and their containers (buildx monitor's ``ps``, ``exec``, ``kill``).

Every shell a session opens is registered here with a short id.  A second process can be
exec'd into the container of a registered one (same filesystem, same process namespace);
any of them can be ended.  BuildKit ties a container's processes together: when one of them
ends in error (a kill included), the daemon ends the others, and the container is released
once its first process has exited.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import enum
import itertools
from dataclasses import dataclass

from tui.debug.engine.container import Container, ContainerProcess, OutputFn
from tui.debug.engine.shell import Shell

__all__ = ["END_TIMEOUT", "ProcessInfo", "ProcessRegistry", "Role", "Unavailable"]

#: Seconds :meth:`ProcessRegistry.end` waits for the process to be gone after the kill.
END_TIMEOUT = 10.0


class Unavailable(Exception):
    """No process can be exec'd there: the container has ended (one line)."""


class Role(enum.StrEnum):
    """What a process is to its container."""

    INIT = "init"
    """The container's first process: when it exits, the container is released."""
    EXEC = "exec"
    """A process exec'd into a running container."""


@dataclass(frozen=True)
class ProcessInfo:
    """One row of the process list."""

    pid: str
    """Short id, ``1``, ``2``...: shown in tabs and the list."""
    label: str
    """Where it runs, in words."""
    command: str
    container: str
    """The container's id (shared by a shell and what was exec'd into it)."""
    role: Role
    running: bool
    status: str
    """How it ended ("still running" while it runs)."""


@dataclass
class _Entry:
    shell: Shell
    container: Container | None
    role: Role
    pid: str


class ProcessRegistry:
    """The session's shells by id, with their containers; exec into one, end one."""

    def __init__(self) -> None:
        self._entries: dict[str, _Entry] = {}
        self._ids = itertools.count(1)

    def add(self, shell: Shell, containers: list[Container], role: Role = Role.INIT) -> str:
        """Register ``shell`` (its container looked up in ``containers``); its id."""
        pid = str(next(self._ids))
        self._entries[pid] = _Entry(shell, self._container_of(shell, containers), role, pid)
        return pid

    @staticmethod
    def _container_of(shell: Shell, containers: list[Container]) -> Container | None:
        current = shell.proc.current
        for ctr in containers:
            if any(p is current for p in ctr.processes):
                return ctr
        return None

    def pid_of(self, shell: Shell) -> str | None:
        """The id ``shell`` was registered with."""
        return next((e.pid for e in self._entries.values() if e.shell is shell), None)

    def shell(self, pid: str) -> Shell | None:
        """The shell registered as ``pid``."""
        entry = self._entries.get(pid)
        return entry.shell if entry is not None else None

    def listing(self) -> list[ProcessInfo]:
        """Every registered process, oldest first."""
        return [self._info(e) for e in self._entries.values()]

    def _info(self, e: _Entry) -> ProcessInfo:
        proc = self._process(e)
        command = " ".join(proc.spec.args) if proc is not None else ""
        return ProcessInfo(pid=e.pid, label=e.shell.label, command=command,
                           container=e.container.id if e.container is not None else "",
                           role=e.role, running=not e.shell.finished,
                           status=e.shell.exit_message())

    @staticmethod
    def _process(e: _Entry) -> ContainerProcess | None:
        if e.container is None:
            return None
        current = e.shell.proc.current
        return next((p for p in e.container.processes if p is current), None)

    def exec_target(self, shell: Shell) -> tuple[Container, ContainerProcess]:
        """The running container of ``shell`` and its process (raises Unavailable)."""
        entry = next((e for e in self._entries.values() if e.shell is shell), None)
        if entry is None or entry.container is None:
            raise Unavailable("that shell has no container to exec into")
        first = self._process(entry)
        if entry.container.released or first is None or shell.finished:
            raise Unavailable("that shell's container has ended: open a new shell first")
        return entry.container, first

    async def exec_in(self, shell: Shell, args: list[str], on_output: OutputFn,
                      rows: int, cols: int) -> ContainerProcess:
        """Start ``args`` in ``shell``'s container, with its user, env, cwd and tty."""
        ctr, first = self.exec_target(shell)
        spec = dataclasses.replace(first.spec, args=list(args))
        return await ctr.start(spec, on_output, rows, cols)

    def siblings(self, pid: str) -> list[str]:
        """The other running processes of ``pid``'s container (ending ``pid`` ends them)."""
        entry = self._entries.get(pid)
        if entry is None or entry.container is None:
            return []
        return [e.pid for e in self._entries.values() if e is not entry
                and e.container is entry.container and not e.shell.finished]

    async def end(self, pid: str) -> bool:
        """End process ``pid`` (SIGKILL, then its exit awaited); False when already ended.

        The daemon then ends the other processes of its container too (see :meth:`siblings`).
        """
        entry = self._entries.get(pid)
        if entry is None or entry.shell.finished:
            return False
        await entry.shell.kill()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(END_TIMEOUT):
                await entry.shell.proc.wait()
        return True
