"""``--cache-to``/``--cache-from`` parsing and what the docker driver allows (no daemon)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tui.debug.engine.build import setup_for
from tui.debug.engine.cache import CacheSpec, parse_cache, solve_cache
from tui.debug.engine.options import BuildOptions
from tui.debug.model.usage import OptionsError


def test_parse_cache() -> None:
    assert parse_cache("reg/x:c", "--cache-from") == CacheSpec("registry", (("ref", "reg/x:c"),))
    assert parse_cache("type=registry,ref=r/x,mode=max", "--cache-to") == CacheSpec(
        "registry", (("mode", "max"), ("ref", "r/x")))
    assert parse_cache("type=inline", "--cache-to") == CacheSpec("inline")
    for bad, why in (("ref=r/x", "type= is required"), ("type=registry", "needs ref="),
                     ("type=local", "needs dest="), ("type=local,x", "expected key=value")):
        with pytest.raises(OptionsError, match=why):
            parse_cache(bad, "--cache-to")


def test_docker_driver_exports_only_inline_cache() -> None:
    inline, reg = CacheSpec("inline"), CacheSpec("registry", (("ref", "r/x"),))
    assert [e.Type for e in solve_cache([inline], [], engine=True).Exports] == ["inline"]
    with pytest.raises(OptionsError, match=r"^Cache export is not supported for the docker"):
        solve_cache([reg], [], engine=True)
    assert [e.Type for e in solve_cache([reg], [], engine=False).Exports] == ["registry"]


def test_local_import_without_index_is_skipped(tmp_path: Path) -> None:
    spec = CacheSpec("local", (("src", str(tmp_path / "none")),))
    assert not solve_cache([], [spec], engine=True).Imports
    (tmp_path / "index.json").write_text("{}")
    with pytest.raises(OptionsError, match="not supported by bxtui"):
        solve_cache([], [CacheSpec("local", (("src", str(tmp_path)),))], engine=True)


def test_imports_reach_the_solve_and_the_frontend(tmp_path: Path) -> None:
    opts = BuildOptions(context=str(tmp_path),
                        cache_from=[parse_cache("r/x:c", "--cache-from")],
                        cache_to=[parse_cache("type=inline", "--cache-to")])
    setup = setup_for(opts, engine=True)
    req = setup.request("s")
    assert [(i.Type, dict(i.Attrs)) for i in req.Cache.Imports] == [("registry", {"ref": "r/x:c"})]
    assert [e.Type for e in req.Cache.Exports] == ["inline"]
    assert json.loads(setup.frontend_attrs["cache-imports"]) == [
        {"Type": "registry", "Attrs": {"ref": "r/x:c"}}]
    assert not setup_for(BuildOptions(context=str(tmp_path)), engine=True).request("s") \
        .HasField("Cache")
