"""Pulls from the private registries (scripts/registry.sh), each beside ``docker buildx build``.

Credentials come from a docker config file (``auths``, ``credsStore``, ``credHelpers`` with a
helper script on PATH) through the session's Auth service; both registries ask for htpasswd
credentials, the second one over TLS with the script's CA.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import subprocess
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote

import pytest
from conftest import Registry
from dockerapi import DockerAPI

from tui.buildkit.client import BuildkitClient
from tui.debug.engine.options import BuildOptions
from tui.debug.engine.result import new_result_context
from tui.debug.model.invoke import InvokeConfig

pytestmark = pytest.mark.daemon

Run = Callable[..., subprocess.CompletedProcess[str]]
HELPER = "bxtuitest"


def context_from(tmp_path: Path, ref: str, run: str = "") -> Path:
    """A build context whose Dockerfile starts FROM ``ref`` (a fresh RUN: never cached)."""
    ctx = tmp_path / "ctx"
    ctx.mkdir(exist_ok=True)
    token = secrets.token_hex(4)
    (ctx / "Dockerfile").write_text(f"FROM {ref}\nRUN {run or 'echo pulled-' + token}\n")
    return ctx


def docker_config(tmp_path: Path, name: str, config: dict[str, object]) -> dict[str, str]:
    """A DOCKER_CONFIG directory holding ``config``; the environment naming it."""
    d = tmp_path / name
    d.mkdir()
    (d / "config.json").write_text(json.dumps(config))
    return {"DOCKER_CONFIG": str(d)}


def credential_helper(tmp_path: Path, reg: Registry) -> tuple[dict[str, str], Path]:
    """``docker-credential-bxtuitest`` on PATH: knows the plain registry only; logs each call."""
    bindir, calls = tmp_path / "bin", tmp_path / "helper-calls.log"
    bindir.mkdir()
    script = bindir / f"docker-credential-{HELPER}"
    answer = json.dumps({"ServerURL": reg.address, "Username": reg.user, "Secret": reg.password})
    script.write_text(
        "#!/bin/sh\n"
        'url=$(cat)\n'
        f'echo "$1 $url" >> {calls}\n'
        '[ "$1" = get ] || exit 1\n'
        f"if [ \"$url\" = {reg.address} ]; then printf '%s' '{answer}'; exit 0; fi\n"
        "echo 'credentials not found in native keychain'; exit 1\n")
    script.chmod(0o700)
    return {"PATH": f"{bindir}:{os.environ.get('PATH', '')}"}, calls


def both(run_bxtui: Run, run_buildx: Run, ctx: Path, env: dict[str, str],
         *flags: str) -> tuple[subprocess.CompletedProcess[str], subprocess.CompletedProcess[str]]:
    """The same headless build by bxtui and by buildx."""
    args = ("build", "--progress=plain", *flags, str(ctx))
    return run_bxtui(*args, env=env), run_buildx(*args, env=env)


def error_line(res: subprocess.CompletedProcess[str]) -> str:
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    return lines[-1] if lines else ""


@pytest.mark.parametrize("tls", [False, True], ids=["http", "tls"])
def test_from_private_image_with_auths(run_bxtui: Run, run_buildx: Run, registry: Registry,
                                       tmp_path: Path, tls: bool) -> None:
    host = registry.tls_address if tls else registry.address
    env = docker_config(tmp_path, "cfg", {"auths": {host: {"auth": registry.auth()}}})
    ctx = context_from(tmp_path, registry.ref(tls))
    ours, peer = both(run_bxtui, run_buildx, ctx, env)
    assert peer.returncode == 0, peer.stderr
    assert ours.returncode == 0, ours.stderr
    assert "pulled-" in ours.stderr and "pulled-" in peer.stderr


def test_from_private_image_with_credential_helpers(run_bxtui: Run, run_buildx: Run,
                                                    registry: Registry, tmp_path: Path) -> None:
    path, calls = credential_helper(tmp_path, registry)
    ctx = context_from(tmp_path, registry.ref())
    # credsStore: the helper answers for every registry
    env = path | docker_config(tmp_path, "store", {"credsStore": HELPER})
    ours, peer = both(run_bxtui, run_buildx, ctx, env)
    assert peer.returncode == 0, peer.stderr
    assert ours.returncode == 0, ours.stderr
    assert f"get {registry.address}" in calls.read_text()
    # credHelpers: the per-registry helper wins over a credsStore that does not exist
    calls.write_text("")
    env = path | docker_config(tmp_path, "helpers", {
        "credsStore": "bxtuinosuch", "credHelpers": {registry.address: HELPER}})
    ours, peer = both(run_bxtui, run_buildx, ctx, env)
    assert peer.returncode == 0, peer.stderr
    assert ours.returncode == 0, ours.stderr
    assert f"get {registry.address}" in calls.read_text()


def test_chosen_helper_hides_auths_and_a_missing_helper_is_an_error(
        run_bxtui: Run, run_buildx: Run, registry: Registry, tmp_path: Path) -> None:
    path, calls = credential_helper(tmp_path, registry)
    # the helper does not know the TLS registry: anonymous, the auths password is not used
    env = path | docker_config(tmp_path, "nf", {
        "credsStore": HELPER, "auths": {registry.tls_address: {"auth": registry.auth()}}})
    ours, peer = both(run_bxtui, run_buildx, context_from(tmp_path, registry.ref(tls=True)), env)
    assert peer.returncode != 0 and "401 Unauthorized" in error_line(peer), peer.stderr
    assert ours.returncode != 0 and "401 Unauthorized" in error_line(ours), ours.stderr
    assert f"get {registry.tls_address}" in calls.read_text()
    # a helper that is not installed: an error naming it, not an anonymous pull
    env = docker_config(tmp_path, "missing", {"credsStore": "bxtuinosuch"})
    ours, peer = both(run_bxtui, run_buildx, context_from(tmp_path, registry.ref()), env)
    for res in (peer, ours):
        line = error_line(res)
        assert res.returncode != 0, res.stderr
        assert "error getting credentials" in line and "docker-credential-bxtuinosuch" in line
        assert "401" not in line


def test_wrong_password_is_one_line_naming_the_registry(
        run_bxtui: Run, run_buildx: Run, registry: Registry, tmp_path: Path) -> None:
    wrong = "wrong-" + secrets.token_hex(6)
    env = docker_config(tmp_path, "bad",
                        {"auths": {registry.address: {"auth": registry.auth(wrong)}}})
    ours, peer = both(run_bxtui, run_buildx, context_from(tmp_path, registry.ref()), env)
    assert peer.returncode == 1 and ours.returncode == 1, ours.stderr
    line = error_line(ours)
    # the same daemon error; buildx 0.29 words its prefix "ERROR: failed to build: "
    assert line == error_line(peer).replace("ERROR: failed to build: ", "ERROR: ", 1)
    assert line.startswith("ERROR: ") and registry.address in line
    assert "401 Unauthorized" in line
    assert "Traceback" not in ours.stderr
    for secret in (wrong, registry.auth(wrong)):
        assert secret not in ours.stdout + ours.stderr


def test_pull_asks_the_registry_even_with_the_image_local(
        run_bxtui: Run, run_buildx: Run, registry: Registry, docker_host: str,
        tmp_path: Path) -> None:
    # a tag only the engine has: without --pull the engine uses it, with --pull it asks the
    # registry (here with a wrong password, so the registry's answer shows)
    tag = "pull-" + secrets.token_hex(4)
    repo = f"{registry.address}/{registry.image.split(':')[0]}"
    api = DockerAPI(docker_host)
    status, _ = api.request(
        "POST", f"/images/busybox:local/tag?repo={quote(repo, safe='')}&tag={tag}")
    assert status == 201
    try:
        env = docker_config(tmp_path, "bad", {
            "auths": {registry.address: {"auth": registry.auth("wrong-password")}}})
        ctx = context_from(tmp_path, f"{repo}:{tag}")
        ours, peer = both(run_bxtui, run_buildx, ctx, env)
        assert peer.returncode == 0, peer.stderr
        assert ours.returncode == 0, ours.stderr
        ours, peer = both(run_bxtui, run_buildx, ctx, env, "--pull")
        assert "401 Unauthorized" in error_line(peer), peer.stderr
        assert ours.returncode == 1 and "401 Unauthorized" in error_line(ours), ours.stderr
    finally:
        status, _ = api.request("DELETE", f"/images/{repo}:{tag}?noprune=1")
        assert status == 200
    # with the right credentials --pull succeeds for both
    env = docker_config(tmp_path, "good", {"auths": {registry.address: {"auth": registry.auth()}}})
    ours, peer = both(run_bxtui, run_buildx, context_from(tmp_path, registry.ref()), env, "--pull")
    assert peer.returncode == 0, peer.stderr
    assert ours.returncode == 0, ours.stderr


def test_debug_log_redacts_registry_credentials(run_bxtui: Run, run_buildx: Run,
                                                registry: Registry, tmp_path: Path) -> None:
    path, _ = credential_helper(tmp_path, registry)
    ctx = context_from(tmp_path, registry.ref())
    for name, cfg in (("auths", {"auths": {registry.address: {"auth": registry.auth()}}}),
                      ("helper", {"credHelpers": {registry.address: HELPER}})):
        env = path | docker_config(tmp_path, name, cfg)
        ours = run_bxtui("build", "-D", "--progress=plain", str(ctx), env=env)
        # the standalone docker-buildx has no -D (the docker CLI's global flag): a plain build
        peer = run_buildx("build", "--progress=plain", str(ctx), env=env)
        assert peer.returncode == 0, peer.stderr
        assert ours.returncode == 0, ours.stderr
        log = ours.stderr
        assert f"session: registry credentials for {registry.address}: found" in log, name
        for secret in (registry.password, registry.auth()):
            assert secret not in log and secret not in ours.stdout, name


async def test_debug_session_on_a_pulled_image(client: BuildkitClient, registry: Registry,
                                               tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "cfg"))
    docker_config(tmp_path, "cfg", {"auths": {registry.tls_address: {"auth": registry.auth()}}})
    token = secrets.token_hex(4)
    ctx = context_from(tmp_path, registry.ref(tls=True),
                       run=f"echo left-{token} > /left && exit 4")
    rctx, resp, err = await new_result_context(client, BuildOptions(context=str(ctx)))
    assert rctx is not None and resp is None and err is not None
    try:
        assert err.exit_code == 4 and rctx.failed
        out = bytearray()
        _, proc = await rctx.exec(
            InvokeConfig(cmd=["sh", "-c", "cat /left; busybox | head -1"], tty=False),
            lambda _fd, data: out.extend(data))
        await proc.close_stdin()
        assert await asyncio.wait_for(proc.wait(), 60) == 0, out.decode()
        text = out.decode()
        assert f"left-{token}" in text and "BusyBox" in text, text
    finally:
        await rctx.done()
