"""Registry credentials for the daemon, from the docker CLI configuration."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import shutil
from collections.abc import Mapping
from pathlib import Path

import grpc

from tui.buildkit import debuglog
from tui.buildkit.proto import auth_pb2, auth_pb2_grpc
from tui.buildkit.session.rpc import abort

DOCKER_HUB_KEY = "https://index.docker.io/v1/"


def _config_path(environ: Mapping[str, str]) -> Path:
    if environ.get("DOCKER_CONFIG"):
        return Path(environ["DOCKER_CONFIG"]) / "config.json"
    return Path(environ.get("HOME", "~")).expanduser() / ".docker" / "config.json"


def _key_for(host: str) -> str:
    return DOCKER_HUB_KEY if host in ("registry-1.docker.io", "docker.io") else host


class CredentialsError(Exception):
    """The configured credential helper failed (as opposed to: it has no entry)."""


_NOT_FOUND = "credentials not found in native keychain"
_HELPER_TIMEOUT = 30.0


async def _from_helper(helper: str, key: str, environ: Mapping[str, str]) -> tuple[str, str]:
    """``docker-credential-HELPER get`` for ``key``; ("", "") when it has no entry."""
    name = f"docker-credential-{helper}"
    exe = shutil.which(name, path=environ.get("PATH", os.defpath))
    if exe is None:
        raise CredentialsError(f"error getting credentials - {name}: not found on PATH")
    try:
        proc = await asyncio.create_subprocess_exec(
            exe, "get",
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
    except OSError as exc:
        raise CredentialsError(
            f"error getting credentials - {name}: {exc.strerror or exc}") from None
    try:
        out, _ = await asyncio.wait_for(proc.communicate(key.encode()), _HELPER_TIMEOUT)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise CredentialsError(f"error getting credentials - {name} gave no answer "
                               f"in {_HELPER_TIMEOUT:.0f} s") from None
    text = out.decode("utf-8", "replace").strip()
    if proc.returncode != 0:
        if _NOT_FOUND in text:
            return "", ""
        detail = text.splitlines()[0][:200] if text else "no output"
        raise CredentialsError(
            f"error getting credentials - {name} exited with status {proc.returncode}: {detail}")
    try:
        data = json.loads(text)
    except ValueError:
        raise CredentialsError(f"error getting credentials - {name} printed no JSON") from None
    if not isinstance(data, dict):
        raise CredentialsError(f"error getting credentials - {name} printed no JSON object")
    user, secret = str(data.get("Username") or ""), str(data.get("Secret") or "")
    if user == "<token>":  # an identity token
        return "", secret
    return user, secret


def _host_part(key: str) -> str:
    return key.split("://", 1)[-1].split("/", 1)[0]


def _auths_entry(auths: Mapping[str, object], key: str, host: str) -> Mapping[str, object]:
    """The ``auths`` entry for a registry: the exact key, else one whose host part matches."""
    entry = auths.get(key)
    if entry is None:
        entry = next((v for k, v in auths.items() if _host_part(k) == host), None)
    return entry if isinstance(entry, dict) else {}


def _from_auths(entry: Mapping[str, object]) -> tuple[str, str]:
    if entry.get("identitytoken"):
        return "", str(entry["identitytoken"])
    encoded = entry.get("auth")
    if isinstance(encoded, str) and encoded:
        debuglog.register_secret(encoded)
        try:
            user, _, secret = base64.b64decode(encoded).decode().partition(":")
        except ValueError:
            return "", ""
        return user, secret.rstrip("\x00")
    return str(entry.get("username", "")), str(entry.get("password", ""))


async def lookup_credentials(host: str, environ: Mapping[str, str]) -> tuple[str, str]:
    """(username, secret) for a registry host; empty strings mean anonymous.

    As the docker CLI: ``credHelpers[host]``, else ``credsStore``, else ``auths``; once a
    helper is chosen ``auths`` is not consulted.  Raises :class:`CredentialsError` when the
    helper fails (missing, crashing), which the daemon reports as the build's error.
    """
    try:
        cfg = json.loads(_config_path(environ).read_text())
    except (OSError, ValueError):
        return "", ""
    if not isinstance(cfg, dict):
        return "", ""
    key = _key_for(host)
    helpers = cfg.get("credHelpers") or {}
    helper = (helpers.get(key) if isinstance(helpers, dict) else None) or cfg.get("credsStore")
    if isinstance(helper, str) and helper:
        return await _from_helper(helper, key, environ)
    auths = cfg.get("auths") or {}
    if not isinstance(auths, dict):
        return "", ""
    return _from_auths(_auths_entry(auths, key, host))


class AuthService(auth_pb2_grpc.AuthServicer):
    """Credentials from the docker config (anonymous otherwise); no client-side tokens."""

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        self._environ = os.environ if environ is None else environ

    async def Credentials(
        self, request: auth_pb2.CredentialsRequest, context: grpc.aio.ServicerContext
    ) -> auth_pb2.CredentialsResponse:
        """Username and secret for the requested host."""
        try:
            user, secret = await lookup_credentials(request.Host, self._environ)
        except CredentialsError as exc:
            debuglog.LOG.debug("session: registry credentials for %s: %s", request.Host, exc)
            await abort(context, grpc.StatusCode.UNKNOWN, str(exc))
        if secret:
            debuglog.register_secret(secret)
        debuglog.LOG.debug("session: registry credentials for %s: %s", request.Host,
                           "found" if secret else "anonymous")
        return auth_pb2.CredentialsResponse(Username=user, Secret=secret)

    async def GetTokenAuthority(
        self, request: auth_pb2.GetTokenAuthorityRequest, context: grpc.aio.ServicerContext
    ) -> auth_pb2.GetTokenAuthorityResponse:
        """No token authority: the daemon then fetches tokens itself with Credentials."""
        await abort(context, grpc.StatusCode.UNIMPLEMENTED, "no token authority")

    async def FetchToken(
        self, request: auth_pb2.FetchTokenRequest, context: grpc.aio.ServicerContext
    ) -> auth_pb2.FetchTokenResponse:
        """Not offered (only used after GetTokenAuthority returned a key)."""
        await abort(context, grpc.StatusCode.UNIMPLEMENTED, "tokens are fetched by the daemon")
