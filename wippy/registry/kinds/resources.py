"""Resources (S13): SQL databases, key-value stores, queues and their consumers, environment
storages and variables."""
from __future__ import annotations

import re
from typing import Any

from ..entry import FUNCTION_KINDS
from .fields import (
    OPTIONAL,
    REQUIRED,
    _HOST_REF,
    _PLACEHOLDER_RE,
    Spec,
    _Ctx,
    _bool,
    _duration,
    _enum,
    _int,
    _list,
    _mapping,
    _nonempty,
    _ref,
    _scalar_str,
    _str,
    _str_map,
    _with_env,
    describe,
    suggest,
)
from .lifecycle import _PLAIN_LIFECYCLE, _lifecycle

_IDENT_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_VAR_NAME_RE = re.compile(r"[A-Za-z0-9_]+")
_DSN_KEYS = frozenset({
    "host", "hostaddr", "port", "dbname", "user", "password", "passfile", "connect_timeout",
    "client_encoding", "options", "application_name", "fallback_application_name", "keepalives",
    "keepalives_idle", "keepalives_interval", "keepalives_count", "tcp_user_timeout", "sslmode",
    "sslcert", "sslkey", "sslrootcert", "sslcrl", "sslpassword", "sslcompression", "requiressl",
    "gssencmode", "krbsrvname", "target_session_attrs", "service", "channel_binding",
    "load_balance_hosts", "sslnegotiation", "sslsni", "replication", "require_auth"})
SQL_REF = frozenset({"db.sql.sqlite", "db.sql.postgres"})


def _identifier(value: Any, path: str, ctx: _Ctx) -> Any:
    if not isinstance(value, str) or not _IDENT_RE.fullmatch(value):
        return ctx.error(path, f"must be an SQL identifier (letters, digits, '_'), "
                               f"got {describe(value)}")
    return value


def _dsn(value: Any, path: str, ctx: _Ctx) -> Any:
    """A libpq connection string: a ``postgresql://`` URI or ``key=value`` pairs."""
    if not isinstance(value, str) or not value.strip():
        return ctx.error(path, f"must be a connection string, got {describe(value)}")
    text_ = value.strip()
    if _PLACEHOLDER_RE.fullmatch(text_):
        return text_
    if "://" in text_:
        from urllib.parse import urlsplit
        try:
            parts = urlsplit(text_)
            port = parts.port
        except ValueError as exc:
            return ctx.error(path, f"invalid connection URI: {exc}")
        if parts.scheme not in ("postgres", "postgresql"):
            return ctx.error(path, f"invalid connection URI: scheme {parts.scheme!r} is not "
                                   "postgresql://")
        if port is not None and not 0 < port < 65536:
            return ctx.error(path, f"invalid connection URI: port {port}")
        return text_
    for token in re.findall(r"(?:[^\s'=]+\s*=\s*(?:'(?:[^'\\]|\\.)*'|[^\s']*))|\S+", text_):
        key, eq, _ = token.partition("=")
        key = key.strip()
        if not eq:
            return ctx.error(path, f"invalid connection string: {token!r} is not key=value")
        if key not in _DSN_KEYS:
            return ctx.error(path, f"invalid connection string: unknown keyword {key!r}"
                             f"{suggest(key, _DSN_KEYS)}")
    return text_


def _var_name(value: Any, path: str, ctx: _Ctx) -> Any:
    if not isinstance(value, str) or not _VAR_NAME_RE.fullmatch(value):
        return ctx.error(path, f"must be a variable name (a-z, A-Z, 0-9, _), got {describe(value)}")
    return value


_POOL = _mapping({"max_open": (_with_env(_int(0)), 0), "max_idle": (_with_env(_int(0)), 0),
                  "max_lifetime": (_duration(False), "1h")})
SCHEMAS: dict[str, Spec] = {}
SCHEMAS["db.sql.postgres"] = {
    "host": (_scalar_str, OPTIONAL), "port": (_with_env(_int(1)), OPTIONAL),
    "database": (_scalar_str, OPTIONAL), "username": (_scalar_str, OPTIONAL),
    "password": (_scalar_str, OPTIONAL),
    "dsn": (_dsn, OPTIONAL),                    # wippy's own: a whole libpq connection string
    "pool": (_POOL, {}), "options": (_str_map, {}),
    "timeout": (_duration(True), OPTIONAL),     # wippy's own: wait for a pooled connection
    "lifecycle": _PLAIN_LIFECYCLE,
}
SCHEMAS["db.sql.sqlite"] = {
    "file": (_str, REQUIRED), "pool": (_POOL, {}), "options": (_str_map, {}),
    "timeout": (_duration(True), OPTIONAL), "lifecycle": _PLAIN_LIFECYCLE,
}
SCHEMAS["store.memory"] = {
    "max_size": (_int(0), 10000), "cleanup_interval": (_duration(False), "5m"),
    "lifecycle": _PLAIN_LIFECYCLE,
}
SCHEMAS["store.sql"] = {
    "database": (_ref(SQL_REF), REQUIRED), "table_name": (_identifier, REQUIRED),
    "id_column_name": (_identifier, "key"), "payload_column_name": (_identifier, "value"),
    "expire_column_name": (_identifier, "expires_at"),
    "cleanup_interval": (_duration(False), "0s"), "lifecycle": _PLAIN_LIFECYCLE,
}
SCHEMAS["queue.driver.memory"] = {"lifecycle": _PLAIN_LIFECYCLE}
SCHEMAS["queue.driver.sql"] = {                 # wippy's own: a durable queue in a table
    "database": (_ref(SQL_REF), REQUIRED), "table_name": (_identifier, "wippy_queue"),
    "visibility_timeout": (_duration(True), "30s"), "poll_interval": (_duration(True), "1s"),
    "lifecycle": _PLAIN_LIFECYCLE,
}
SCHEMAS["queue.queue"] = {
    "driver": (_ref(frozenset({"queue.driver.memory", "queue.driver.sql"})), REQUIRED),
    "codec": (_enum(("json/plain", "application/msgpack")), "json/plain"),
    "queue_name": (_str, OPTIONAL), "driver_options": (_mapping(None), {}),
    "dead_letter": (_mapping({"queue": (_ref(frozenset({"queue.queue"})), OPTIONAL),
                              "max_attempts": (_int(1), OPTIONAL)}), OPTIONAL),
    "lifecycle": _PLAIN_LIFECYCLE,
}
SCHEMAS["queue.consumer"] = {
    "queue": (_ref(frozenset({"queue.queue"})), REQUIRED),
    "func": (_ref(FUNCTION_KINDS), REQUIRED),
    "concurrency": (_int(1), 1), "prefetch": (_int(1), 10), "auto_ack": (_bool, False),
    "driver_options": (_mapping(None), {}),
    "host": (_HOST_REF, OPTIONAL),              # wippy's own: where the handlers run
    "lifecycle": _lifecycle(("auto_start",), auto_start=True),
}
_ENV_STORAGE_REF = _ref(frozenset({"env.storage.os", "env.storage.memory", "env.storage.file",
                                   "env.storage.static", "env.storage.router"}))
SCHEMAS["env.storage.os"] = {"lifecycle": _PLAIN_LIFECYCLE}
SCHEMAS["env.storage.memory"] = {"lifecycle": _PLAIN_LIFECYCLE}
SCHEMAS["env.storage.static"] = {"values": (_str_map, {}), "lifecycle": _PLAIN_LIFECYCLE}
SCHEMAS["env.storage.file"] = {
    "file_path": (_str, REQUIRED), "auto_create": (_bool, False),
    "file_mode": (_int(0), 0o644), "dir_mode": (_int(0), 0o755), "lifecycle": _PLAIN_LIFECYCLE,
}
SCHEMAS["env.storage.router"] = {"storages": (_nonempty(_list(_ENV_STORAGE_REF)), REQUIRED),
                                 "lifecycle": _PLAIN_LIFECYCLE}
SCHEMAS["env.variable"] = {
    "variable": (_var_name, OPTIONAL), "storage": (_ENV_STORAGE_REF, REQUIRED),
    "default": (_scalar_str, OPTIONAL), "readonly": (_bool, False),
    "lifecycle": _PLAIN_LIFECYCLE,
}
