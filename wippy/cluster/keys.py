"""A node's CURVE key pair, kept in its data directory (S12).

Made on first start (``node.key``, mode 0600: the secret never leaves the machine); the public
key goes into the cluster database, whose ``wippy_nodes`` rows are the allow-list every node's
ZAP handler checks. A file that is unreadable, malformed, or readable by others is refused
with an error naming it.
"""
from __future__ import annotations

import json
import os
import stat

from ..core import transport
from ..errors import ClusterError

__all__ = ["load_or_create", "KEY_FILE"]

KEY_FILE = "node.key"


def load_or_create(data_dir: str) -> tuple[bytes, bytes]:
    """(public, secret) of this node, Z85; created on first use."""
    path = os.path.join(data_dir, KEY_FILE)
    os.makedirs(data_dir, mode=0o700, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return _read(path)
    public, secret = transport.curve_keypair()
    with os.fdopen(fd, "w") as fh:
        json.dump({"public": public.decode(), "secret": secret.decode()}, fh)
    return public, secret


def _read(path: str) -> tuple[bytes, bytes]:
    mode = os.stat(path).st_mode
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ClusterError(f"{path}: the node's key file is readable by others "
                           f"(mode {stat.S_IMODE(mode):o}); chmod 600 it")
    try:
        with open(path) as fh:
            d = json.load(fh)
        public, secret = d["public"].encode(), d["secret"].encode()
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ClusterError(f"{path}: not a node key file ({exc})") from None
    if len(public) != 40 or len(secret) != 40:
        raise ClusterError(f"{path}: not a node key file (keys are 40 Z85 characters)")
    return public, secret
