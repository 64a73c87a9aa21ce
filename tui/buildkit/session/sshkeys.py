"""An in-memory, read-only ssh-agent over private key files (``--ssh ID=KEY[,KEY...]``).

buildx loads unencrypted key files into an in-memory agent (BuildKit's sshprovider) and
serves ``RUN --mount=type=ssh`` connections from it.  This does the same with the
``cryptography`` package: ed25519, ecdsa (nistp256/384/521) and rsa keys in OpenSSH or PEM
(PKCS#1, PKCS#8, SEC1) form.  Only identity listing (11 -> 12) and signing (13 -> 14) are
answered; every other request, and a sign request for a key it does not hold, is
``SSH_AGENT_FAILURE``.
"""

from __future__ import annotations

import base64
import re
import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from tui.buildkit.session.sshforward import FAILURE_REPLY, REQUEST_IDENTITIES, SIGN_REQUEST

IDENTITIES_ANSWER = 12
SIGN_RESPONSE = 14
FLAG_RSA_SHA256 = 2
FLAG_RSA_SHA512 = 4

_PEM_BLOCK = re.compile(
    rb"-----BEGIN ([A-Z0-9 ]+)-----\r?\n(.*?)-----END \1-----", re.DOTALL)
_PASSPHRASE = "ssh: this private key is passphrase protected"
_CURVES: dict[str, tuple[str, hashes.HashAlgorithm]] = {
    "secp256r1": ("ecdsa-sha2-nistp256", hashes.SHA256()),
    "secp384r1": ("ecdsa-sha2-nistp384", hashes.SHA384()),
    "secp521r1": ("ecdsa-sha2-nistp521", hashes.SHA512()),
}


class KeyFileError(ValueError):
    """A key file that cannot be served (the message is buildx's where it has one)."""


def ssh_string(data: bytes) -> bytes:
    """SSH wire ``string``: a 4-byte big-endian length, then the bytes."""
    return struct.pack(">I", len(data)) + data


def ssh_mpint(value: int) -> bytes:
    """SSH wire ``mpint`` of a non-negative integer (minimal two's complement)."""
    raw = value.to_bytes((value.bit_length() + 8) // 8, "big") if value else b""
    return ssh_string(raw)


class _Reader:
    """Reads SSH wire fields from one message body; ValueError when it runs short."""

    def __init__(self, data: bytes) -> None:
        self._data, self._pos = data, 0

    def uint32(self) -> int:
        if self._pos + 4 > len(self._data):
            raise ValueError("short ssh-agent message")
        (value,) = struct.unpack_from(">I", self._data, self._pos)
        self._pos += 4
        return int(value)

    def string(self) -> bytes:
        size = self.uint32()
        if self._pos + size > len(self._data):
            raise ValueError("short ssh-agent message")
        value = self._data[self._pos:self._pos + size]
        self._pos += size
        return value


class SigningKey(Protocol):
    """One private key as the agent uses it."""

    @property
    def blob(self) -> bytes:
        """The public key in SSH wire format."""
        ...

    def sign(self, data: bytes, flags: int) -> bytes | None:
        """The SSH signature blob over ``data``; None when ``flags`` ask what it cannot do."""
        ...


def _public_blob(key: ed25519.Ed25519PublicKey | ec.EllipticCurvePublicKey
                 | rsa.RSAPublicKey) -> bytes:
    line = key.public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    return base64.b64decode(line.split()[1])


@dataclass(frozen=True)
class Ed25519Key:
    """An ssh-ed25519 key: the signature is the raw 64 bytes."""

    private: ed25519.Ed25519PrivateKey
    blob: bytes

    def sign(self, data: bytes, flags: int) -> bytes | None:
        """Sign ``data``; any flag is refused (they name RSA hashes)."""
        if flags:
            return None
        return ssh_string(b"ssh-ed25519") + ssh_string(self.private.sign(data))


@dataclass(frozen=True)
class EcdsaKey:
    """An ecdsa-sha2-nistpNNN key: the signature is ``mpint r, mpint s``."""

    private: ec.EllipticCurvePrivateKey
    blob: bytes
    algo: str
    hash: hashes.HashAlgorithm

    def sign(self, data: bytes, flags: int) -> bytes | None:
        """Sign ``data`` with the curve's hash; any flag is refused."""
        if flags:
            return None
        r, s = decode_dss_signature(self.private.sign(data, ec.ECDSA(self.hash)))
        return ssh_string(self.algo.encode()) + ssh_string(ssh_mpint(r) + ssh_mpint(s))


@dataclass(frozen=True)
class RsaKey:
    """An ssh-rsa key: SHA-1 by default, SHA-256/512 on the agent's flags 2/4."""

    private: rsa.RSAPrivateKey
    blob: bytes

    def sign(self, data: bytes, flags: int) -> bytes | None:
        """Sign ``data`` as ``ssh-rsa``, ``rsa-sha2-256`` or ``rsa-sha2-512``."""
        choice: dict[int, tuple[bytes, hashes.HashAlgorithm]] = {
            0: (b"ssh-rsa", hashes.SHA1()),
            FLAG_RSA_SHA256: (b"rsa-sha2-256", hashes.SHA256()),
            FLAG_RSA_SHA512: (b"rsa-sha2-512", hashes.SHA512()),
        }
        if flags not in choice:
            return None
        name, digest = choice[flags]
        return ssh_string(name) + ssh_string(self.private.sign(data, padding.PKCS1v15(), digest))


def signing_key(private: object) -> SigningKey:
    """Wrap a ``cryptography`` private key; KeyFileError for a type the agent cannot serve."""
    if isinstance(private, ed25519.Ed25519PrivateKey):
        return Ed25519Key(private, _public_blob(private.public_key()))
    if isinstance(private, ec.EllipticCurvePrivateKey):
        curve = _CURVES.get(private.curve.name)
        if curve is None:
            raise KeyFileError("ssh: only P-256, P-384 and P-521 EC keys are supported.")
        return EcdsaKey(private, _public_blob(private.public_key()), *curve)
    if isinstance(private, rsa.RSAPrivateKey):
        return RsaKey(private, _public_blob(private.public_key()))
    raise KeyFileError(f"ssh: unsupported key type {type(private).__name__}")


def load_private(data: bytes) -> object:
    """The first PEM block of ``data`` as a ``cryptography`` private key (``ssh: ...`` errors)."""
    match = _PEM_BLOCK.search(data)
    if match is None:
        raise KeyFileError("ssh: no key found")
    kind, body = match.group(1).decode(), match.group(2)
    headers = re.split(rb"\r?\n\r?\n", body, maxsplit=1)[0]
    if b"Proc-Type:" in headers and b"ENCRYPTED" in headers:
        raise KeyFileError(_PASSPHRASE)
    load: Callable[..., object]
    if kind == "OPENSSH PRIVATE KEY":
        load = serialization.load_ssh_private_key
    elif kind in ("RSA PRIVATE KEY", "PRIVATE KEY", "EC PRIVATE KEY"):
        load = serialization.load_pem_private_key
    else:
        raise KeyFileError(f'ssh: unsupported key type "{kind}"')
    try:
        return load(match.group(0), password=None)
    except TypeError:  # cryptography's "password-protected" / "encrypted" refusal
        raise KeyFileError(_PASSPHRASE) from None
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise KeyFileError(f"ssh: {exc}") from None


def parse_key(data: bytes) -> SigningKey:
    """The first PEM block of ``data`` as a signing key."""
    return signing_key(load_private(data))


class KeyAgent:
    """The read-only in-memory agent: answers whole ssh-agent messages with whole replies."""

    def __init__(self, keys: Sequence[SigningKey]) -> None:
        self._keys = tuple(keys)

    @property
    def blobs(self) -> tuple[bytes, ...]:
        """The public key blobs it holds, in file order."""
        return tuple(k.blob for k in self._keys)

    def answer(self, request: bytes) -> bytes:
        """The reply to one framed request (length prefix included on both)."""
        kind, body = request[4], request[5:]
        reply: bytes | None = None
        try:
            if kind == REQUEST_IDENTITIES:
                reply = self._identities()
            elif kind == SIGN_REQUEST:
                reply = self._sign(_Reader(body))
        except ValueError:
            reply = None
        if reply is None:
            return FAILURE_REPLY
        return struct.pack(">I", len(reply)) + reply

    def _identities(self) -> bytes:
        # buildx adds keys without a comment: the list shows none, as there.
        entries = b"".join(ssh_string(k.blob) + ssh_string(b"") for k in self._keys)
        return struct.pack(">BI", IDENTITIES_ANSWER, len(self._keys)) + entries

    def _sign(self, fields: _Reader) -> bytes | None:
        blob, data, flags = fields.string(), fields.string(), fields.uint32()
        for key in self._keys:
            if key.blob == blob:
                signature = key.sign(data, flags)
                if signature is None:
                    return None
                return bytes([SIGN_RESPONSE]) + ssh_string(signature)
        return None


def load_key_file(path: str, head: bytes) -> SigningKey:
    """The key in ``head`` (the file's first 100 KiB), errors worded as buildx's."""
    try:
        private = load_private(head)
    except KeyFileError as exc:
        raise KeyFileError(f"failed to parse {path}: {exc}") from None
    try:
        return signing_key(private)
    except KeyFileError as exc:
        raise KeyFileError(f"failed to add {path} to agent: {exc}") from None
