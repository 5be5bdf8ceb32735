"""Lua's ``hash`` and ``crypto`` modules with Wippy's names, over ``hashlib``, ``hmac`` and
``secrets``: digests (hex, or raw with ``raw = true``), FNV-1a, HMACs, random bytes and strings,
PBKDF2, HS256/384/512 JWTs, constant-time comparison. ``crypto.encrypt``/``decrypt`` (AES-GCM,
ChaCha20-Poly1305: a 12-byte nonce, then the ciphertext and its tag, Wippy's layout) and RS256
JWTs need the ``cryptography`` package (the extra ``crypto``), not a core dependency: without
it they answer UNAVAILABLE. Rejected: AES and ChaCha20 written here in Python (not constant
time, and a cipher is the last thing to write by hand).
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import string
import time
from typing import Any

from . import stdmods
from .api import ApiError, function, lua_value, subtable, text
from .engine import is_lua_table

__all__: list[str] = []

MAX_RANDOM = 1 << 20          # Wippy's limit for crypto.random.bytes/string
MAX_ITERATIONS = 10_000_000   # and for pbkdf2


def _bytes(v: Any, what: str) -> bytes:
    if type(v) is not bytes:
        raise ApiError("INVALID", f"{what} must be a string")
    return v


def _out(digest: bytes, raw: Any) -> bytes:
    return digest if raw is True else digest.hex().encode()


# -- hash ------------------------------------------------------------------------------------
for _name in ("md5", "sha1", "sha256", "sha512"):
    def _digest(data: Any = None, raw: Any = None, _n: str = _name) -> bytes:
        return _out(hashlib.new(_n, _bytes(data, "data")).digest(), raw)
    function("hash", _name)(_digest)

    def _hmac(data: Any = None, secret: Any = None, raw: Any = None, _n: str = _name) -> bytes:
        return _out(hmac.new(_bytes(secret, "secret"), _bytes(data, "data"), _n).digest(), raw)
    function("hash", f"hmac_{_name}")(_hmac)


def _fnv1a(data: bytes, bits: int) -> int:
    prime, h = (0x01000193, 0x811C9DC5) if bits == 32 else (0x100000001B3, 0xCBF29CE484222325)
    mask = (1 << bits) - 1
    for b in data:
        h = ((h ^ b) * prime) & mask
    return h if bits == 32 else h - (1 << 64) if h >= 1 << 63 else h    # Lua integers are signed


@function("hash")
def fnv32(data: Any = None) -> int:
    return _fnv1a(_bytes(data, "data"), 32)


@function("hash")
def fnv64(data: Any = None) -> int:
    return _fnv1a(_bytes(data, "data"), 64)


# -- crypto ----------------------------------------------------------------------------------
for _sub in ("random", "hmac", "encrypt", "decrypt", "jwt"):
    subtable("crypto", _sub, f"crypto.{_sub}")


def _length(n: Any) -> int:
    if type(n) is not int or n <= 0 or n > MAX_RANDOM:
        raise ApiError("INVALID", f"length must be an integer in 1..{MAX_RANDOM}")
    return n


@function("crypto.random", "bytes")
def random_bytes(length: Any = None) -> bytes:
    return os.urandom(_length(length))


@function("crypto.random", "string")
def random_string(length: Any = None, charset: Any = None) -> bytes:
    n = _length(length)
    chars = string.ascii_letters + string.digits if charset is None else text(charset, "charset")
    if not chars:
        raise ApiError("INVALID", "charset must not be empty")
    return "".join(secrets.choice(chars) for _ in range(n)).encode()


@function("crypto.random", "uuid")
def random_uuid() -> bytes:
    import uuid
    return str(uuid.uuid4()).encode()


for _name in ("sha256", "sha512"):
    def _crypto_hmac(key: Any = None, data: Any = None, _n: str = _name) -> bytes:
        k = _bytes(key, "key")
        if not k:
            raise ApiError("INVALID", "key must not be empty")
        return hmac.new(k, _bytes(data, "data"), _n).hexdigest().encode()
    function("crypto.hmac", _name)(_crypto_hmac)


def _cipher(name: str, key: bytes) -> Any:
    try:
        from cryptography.hazmat.primitives.ciphers import aead  # optional
    except ImportError:
        raise ApiError("UNAVAILABLE", f"crypto {name} needs the 'cryptography' package, which "
                                      "this installation does not have") from None
    if name == "aes":
        if len(key) not in (16, 24, 32):
            raise ApiError("INVALID", "an AES key is 16, 24 or 32 bytes")
        return aead.AESGCM(key)
    if len(key) != 32:
        raise ApiError("INVALID", "a ChaCha20 key is 32 bytes")
    return aead.ChaCha20Poly1305(key)


for _name in ("aes", "chacha20"):
    def _encrypt(data: Any = None, key: Any = None, aad: Any = None, _n: str = _name) -> bytes:
        c = _cipher(_n, _bytes(key, "key"))
        nonce = os.urandom(12)
        return nonce + c.encrypt(nonce, _bytes(data, "data"), aad if aad is not None else None)

    def _decrypt(data: Any = None, key: Any = None, aad: Any = None, _n: str = _name) -> bytes:
        c = _cipher(_n, _bytes(key, "key"))
        raw = _bytes(data, "data")
        if len(raw) < 12 + 16:
            raise ApiError("INVALID", "encrypted data is too short")
        try:
            return c.decrypt(raw[:12], raw[12:], aad if aad is not None else None)
        except Exception:  # noqa: BLE001 - InvalidTag: wrong key, data or aad
            raise ApiError("INTERNAL", "decryption failed: authentication failed") from None
    function("crypto.encrypt", _name)(_encrypt)
    function("crypto.decrypt", _name)(_decrypt)


_JWT_HASH = {"HS256": "sha256", "HS384": "sha384", "HS512": "sha512"}


def _b64url(b: bytes) -> bytes:
    return base64.urlsafe_b64encode(b).rstrip(b"=")


def _unb64url(b: bytes) -> bytes:
    return base64.urlsafe_b64decode(b + b"=" * (-len(b) % 4))


def _alg(alg: Any) -> str:
    a = "HS256" if alg is None else text(alg, "alg")
    if a not in _JWT_HASH and a != "RS256":
        raise ApiError("INVALID", f"unsupported JWT algorithm {a}")
    return a


def _rsa() -> Any:
    try:
        from cryptography.hazmat.primitives import hashes, serialization  # optional
        from cryptography.hazmat.primitives.asymmetric import padding, rsa
    except ImportError:
        raise ApiError("UNAVAILABLE", "RS256 JWTs need the 'cryptography' package, which this "
                                      "installation does not have") from None
    return hashes, serialization, padding, rsa


def _sign(a: str, key: bytes, msg: bytes) -> bytes:
    if a != "RS256":
        return hmac.new(key, msg, _JWT_HASH[a]).digest()
    hashes, serialization, padding, rsa = _rsa()
    try:
        pk = serialization.load_pem_private_key(key, password=None)
    except (ValueError, TypeError):
        raise ApiError("INVALID", "RS256 needs a PEM RSA private key") from None
    if not isinstance(pk, rsa.RSAPrivateKey):
        raise ApiError("INVALID", "RS256 needs a PEM RSA private key")
    return pk.sign(msg, padding.PKCS1v15(), hashes.SHA256())


def _signed(a: str, key: bytes, msg: bytes, sig: bytes) -> bool:
    if a != "RS256":
        return hmac.compare_digest(hmac.new(key, msg, _JWT_HASH[a]).digest(), sig)
    hashes, serialization, padding, rsa = _rsa()
    try:
        pub = serialization.load_pem_public_key(key)
    except (ValueError, TypeError):
        raise ApiError("INVALID", "RS256 needs a PEM RSA public key") from None
    if not isinstance(pub, rsa.RSAPublicKey):
        raise ApiError("INVALID", "RS256 needs a PEM RSA public key")
    try:
        pub.verify(sig, msg, padding.PKCS1v15(), hashes.SHA256())
    except Exception:  # noqa: BLE001 - InvalidSignature
        return False
    return True


@function("crypto.jwt", "encode")
def jwt_encode(payload: Any = None, key: Any = None, alg: Any = None) -> bytes:
    if not is_lua_table(payload):
        raise ApiError("INVALID", "the JWT payload must be a table")
    a = _alg(alg)
    claims = stdmods.json_data(payload)
    head = _b64url(json.dumps({"alg": a, "typ": "JWT"}, separators=(",", ":")).encode())
    body = _b64url(json.dumps(claims if claims != [] else {}, separators=(",", ":")).encode())
    sig = _sign(a, _bytes(key, "key"), head + b"." + body)
    return head + b"." + body + b"." + _b64url(sig)


@function("crypto.jwt", "verify")
def jwt_verify(token: Any = None, key: Any = None, alg: Any = None,
               require_exp: Any = None) -> Any:
    a = _alg(alg)
    parts = _bytes(token, "token").split(b".")
    if len(parts) != 3:
        raise ApiError("INTERNAL", "invalid token format")
    try:
        header = json.loads(_unb64url(parts[0]))
        claims = json.loads(_unb64url(parts[1]))
        sig = _unb64url(parts[2])
    except ValueError:
        raise ApiError("INTERNAL", "invalid token format") from None
    if header.get("alg") != a:
        raise ApiError("INTERNAL", f"algorithm mismatch: token {header.get('alg')}, expected {a}")
    if not _signed(a, _bytes(key, "key"), parts[0] + b"." + parts[1], sig):
        raise ApiError("INTERNAL", "signature is invalid")
    exp = claims.get("exp") if isinstance(claims, dict) else None
    if exp is None and require_exp is not False:
        raise ApiError("INTERNAL", "token has no exp claim")
    if isinstance(exp, (int, float)) and exp < time.time():
        raise ApiError("INTERNAL", "token is expired")
    return lua_value(claims)


@function("crypto")
def pbkdf2(password: Any = None, salt: Any = None, iterations: Any = None,
           key_length: Any = None, hash: Any = None) -> bytes:
    pw, s = _bytes(password, "password"), _bytes(salt, "salt")
    if not pw or not s:
        raise ApiError("INVALID", "password and salt must not be empty")
    if type(iterations) is not int or not 0 < iterations <= MAX_ITERATIONS:
        raise ApiError("INVALID", f"iterations must be 1..{MAX_ITERATIONS}")
    if type(key_length) is not int or key_length <= 0:
        raise ApiError("INVALID", "key_length must be a positive integer")
    h = "sha256" if hash is None else text(hash, "hash")
    if h not in ("sha256", "sha512"):
        raise ApiError("INVALID", f"unsupported hash function {h} (sha256, sha512)")
    return hashlib.pbkdf2_hmac(h, pw, s, iterations, key_length)


@function("crypto")
def constant_time_compare(a: Any = None, b: Any = None) -> bool:
    return hmac.compare_digest(_bytes(a, "a"), _bytes(b, "b"))
