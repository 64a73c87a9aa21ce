"""Registry credential lookup from a docker config file, as the docker CLI does it."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from tui.buildkit import debuglog
from tui.buildkit.session.auth import CredentialsError, lookup_credentials

HOST = "127.0.0.1:5999"


def config(tmp_path: Path, cfg: dict[str, object], helper: str | None = None) -> dict[str, str]:
    (tmp_path / "config.json").write_text(json.dumps(cfg))
    env = {"DOCKER_CONFIG": str(tmp_path), "PATH": str(tmp_path / "bin")}
    if helper is not None:
        (tmp_path / "bin").mkdir()
        script = tmp_path / "bin" / "docker-credential-t"
        script.write_text("#!/bin/sh\nurl=$(cat)\n" + helper)
        script.chmod(0o700)
    return env


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


async def test_auths_by_exact_key_or_host_part_and_redacted(tmp_path: Path) -> None:
    encoded = b64("me:pa:ss-word-1")
    env = config(tmp_path, {"auths": {f"https://{HOST}/v2/": {"auth": encoded}}})
    assert await lookup_credentials(HOST, env) == ("me", "pa:ss-word-1")
    assert debuglog.redact(f"x {encoded} y") == f"x {debuglog.MASK} y"
    env = config(tmp_path, {"auths": {HOST: {"identitytoken": "tok-abcdef"}}})
    assert await lookup_credentials(HOST, env) == ("", "tok-abcdef")
    assert await lookup_credentials("other:1", env) == ("", "")


async def test_helper_answers_or_not_found_means_anonymous(tmp_path: Path) -> None:
    helper = ('[ "$url" = ' + HOST + ' ] && printf \'{"Username":"<token>","Secret":"idt"}\' '
              "&& exit 0\necho 'credentials not found in native keychain'; exit 1\n")
    env = config(tmp_path, {"credsStore": "t", "auths": {"other:1": {"auth": b64("u:p")}}},
                 helper)
    assert await lookup_credentials(HOST, env) == ("", "idt")
    # a chosen helper hides auths: not found -> anonymous
    assert await lookup_credentials("other:1", env) == ("", "")


async def test_failing_or_missing_helper_is_an_error(tmp_path: Path) -> None:
    env = config(tmp_path, {"credHelpers": {HOST: "t"}}, "echo boom >&2; exit 2\n")
    with pytest.raises(CredentialsError, match="docker-credential-t exited with status 2: boom"):
        await lookup_credentials(HOST, env)
    env = config(tmp_path, {"credsStore": "absent"})
    with pytest.raises(CredentialsError, match="docker-credential-absent"):
        await lookup_credentials(HOST, env)
