"""Registry credentials for the daemon, from the docker CLI configuration."""

from __future__ import annotations

import asyncio
import base64
import json
import os
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


async def _from_helper(helper: str, key: str) -> tuple[str, str] | None:
    try:
        proc = await asyncio.create_subprocess_exec(
            f"docker-credential-{helper}", "get",
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
        )
    except OSError:
        return None
    out, _ = await asyncio.wait_for(proc.communicate(key.encode()), 30)
    if proc.returncode != 0:
        return None
    try:
        data = json.loads(out)
        return str(data.get("Username", "")), str(data.get("Secret", ""))
    except ValueError:
        return None


async def lookup_credentials(host: str, environ: Mapping[str, str]) -> tuple[str, str]:
    """(username, secret) for a registry host; empty strings mean anonymous."""
    try:
        cfg = json.loads(_config_path(environ).read_text())
    except (OSError, ValueError):
        return "", ""
    if not isinstance(cfg, dict):
        return "", ""
    key = _key_for(host)
    helpers = cfg.get("credHelpers") or {}
    helper = helpers.get(key) or helpers.get(host) or cfg.get("credsStore")
    if isinstance(helper, str) and helper:
        found = await _from_helper(helper, key)
        if found:
            return found
    auths = cfg.get("auths") or {}
    entry = auths.get(key) or auths.get(host) or auths.get(f"https://{host}") or {}
    if not isinstance(entry, dict):
        return "", ""
    if entry.get("identitytoken"):
        return "", str(entry["identitytoken"])
    if entry.get("auth"):
        try:
            user, _, secret = base64.b64decode(entry["auth"]).decode().partition(":")
            return user, secret
        except ValueError:
            return "", ""
    return str(entry.get("username", "")), str(entry.get("password", ""))


class AuthService(auth_pb2_grpc.AuthServicer):
    """Credentials from the docker config (anonymous otherwise); no client-side tokens."""

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        self._environ = os.environ if environ is None else environ

    async def Credentials(
        self, request: auth_pb2.CredentialsRequest, context: grpc.aio.ServicerContext
    ) -> auth_pb2.CredentialsResponse:
        """Username and secret for the requested host."""
        user, secret = await lookup_credentials(request.Host, self._environ)
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
