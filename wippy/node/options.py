"""What ``wippy run`` asks of a node."""
from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["NodeOptions"]


@dataclass
class NodeOptions:
    """What ``wippy run`` was asked to do."""

    app_dir: str
    data_dir: str | None = None
    exec_entry: str | None = None
    exec_args: list[str] = field(default_factory=list)
    exec_host: str | None = None
    log_level: str = "WARNING"
    log_format: str = "text"    # wippy.logs.LogFormat: text or json
    ready_fd: int | None = None
    stop_timeout: float | None = None
    watch: bool = True          # hot reload: watch the application's files
    strict: bool = False        # security strict mode (S9): --strict or WIPPY_STRICT=1
    observe: str | None = None  # the web observer's HOST:PORT (--observe); None: no observer
    observe_token: str | None = None   # allows its operator actions (--observe-token)
    cluster: str | None = None  # the cluster's PostgreSQL DSN (--cluster); None: LMDB journal
    node: str | None = None     # this node's name in the cluster (--node)
    lease_ttl: float | None = None     # the lease's TTL in seconds (--lease-ttl)
