"""libghostty-vt's cffi declarations, compiled once into a cached module.

pyghostty declares the library at import time through cffi's pure-Python C parser: about
0.3 s, plus as much again for the first types used, with the GIL held. cffi's "out-of-line"
ABI mode does that parsing once and writes a small Python module holding the parsed types,
which imports in milliseconds. We generate that module on first use into a private cache
directory (``$XDG_CACHE_HOME/bxtui``, mode 0700), keyed by the declarations' digest, and
load the library through it; any problem falls back to pyghostty's own loader.
"""

from __future__ import annotations

import ast
import contextlib
import hashlib
import importlib.util
import os
import stat
import tempfile
from pathlib import Path
from typing import Any


def _package_dir() -> Path:
    spec = importlib.util.find_spec("pyghostty")  # finds it without running its __init__
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("pyghostty is not installed")
    return Path(next(iter(spec.submodule_search_locations)))


def library_path(pkg: Path) -> str:
    """Where pyghostty's libghostty-vt is (``PYGHOSTTY_LIB`` first, as pyghostty does)."""
    env = os.environ.get("PYGHOSTTY_LIB")
    if env:
        return env
    for ext in (".so", ".dylib", ".dll"):
        candidate = pkg / "_lib" / f"libghostty-vt{ext}"
        if candidate.exists():
            return str(candidate)
    raise OSError(f"libghostty-vt not found in {pkg / '_lib'}")


def cache_dir() -> Path:
    """The private directory the generated module lives in."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "bxtui"


def _private(path: Path) -> bool:
    """Owned by us and writable by nobody else (we import code from here)."""
    st = path.stat()
    return st.st_uid == os.getuid() and not st.st_mode & (stat.S_IWGRP | stat.S_IWOTH)


def _generate(cdef: str, extra: str, name: str, target: Path) -> None:
    import cffi
    from cffi.recompiler import make_py_source

    builder = cffi.FFI()
    builder.cdef(cdef)
    builder.cdef(extra)
    fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".py", dir=target.parent)
    os.close(fd)
    try:
        make_py_source(builder, name, tmp)
        os.chmod(tmp, 0o600)
        os.replace(tmp, target)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


def load(extra_cdef: str) -> tuple[Any, Any]:
    """``(ffi, lib)`` for libghostty-vt with ``extra_cdef`` declared too."""
    import cffi

    pkg = _package_dir()
    source = (pkg / "_cdef.py").read_bytes()
    digest = hashlib.sha256(source + extra_cdef.encode() + cffi.__version__.encode())
    name = f"_bxtui_ghostty_{digest.hexdigest()[:16]}"
    folder = cache_dir()
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    target = folder / f"{name}.py"
    if not _private(folder):
        raise PermissionError(f"{folder} is not private")
    if not target.exists():
        tree = ast.parse(source)
        cdef = next(
            ast.literal_eval(node.value) for node in tree.body
            if isinstance(node, ast.Assign)
            and any(isinstance(t, ast.Name) and t.id == "CDEF" for t in node.targets)
        )
        _generate(cdef, extra_cdef, name, target)
    if not _private(target):
        raise PermissionError(f"{target} is not private")
    spec = importlib.util.spec_from_file_location(name, target)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {target}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    ffi = module.ffi
    return ffi, ffi.dlopen(library_path(pkg))
