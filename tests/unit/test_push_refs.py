"""``--push`` option handling and image reference splitting (no daemon)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tui.debug.engine.options import BuildOptions, OutputSpec, parse_output, with_push
from tui.debug.engine.push import ImageRef, parse_ref
from tui.debug.model.usage import OptionsError


@pytest.mark.parametrize(("ref", "want"), [
    ("127.0.0.1:5510/a/b:t1", ImageRef("127.0.0.1:5510/a/b", "t1", "127.0.0.1:5510")),
    ("127.0.0.1:5510/a/b", ImageRef("127.0.0.1:5510/a/b", "latest", "127.0.0.1:5510")),
    ("localhost/x", ImageRef("localhost/x", "latest", "localhost")),
    ("user/app:v2", ImageRef("user/app", "v2", "docker.io")),
    ("app", ImageRef("app", "latest", "docker.io")),
])
def test_parse_ref(ref: str, want: ImageRef) -> None:
    assert parse_ref(ref) == want


def test_registry_output_is_a_pushed_image() -> None:
    assert parse_output("type=registry") == OutputSpec("moby", None, (("push", "true"),))
    assert parse_output("type=registry,push=false").attrs == (("push", "false"),)


def test_push_flag_marks_or_adds_the_image_output() -> None:
    assert with_push([]) == [OutputSpec("moby", None, (("push", "true"),))]
    local = OutputSpec("local", "out")
    assert with_push([local]) == [local, OutputSpec("moby", None, (("push", "true"),))]
    image = parse_output("type=image,name-canonical=true")
    assert with_push([image])[0].attrs == (("name-canonical", "true"), ("push", "true"))


def test_push_needs_a_tag(tmp_path: Path) -> None:
    opts = BuildOptions(context=str(tmp_path), outputs=with_push([]))
    assert opts.pushes
    with pytest.raises(OptionsError, match=r"^tag is needed when pushing to registry$"):
        opts.validate()
    opts.tags = ["127.0.0.1:5510/x:t"]
    opts.validate()
    assert not BuildOptions(context=str(tmp_path)).pushes
