"""``--cache-to``/``--cache-from`` as buildx parses them and as the docker driver allows them."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass

from tui.buildkit.proto import control_pb2
from tui.debug.model.usage import OptionsError

#: buildx's refusal (``notSupported``) of a cache export the graphdriver engine cannot do.
NO_CACHE_EXPORT = ("Cache export is not supported for the docker driver. Switch to a different "
                   "driver, or turn on the containerd image store, and try again.")


@dataclass(frozen=True)
class CacheSpec:
    """One ``--cache-to``/``--cache-from`` entry: a backend type and its attributes."""

    type: str
    attrs: tuple[tuple[str, str], ...] = ()

    def entry(self) -> control_pb2.CacheOptionsEntry:
        """The Control.Solve cache entry."""
        return control_pb2.CacheOptionsEntry(Type=self.type, Attrs=dict(self.attrs))


def parse_cache(spec: str, flag: str) -> CacheSpec:
    """``type=T,k=v,...``; a bare value is ``type=registry,ref=VALUE`` (buildx)."""
    if "=" not in spec:
        return CacheSpec("registry", (("ref", spec),))
    fields: dict[str, str] = {}
    for part in spec.split(","):
        key, sep, value = part.partition("=")
        if not sep:
            raise OptionsError(f"invalid {flag} {spec!r}: expected key=value, got {part!r}")
        fields[key.strip().lower()] = value
    kind = fields.pop("type", "")
    if not kind:
        raise OptionsError(f"invalid {flag} {spec!r}: type= is required")
    if kind == "registry" and not fields.get("ref"):
        raise OptionsError(f"invalid {flag} {spec!r}: type=registry needs ref=")
    if kind == "local":
        need = "dest" if flag == "--cache-to" else "src"
        if not fields.get(need):
            raise OptionsError(f"invalid {flag} {spec!r}: type=local needs {need}=")
    return CacheSpec(kind, tuple(sorted(fields.items())))


def check_cache_exports(exports: list[CacheSpec], engine: bool) -> None:
    """The docker driver (graphdriver engine) exports only ``inline`` cache, as buildx says."""
    if engine and any(e.type != "inline" for e in exports):
        raise OptionsError(NO_CACHE_EXPORT)


def local_import_missing(spec: CacheSpec) -> str | None:
    """The warning buildx gives for a ``type=local`` import whose ``index.json`` is not there."""
    src = dict(spec.attrs).get("src", "")
    index = os.path.join(src, "index.json")
    if os.path.isfile(index):
        return None
    return (f"local cache import at {src} not found due to err: could not lock "
            f"{index}.lock: open {index}.lock: no such file or directory")


def imports_attr(imports: list[CacheSpec]) -> str:
    """The frontend attribute ``cache-imports``: JSON ``[{"Type", "Attrs"}]``."""
    return json.dumps([{"Type": i.type, "Attrs": dict(i.attrs)} for i in imports])


def solve_cache(exports: list[CacheSpec], imports: list[CacheSpec],
                engine: bool) -> control_pb2.CacheOptions:
    """Control.Solve's cache options; raises OptionsError for what the builder cannot do.

    A ``type=local`` import with no ``index.json`` is skipped (buildx warns and goes on); one
    that exists needs the session's content store, which bxtui does not serve.
    """
    check_cache_exports(exports, engine)
    kept = []
    for spec in imports:
        if spec.type == "local":
            if local_import_missing(spec) is not None:
                continue
            raise OptionsError("type=local cache import is not supported by bxtui yet "
                               "(it needs the session's content store)")
        kept.append(spec)
    return control_pb2.CacheOptions(Exports=[e.entry() for e in exports],
                                    Imports=[i.entry() for i in kept])
