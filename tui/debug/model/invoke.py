"""What to run in a debug container: buildx's InvokeConfig, resolved against a step or image."""

from __future__ import annotations

import csv
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from tui.buildkit.proto import ops_pb2
from tui.debug.model.state import StateKind
from tui.debug.model.usage import OptionsError


class InvokeError(OptionsError):
    """An ``--invoke`` value or a debug request that cannot be honoured (one line)."""


@dataclass
class InvokeConfig:
    """The process to start, as buildx's InvokeConfig.

    ``user``/``cwd`` left as None take the failed step's (or the image's) values; buildx's
    ``no_user``/``no_cwd`` force that even when a value is given.  ``state`` INITIAL asks for
    the failed step's state *before* it ran.  ``entrypoint``/``cmd`` None means: not given.
    """

    entrypoint: list[str] | None = None
    cmd: list[str] | None = None
    env: list[str] = field(default_factory=list)
    user: str | None = None
    cwd: str | None = None
    tty: bool = True
    no_user: bool = False
    no_cwd: bool = False
    state: StateKind = StateKind.FINAL


def parse_invoke(value: str) -> InvokeConfig:
    """Parse ``--invoke``: a command (``/bin/sh``), ``default``, ``on-error``, or CSV ``k=v``.

    CSV keys as buildx: ``args`` (repeatable), ``entrypoint`` (repeatable), ``env``
    (repeatable), ``user``, ``cwd``, ``tty``.
    """
    cfg = InvokeConfig()
    if value in ("default", ""):
        return cfg
    if value == "on-error":
        cfg.cmd = ["/bin/sh"]
        return cfg
    try:
        fields = next(csv.reader([value]))
    except (csv.Error, StopIteration):
        raise InvokeError(f"invalid --invoke {value!r}") from None
    if len(fields) == 1 and "=" not in fields[0]:
        cfg.cmd = [fields[0]]
        return cfg
    for item in fields:
        key, sep, val = item.partition("=")
        if not sep:
            raise InvokeError(f"invalid --invoke value {item!r}: expected key=value")
        key = key.strip().lower()
        if key == "args":
            cfg.cmd = [*(cfg.cmd or []), val]
        elif key == "entrypoint":
            cfg.entrypoint = [*(cfg.entrypoint or []), val]
        elif key == "env":
            cfg.env.append(val)
        elif key == "user":
            cfg.user = val
        elif key == "cwd":
            cfg.cwd = val
        elif key == "tty":
            if val.lower() not in ("true", "false", "1", "0"):
                raise InvokeError(f"invalid --invoke tty={val!r}: expected true or false")
            cfg.tty = val.lower() in ("true", "1")
        else:
            raise InvokeError(f"invalid --invoke key {key!r}")
    return cfg


@dataclass(frozen=True)
class ProcessSpec:
    """A resolved process: arguments, environment, user, working directory, tty."""

    args: list[str]
    env: list[str]
    user: str
    cwd: str
    tty: bool
    #: Secrets given as environment variables (``RUN --mount=type=secret,env=...``).
    secretenv: tuple[ops_pb2.SecretEnv, ...] = ()

    def meta(self) -> ops_pb2.Meta:
        """The pb.Meta of the ExecProcess Init message."""
        return ops_pb2.Meta(args=self.args, env=self.env, user=self.user, cwd=self.cwd)


def _pick(given: str | None, forced: bool, fallback: str) -> str:
    return fallback if forced or given is None else given


def spec_from_step(meta: ops_pb2.Meta, cfg: InvokeConfig) -> ProcessSpec:
    """Resolve against a failed RUN's meta (the seed's populateProcessConfigFromError).

    Arguments: entrypoint + cmd when given, else the step's own command.  Environment: the
    step's, then the config's.  User and cwd: the config's when given, else the step's.
    """
    args = [*(cfg.entrypoint or []), *(cfg.cmd or [])] or list(meta.args)
    return ProcessSpec(
        args=args,
        env=[*meta.env, *cfg.env],
        user=_pick(cfg.user, cfg.no_user, meta.user),
        cwd=_pick(cfg.cwd, cfg.no_cwd, meta.cwd),
        tty=cfg.tty,
    )


def spec_from_image(image_config: Mapping[str, Any] | None, cfg: InvokeConfig) -> ProcessSpec:
    """Resolve against an image config (the seed's populateProcessConfigFromResult)."""
    conf: Mapping[str, Any] = (image_config or {}).get("config") or {}
    entry = cfg.entrypoint if cfg.entrypoint is not None else list(conf.get("Entrypoint") or [])
    cmd = cfg.cmd if cfg.cmd is not None else list(conf.get("Cmd") or [])
    return ProcessSpec(
        args=[*entry, *cmd],
        env=[*(conf.get("Env") or []), *cfg.env],
        user=_pick(cfg.user, cfg.no_user, str(conf.get("User") or "")),
        cwd=_pick(cfg.cwd, cfg.no_cwd, str(conf.get("WorkingDir") or "")),
        tty=cfg.tty,
    )


def load_image_config(raw: bytes | None) -> dict[str, Any] | None:
    """Parse the ``containerimage.config`` JSON of a result; None when absent or invalid."""
    if not raw:
        return None
    try:
        data = json.loads(raw)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None
