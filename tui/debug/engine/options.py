"""Build options as buildx names them, validated and turned into what BuildKit takes."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from tui.buildkit.proto import control_pb2
from tui.buildkit.session.filesync import ExportTarget
from tui.debug.model.buildflags import ATTESTATIONS_UNSUPPORTED, Ulimit, ulimit_attr
from tui.debug.model.usage import OptionsError

if TYPE_CHECKING:
    from tui.buildkit.session.secrets import SecretSource
    from tui.buildkit.session.sshforward import AgentSource
    from tui.debug.engine.cache import CacheSpec

DOCKERFILE_FRONTEND = "dockerfile.v0"

# Compiled on first use (re caches them): most builds never check a tag or a platform.
_PLATFORM = r"^[a-z0-9_.-]+(/[a-z0-9_.-]+){0,2}$|^local$"
_TAG = (
    r"^(?:[a-zA-Z0-9](?:[a-zA-Z0-9.-]*[a-zA-Z0-9])?(?::[0-9]+)?/)?"
    r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*"
    r"(?::[\w][\w.-]{0,127})?(?:@sha256:[0-9a-f]{64})?$"
)
_NAME = r"^[a-zA-Z0-9][a-zA-Z0-9_.-]*$"
#: Outputs that write an image: ``--annotation`` goes on each (the Engine's ``moby`` ignores it).
_IMAGE_OUTPUTS = frozenset({"moby", "image", "oci", "docker"})


@dataclass(frozen=True)
class OutputSpec:
    """One ``-o``/``--output``: ``moby`` (image store), ``local`` (dir) or ``tar`` (file)."""

    type: str
    dest: str | None = None
    attrs: tuple[tuple[str, str], ...] = ()


def parse_output(spec: str) -> OutputSpec:
    """Parse ``type=local,dest=DIR``, ``type=tar,dest=FILE``, ``type=docker|image`` or ``DIR``."""
    if "=" not in spec and "," not in spec:
        if spec == "-":
            raise OptionsError("output to stdout (-o -) is not supported; use type=tar,dest=FILE")
        return OutputSpec("local", spec)
    fields: dict[str, str] = {}
    for part in spec.split(","):
        key, sep, value = part.partition("=")
        if not sep:
            raise OptionsError(f"invalid --output {spec!r}: expected key=value, got {part!r}")
        fields[key.strip()] = value
    kind = fields.pop("type", "")
    dest = fields.pop("dest", None)
    if kind in ("local", "tar"):
        if not dest:
            raise OptionsError(f"invalid --output {spec!r}: type={kind} needs dest=")
        if dest == "-":
            raise OptionsError("output to stdout (dest=-) is not supported; give a file")
        return OutputSpec(kind, dest, tuple(sorted(fields.items())))
    if kind == "registry":  # buildx: type=image with push=true unless given
        fields.setdefault("push", "true")
        kind = "image"
    if kind in ("docker", "image", "moby"):
        if dest:
            raise OptionsError(f"invalid --output {spec!r}: dest= is not supported for {kind}")
        return OutputSpec("moby", None, tuple(sorted(fields.items())))
    if not kind:
        raise OptionsError(f"invalid --output {spec!r}: type= is required")
    raise OptionsError(f"unsupported output type {kind!r} (use local, tar, docker or image)")


@contextmanager
def dockerfile_from_stdin(stream: BinaryIO) -> Iterator[str]:
    """``-f -``: the Dockerfile read from ``stream``, as a file in a private temporary dir.

    Yields the file's path; the directory (0700) is removed on exit.
    """
    import shutil
    import tempfile

    data = stream.read()
    folder = tempfile.mkdtemp(prefix="bxtui-dockerfile-")
    try:
        path = os.path.join(folder, "Dockerfile")
        with open(path, "wb") as out:
            out.write(data)
        yield path
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def parse_key_values(values: list[str], flag: str, environ: Mapping[str, str]) -> dict[str, str]:
    """``K=V`` items; a bare ``K`` takes its value from the environment (skipped if unset)."""
    out: dict[str, str] = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not key:
            raise OptionsError(f"invalid {flag} {item!r}: expected KEY=VALUE")
        if not sep:
            if key in environ:
                out[key] = environ[key]
            continue
        out[key] = value
    return out


def _check_tar_dest(dest: str) -> None:
    """A tar output's file must be creatable before the build runs (buildx opens it first)."""
    if os.path.isdir(dest):
        raise OptionsError(f"failed to open {dest}: is a directory")
    if not os.path.isdir(os.path.dirname(os.path.abspath(dest))):
        raise OptionsError(f"failed to open {dest}: no such file or directory")


@dataclass
class BuildOptions:
    """What ``bxtui build`` was asked to build, with buildx's flag semantics."""

    context: str
    dockerfile: str | None = None
    target: str | None = None
    build_args: dict[str, str] = field(default_factory=dict)
    build_contexts: dict[str, str] = field(default_factory=dict)
    platforms: list[str] = field(default_factory=list)
    no_cache: bool = False
    no_cache_filter: list[str] = field(default_factory=list)
    pull: bool = False
    network: str | None = None
    add_hosts: list[str] = field(default_factory=list)
    labels: dict[str, str] = field(default_factory=dict)
    tags: list[str] = field(default_factory=list)
    outputs: list[OutputSpec] = field(default_factory=list)
    secrets: list[SecretSource] = field(default_factory=list)
    allow: list[str] = field(default_factory=list)
    #: ``--shm-size`` in bytes (0: the daemon's default).
    shm_size: int = 0
    ulimits: list[Ulimit] = field(default_factory=list)
    cgroup_parent: str = ""
    #: Exporter attributes of ``--annotation`` (on every image output).
    annotations: dict[str, str] = field(default_factory=dict)
    #: ``attest:TYPE`` frontend attributes of ``--attest``/``--sbom``/``--provenance``.
    attests: dict[str, str] = field(default_factory=dict)
    ssh: dict[str, AgentSource] = field(default_factory=dict)
    """``--ssh`` agents by ID (resolved and checked when parsed)."""
    cache_to: list[CacheSpec] = field(default_factory=list)
    cache_from: list[CacheSpec] = field(default_factory=list)

    def validate(self) -> None:
        """Check paths and values before any daemon is contacted."""
        ctx = Path(self.context)
        if not ctx.exists():
            raise OptionsError(f'unable to prepare context: path "{self.context}" not found')
        if not ctx.is_dir():
            raise OptionsError(f'unable to prepare context: "{self.context}" is not a directory')
        folder = self.dockerfile_dir
        if not folder.exists():
            # buildx: fsutil resolving the local dir it serves as "dockerfile"
            raise OptionsError(f"failed to read dockerfile: lstat {folder}: no such file or "
                               "directory")
        if not folder.is_dir():
            raise OptionsError(f"failed to read dockerfile: {folder} is not a directory")
        for p in self.platforms:
            if not re.match(_PLATFORM, p):
                raise OptionsError(f"invalid --platform {p!r}: expected os/arch[/variant]")
        for t in self.tags:
            if not re.match(_TAG, t):
                raise OptionsError(f"invalid tag {t!r}: invalid reference format")
        for name, path in self.build_contexts.items():
            if not re.match(_NAME, name):
                raise OptionsError(f"invalid --build-context name {name!r}")
            if "://" not in path and not Path(path).is_dir():
                raise OptionsError(f"invalid --build-context {name}={path}: not a directory")
        if self.network not in (None, "", "default", "host", "none"):
            raise OptionsError(
                f"network mode {self.network!r} not supported by buildkit (use default, host, none)"
            )
        for h in self.add_hosts:
            self._host_entry(h)
        for a in self.allow:
            if a not in ("network.host", "security.insecure"):
                raise OptionsError(f"invalid --allow {a!r} (network.host or security.insecure)")
        for out in self.outputs:
            if out.type == "tar" and out.dest:
                _check_tar_dest(out.dest)
        moby = [o for o in self.outputs if o.type == "moby"]
        if len(moby) > 1:
            raise OptionsError("only one docker/image output is supported")
        if self.pushes and not self.tags:
            raise OptionsError("tag is needed when pushing to registry")

    @staticmethod
    def _host_entry(value: str) -> str:
        for sep in ("=", ":"):
            host, found, ip = value.partition(sep)
            if found and host and ip:
                return f"{host}={ip}"
        raise OptionsError(f"invalid --add-host {value!r}: expected host:ip")

    @property
    def dockerfile_dir(self) -> Path:
        """The directory served as the frontend's ``dockerfile`` source."""
        if self.dockerfile:
            return Path(self.dockerfile).parent
        return Path(self.context)

    @property
    def dockerfile_name(self) -> str:
        """The ``filename`` the frontend reads in :attr:`dockerfile_dir`.

        Whether the file exists is the frontend's to say. As buildx does, a default-named
        ``Dockerfile`` falls back to a lowercase ``dockerfile`` when only that one exists.
        """
        name = Path(self.dockerfile).name if self.dockerfile else "Dockerfile"
        if name != "Dockerfile":
            return name
        try:
            names = set(os.listdir(self.dockerfile_dir))
        except OSError:
            return name
        if name not in names and "dockerfile" in names:
            return "dockerfile"
        return name

    def local_dirs(self) -> dict[str, str]:
        """Directories the session serves, by the frontend's local names."""
        dirs = {
            "context": os.path.abspath(self.context),
            "dockerfile": os.path.abspath(self.dockerfile_dir),
        }
        for name, path in self.build_contexts.items():
            if "://" not in path:
                dirs[name] = os.path.abspath(path)
        return dirs

    def frontend_opts(self, *, engine: bool) -> dict[str, str]:
        """``dockerfile.v0`` options for these flags.

        On a Docker Engine builder, images are resolved from the engine's store first unless
        ``--pull`` is given, as buildx's docker driver asks (``image-resolve-mode=local``); the
        image ops, and so every step's digest, then match buildx's.
        """
        opts = {"filename": self.dockerfile_name}
        if self.target:
            opts["target"] = self.target
        for k, v in self.build_args.items():
            opts[f"build-arg:{k}"] = v
        for k, v in self.labels.items():
            opts[f"label:{k}"] = v
        for name, path in self.build_contexts.items():
            opts[f"context:{name}"] = path if "://" in path else f"local:{name}"
        if self.platforms:
            opts["platform"] = ",".join(self.platforms)
        if self.no_cache:
            opts["no-cache"] = ""
        elif self.no_cache_filter:
            opts["no-cache"] = ",".join(self.no_cache_filter)
        if self.pull:
            opts["image-resolve-mode"] = "pull"
        elif engine:
            opts["image-resolve-mode"] = "local"
        if self.network in ("host", "none"):
            opts["force-network-mode"] = self.network
        if self.add_hosts:
            opts["add-hosts"] = ",".join(self._host_entry(h) for h in self.add_hosts)
        if self.shm_size > 0:
            opts["shm-size"] = str(self.shm_size)
        if self.ulimits:
            opts["ulimit"] = ulimit_attr(self.ulimits)
        if self.cgroup_parent:
            opts["cgroup-parent"] = self.cgroup_parent
        opts.update(self.attests)
        return opts

    def entitlements(self) -> list[str]:
        """Entitlements asked of the daemon (``--allow``; ``--network=host`` implies one)."""
        ents = list(dict.fromkeys(self.allow))
        if self.network == "host" and "network.host" not in ents:
            ents.append("network.host")
        return ents

    def exporters(self, engine: bool) -> tuple[list[control_pb2.Exporter], list[ExportTarget]]:
        """Exporters for Control.Solve and the session's FileSend targets, by index.

        On a Docker Engine with no output given the image is loaded into the engine's store
        and tagged with every ``-t``, as buildx's docker driver does.
        """
        if engine and self.attests:
            raise OptionsError(ATTESTATIONS_UNSUPPORTED)
        outputs = list(self.outputs)
        if not outputs and engine:
            outputs = [OutputSpec("moby")]
        exporters: list[control_pb2.Exporter] = []
        targets: list[ExportTarget] = []
        for out in outputs:
            attrs = dict(out.attrs)
            if out.type in _IMAGE_OUTPUTS:
                attrs.update(self.annotations)
            if out.type == "moby":
                if not engine:
                    raise OptionsError("type=docker/image outputs need a Docker Engine builder")
                if self.tags:
                    attrs["name"] = ",".join(self.tags)
                exporters.append(control_pb2.Exporter(Type="moby", Attrs=attrs))
                targets.append(ExportTarget("none", ""))
            else:
                exporters.append(control_pb2.Exporter(Type=out.type, Attrs=attrs))
                targets.append(ExportTarget(out.type, os.path.abspath(out.dest or "")))
        return exporters, targets

    @property
    def pushes(self) -> bool:
        """Whether the image is pushed after the solve (``push=true`` on its output)."""
        return any(o.type == "moby" and dict(o.attrs).get("push") in ("true", "1")
                   for o in self.outputs)


def with_push(outputs: list[OutputSpec]) -> list[OutputSpec]:
    """``--push``: ``push=true`` on every image output, or a pushed image output added."""
    if not any(o.type == "moby" for o in outputs):
        return [*outputs, OutputSpec("moby", None, (("push", "true"),))]
    return [OutputSpec(o.type, o.dest, tuple(sorted({**dict(o.attrs), "push": "true"}.items())))
            if o.type == "moby" else o for o in outputs]
