"""The cluster's tables in PostgreSQL, created when missing (every node runs :func:`ensure` at
start; an advisory lock keeps two nodes starting at once from racing on the DDL).

* ``wippy_nodes``: one row per node name: ``address`` (host name), ``pid``, ``incarnation``
  (a fencing token taken at each start: a renewal by an older incarnation of the same name
  finds nothing), ``lease_until`` (database time; the node renews it every TTL/3),
  ``joined``, ``renewed``; ``listen`` (``tcp://HOST:PORT``, where its peer socket listens)
  and ``pubkey`` (its CURVE public key: the allow-list of :mod:`wippy.cluster.peers`);
  ``ps`` (its status as ``wippy ps --json`` gives it, without the process list) and ``ps_at``,
  written every lease round.
* ``wippy_workflows``: ``id``, ``rec`` (the workflow record, the same JSON as the LMDB
  journal's ``workflows``), ``status`` and ``name`` (copied out of it for queries), ``owner``
  (the node that drives it) and ``token`` (its fencing token, bumped by every claim),
  ``created``.
* ``wippy_steps`` / ``wippy_signals``: (``wf``, ``seq``) -> ``rec`` (the same JSON as LMDB's).
* ``wippy_names``: workflow name -> workflow id (a name binds once, cluster-wide).
* ``wippy_inbox``: signals sent on one node to a workflow another node runs, in order
  (``id``), until the owner journals them as the workflow's signals.
* ``wippy_process_names``: a registered process name -> ``pid`` (as its node writes it),
  ``node`` and that node's ``incarnation``: one binding in the cluster, free again once that
  incarnation's lease is gone (:mod:`wippy.cluster.names`).
* ``wippy_singletons``: a singleton ``process.service`` entry id -> the ``node`` (and its
  ``incarnation``) that runs it, ``since`` (:mod:`wippy.cluster.singletons`).
* ``wippy_registry``: version -> the registry's history record and the node that committed
  it; ``wippy_cluster_meta``'s ``registry.files`` row: the files' baseline
  (:mod:`wippy.cluster.registry`).
* ``wippy_fence``: the sequence every token and incarnation is drawn from, so a token never
  repeats, whoever takes it.

Records are stored as JSON text, byte for byte what the LMDB journal stores (``jsonb`` would
reorder keys and refuses ``\\u0000`` in strings, which a workflow's result may hold).
"""
from __future__ import annotations

from typing import Any

__all__ = ["ensure", "TABLES", "VERSION"]

VERSION = "1"
TABLES = ("wippy_nodes", "wippy_workflows", "wippy_steps", "wippy_signals", "wippy_names",
          "wippy_inbox", "wippy_cluster_meta", "wippy_process_names", "wippy_singletons",
          "wippy_registry")

_LOCK = 0x77697070      # the advisory lock id the DDL runs under ("wipp")

_DDL = (
    "CREATE SEQUENCE IF NOT EXISTS wippy_fence",
    """CREATE TABLE IF NOT EXISTS wippy_cluster_meta (
        key text PRIMARY KEY, value text NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS wippy_nodes (
        name text PRIMARY KEY,
        address text NOT NULL,
        pid integer NOT NULL,
        incarnation bigint NOT NULL,
        lease_until timestamptz NOT NULL,
        joined timestamptz NOT NULL DEFAULT now(),
        renewed timestamptz NOT NULL DEFAULT now())""",
    """CREATE TABLE IF NOT EXISTS wippy_workflows (
        id text PRIMARY KEY,
        rec text NOT NULL,
        status text NOT NULL,
        name text,
        owner text NOT NULL,
        token bigint NOT NULL,
        created double precision NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS wippy_workflows_running ON wippy_workflows (owner) "
    "WHERE status = 'running'",
    """CREATE TABLE IF NOT EXISTS wippy_steps (
        wf text NOT NULL, seq bigint NOT NULL, rec text NOT NULL, PRIMARY KEY (wf, seq))""",
    """CREATE TABLE IF NOT EXISTS wippy_signals (
        wf text NOT NULL, seq bigint NOT NULL, rec text NOT NULL, PRIMARY KEY (wf, seq))""",
    """CREATE TABLE IF NOT EXISTS wippy_names (
        name text PRIMARY KEY, wf text NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS wippy_inbox (
        id bigserial PRIMARY KEY, wf text NOT NULL, rec text NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS wippy_inbox_wf ON wippy_inbox (wf)",
    # messages between nodes: where a node listens and its CURVE public key (the allow-list);
    # added to the table of the first version, so its clusters keep working
    "ALTER TABLE wippy_nodes ADD COLUMN IF NOT EXISTS listen text",
    "ALTER TABLE wippy_nodes ADD COLUMN IF NOT EXISTS pubkey text",
    # each node's status without its process list (JSON), every lease round: `wippy ps --cluster`
    "ALTER TABLE wippy_nodes ADD COLUMN IF NOT EXISTS ps text",
    "ALTER TABLE wippy_nodes ADD COLUMN IF NOT EXISTS ps_at timestamptz",
    # cluster-wide process names and singleton services (wippy/cluster/names.py, singletons.py):
    # a row is live while (node, incarnation) is a live lease in wippy_nodes
    """CREATE TABLE IF NOT EXISTS wippy_process_names (
        name text PRIMARY KEY, pid text NOT NULL, node text NOT NULL,
        incarnation bigint NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS wippy_singletons (
        id text PRIMARY KEY, node text NOT NULL, incarnation bigint NOT NULL,
        since timestamptz NOT NULL DEFAULT now())""",
    # registry versions in the order of the cluster (wippy.cluster.registry)
    """CREATE TABLE IF NOT EXISTS wippy_registry (
        version bigint PRIMARY KEY, rec text NOT NULL, node text NOT NULL,
        committed timestamptz NOT NULL DEFAULT now())""",
)


def ensure(cur: Any) -> None:
    """Create what is missing (inside the caller's transaction); idempotent."""
    cur.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK,))
    for stmt in _DDL:
        cur.execute(stmt)
    cur.execute("INSERT INTO wippy_cluster_meta (key, value) VALUES ('schema', %s) "
                "ON CONFLICT (key) DO NOTHING", (VERSION,))
