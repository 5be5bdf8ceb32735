"""Wippy's ``crypto.encrypt``/``decrypt`` and RS256 JWTs (``en/lua/security/crypto.md``), with
the ``cryptography`` package (extra ``crypto``): the docs' calls, Wippy's layout (a 12-byte
nonce, the ciphertext, the tag) checked against the library directly, a wrong key or AAD
refused, and RS256 tokens signed and verified with PEM keys."""
from __future__ import annotations

import base64
import json

import pytest
from test_lua_harness import host_factory, lua_entry  # noqa: F401 - fixture

aead = pytest.importorskip("cryptography.hazmat.primitives.ciphers.aead")
from cryptography.hazmat.primitives import serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import rsa  # noqa: E402

pytestmark = pytest.mark.timeout(30)


def run(host_factory, body: str, *args):
    src = f"local crypto = require('crypto')\nlocal function main(...)\n{body}\nend\nreturn {{main = main}}"
    h = host_factory(lua_entry("t:main", src, modules=["crypto"]))
    return h.exec("t:main", *args)


@pytest.mark.parametrize("cipher,key", [("aes", b"k" * 16), ("aes", b"k" * 24),
                                        ("aes", b"k" * 32), ("chacha20", b"c" * 32)])
def test_docs_encrypt_and_decrypt_round_trip_in_wippys_layout(host_factory, cipher, key):
    got = run(host_factory, f"""
        local data, key, aad = "secret message", ...
        local encrypted, err = crypto.encrypt.{cipher}(data, key)
        local encrypted2, err = crypto.encrypt.{cipher}(data, key, aad)
        local plaintext, err = crypto.decrypt.{cipher}(encrypted, key)
        local plaintext2, err = crypto.decrypt.{cipher}(encrypted2, key, aad)
        local _, wrong_aad = crypto.decrypt.{cipher}(encrypted2, key, "other")
        local _, wrong_key = crypto.decrypt.{cipher}(encrypted, string.rep("z", #key))
        return {{plaintext, plaintext2, wrong_aad:kind(), wrong_key:kind(), encrypted}}""",
              key.decode(), "header")
    assert got[:4] == ["secret message", "secret message", "Internal", "Internal"]
    raw = got[4].encode() if isinstance(got[4], str) else got[4]     # str when it is UTF-8
    lib = aead.AESGCM(key) if cipher == "aes" else aead.ChaCha20Poly1305(key)
    assert lib.decrypt(raw[:12], raw[12:], None) == b"secret message"
    assert len(raw) == 12 + len(b"secret message") + 16


def test_bad_keys_are_invalid(host_factory):
    got = run(host_factory, """
        local _, e1 = crypto.encrypt.aes("x", "short")
        local _, e2 = crypto.encrypt.chacha20("x", string.rep("k", 16))
        local _, e3 = crypto.decrypt.aes("tiny", string.rep("k", 16))
        return {e1:kind(), e2:kind(), e3:kind()}""")
    assert got == ["Invalid", "Invalid", "Invalid"]


def test_rs256_tokens_sign_with_a_private_key_and_verify_with_the_public_one(host_factory):
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private_pem = key.private_bytes(serialization.Encoding.PEM,
                                    serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption()).decode()
    public_pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key()
    other_pem = other.public_bytes(serialization.Encoding.PEM,
                                   serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    got = run(host_factory, """
        local private_key_pem, public_key_pem, other_pem = ...
        local payload = {sub = "user:1", exp = os.time() + 3600}
        local token, err = crypto.jwt.encode(payload, private_key_pem, "RS256")
        local claims, err = crypto.jwt.verify(token, public_key_pem, "RS256")
        local _, forged = crypto.jwt.verify(token, other_pem, "RS256")
        local _, hs = crypto.jwt.verify(token, "secret", "HS256")
        local _, badkey = crypto.jwt.encode(payload, "not a pem", "RS256")
        return {token, claims.sub, forged:message(), hs:kind(), badkey:kind()}""",
              private_pem, public_pem, other_pem)
    token, sub, forged, hs, badkey = got
    assert sub == "user:1" and forged == "signature is invalid"
    assert hs == "Internal" and badkey == "Invalid"
    head = json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))
    assert head == {"alg": "RS256", "typ": "JWT"}
