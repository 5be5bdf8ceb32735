"""The ``wippy`` command: one parser, one subcommand per module.

Every command takes the application the same way (positional ``APP``, default the current
directory; ``--app`` kept as an alias), every option has help text, every command that lists
has ``--json``. ``run``, ``stop`` and ``lint`` live here; ``ps``, ``top``, ``registry``,
``workflow``, ``init`` and ``pack`` in their own modules, each adding its parser.
"""
from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from .. import logs
from .._version import __version__
from . import cluster as cluster_cmd
from . import init as init_cmd
from . import pack as pack_cmd
from . import ps as ps_cmd
from . import registry as registry_cmd
from . import top as top_cmd
from . import workflow as workflow_cmd
from .common import add_app, app_of, connect_or_none, print_json, split_app

__all__ = ["main", "build_parser", "format_ps"]

format_ps = ps_cmd.format_ps      # where it always was

EPILOG = """environment: WIPPY_LOG_LEVEL, WIPPY_LOG_FORMAT, WIPPY_DATA_DIR, WIPPY_STRICT,
WIPPY_OBSERVE_TOKEN, WIPPY_CLUSTER, WIPPY_NODE, WIPPY_LEASE_TTL.
See README.md ("Watch it run") and `wippy COMMAND --help`."""


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "") not in ("", "0", "false", "no")


# -- run -----------------------------------------------------------------------------------
def _add_run(sub: Any) -> None:
    p = sub.add_parser(
        "run", help="boot the application and run until Ctrl-C (or run one entry with -x)",
        usage="wippy run [APP] [options] [-x ENTRY [ARG...]]",
        description="Boot the application (hosts, auto_start services, workflows) and run until "
                    "Ctrl-C or `wippy stop`; with -x, run ENTRY on the terminal host and exit "
                    "with its result (a string is printed, a number is the exit code).")
    add_app(p)
    p.add_argument("-x", "--exec", dest="exec_", default=None, metavar="ENTRY",
                   help="run this entry (ns:name) on the terminal host and exit with its result; "
                        "every word after it is a string argument to its main")
    p.add_argument("--host", default=None, metavar="ID",
                   help="the terminal host for -x (default: the application's terminal.host)")
    p.add_argument("--data-dir", default=None, metavar="DIR",
                   help="where the registry and the workflow journal live (default: "
                        "APP/.wippy/data, or WIPPY_DATA_DIR)")
    p.add_argument("--log-level", default=None, type=str.lower,
                   choices=[*logs.LEVELS, "warn"], metavar="LEVEL",
                   help=f"show log lines at this level and above: {', '.join(logs.LEVELS)} "
                        f"(default: WIPPY_LOG_LEVEL, else {logs.DEFAULT_LEVEL}; "
                        f"{logs.EXEC_LEVEL} with -x)")
    p.add_argument("-v", "--verbose", action="store_true", help="the same as --log-level debug")
    p.add_argument("--log-format", default=None, type=str.lower,
                   choices=[f.value for f in logs.LogFormat],
                   help="text (for people, the default) or json (one object per line: ts, "
                        "level, node, host, pid, entry, logger, msg, fields); also "
                        "WIPPY_LOG_FORMAT")
    p.add_argument("--stop-timeout", type=float, default=None, metavar="S",
                   help="seconds a process gets to finish after CANCEL at stop (default 10)")
    p.add_argument("--strict", action="store_true", default=_env_flag("WIPPY_STRICT"),
                   help="security strict mode: deny every checked action of a scope without an "
                        "actor (also WIPPY_STRICT=1; see docs/security.md)")
    p.add_argument("--observe", default=None, metavar="HOST:PORT",
                   help="serve the web observer (the process tree, rates and restarts, registry "
                        "versions and diffs, workflows and their journals) and Prometheus' "
                        "/metrics on this address; a bare PORT listens on 127.0.0.1 (port 0: any "
                        "free one); off by default")
    p.add_argument("--observe-token", default=None, metavar="TOKEN",
                   help="allow the observer's operator actions (cancel a workflow, roll the "
                        "registry back, terminate a process) to whoever presents TOKEN; "
                        "without it the observer is read-only (also WIPPY_OBSERVE_TOKEN, which "
                        "keeps it off the command line)")
    p.add_argument("--cluster", default=None, metavar="DSN",
                   help="join the cluster whose state lives in this PostgreSQL (postgresql://...; "
                        "also WIPPY_CLUSTER, which keeps a password off the command line): the "
                        "workflow journal is shared and a dead node's workflows resume on the "
                        "others (see docs/cluster.md); without it the journal is local (LMDB)")
    p.add_argument("--node", default=None, metavar="NAME",
                   help="this node's name in the cluster (default: WIPPY_NODE, else the host "
                        "name); nodes of one application on one machine need different names")
    p.add_argument("--lease-ttl", type=float, default=None, metavar="S",
                   help="seconds a node's lease lasts without renewal (renewed every third of "
                        "it); after that the others take its workflows over (default: "
                        "WIPPY_LEASE_TTL, else 5)")
    p.add_argument("--ready-fd", type=int, default=None, help=argparse.SUPPRESS)
    p.set_defaults(func=_run)


def _run(a: argparse.Namespace, exec_args: list[str] | None = None) -> int:
    from ..node.main import NodeOptions, run_node
    app = app_of(a)
    level = ("debug" if a.verbose else a.log_level or os.environ.get("WIPPY_LOG_LEVEL")
             or (logs.EXEC_LEVEL if a.exec_ else logs.DEFAULT_LEVEL))
    fmt = a.log_format or os.environ.get("WIPPY_LOG_FORMAT") or logs.LogFormat.TEXT.value
    try:
        logs.parse_level(level)
        fmt = logs.LogFormat(fmt.lower()).value
    except ValueError as exc:   # from the environment: argparse checked the options
        print(f"wippy run: {exc}" if "level" in str(exc) else
              f"wippy run: unknown log format '{fmt}' (choose from text, json)", file=sys.stderr)
        return 2
    from ..node.observe import TOKEN_ENV, parse_observe
    if a.observe is not None:
        try:
            parse_observe(a.observe)
        except ValueError as exc:
            print(f"wippy run: {exc}", file=sys.stderr)
            return 2
    cluster, node = a.cluster or os.environ.get("WIPPY_CLUSTER") or None, None
    ttl: float | None = a.lease_ttl
    if cluster:
        from ..cluster import default_node
        node = a.node or os.environ.get("WIPPY_NODE") or default_node()
        os.environ["WIPPY_NODE"] = node     # log lines (the node field) and hosts name it
        try:
            ttl = ttl if ttl is not None else float(os.environ.get("WIPPY_LEASE_TTL") or 5)
        except ValueError:
            print(f"wippy run: WIPPY_LEASE_TTL={os.environ['WIPPY_LEASE_TTL']!r} is not a number "
                  "of seconds", file=sys.stderr)
            return 2
        if ttl <= 0:
            print(f"wippy run: the lease TTL must be positive, not {ttl:g}", file=sys.stderr)
            return 2
    elif a.node or a.lease_ttl is not None:
        print("wippy run: --node and --lease-ttl need --cluster (or WIPPY_CLUSTER)",
              file=sys.stderr)
        return 2
    opts = NodeOptions(app_dir=app, data_dir=a.data_dir, log_level=level.upper(),
                       log_format=fmt, ready_fd=a.ready_fd, stop_timeout=a.stop_timeout,
                       exec_host=a.host, exec_entry=a.exec_, exec_args=list(exec_args or []),
                       strict=a.strict, observe=a.observe,
                       observe_token=a.observe_token or os.environ.get(TOKEN_ENV) or None,
                       cluster=cluster, node=node, lease_ttl=ttl)
    if opts.log_level == "WARN":
        opts.log_level = "WARNING"
    if not os.path.isdir(opts.app_dir):
        print(f"wippy run: {opts.app_dir} is not a directory", file=sys.stderr)
        return 1
    return run_node(opts)


# -- stop, lint, bench, completion ---------------------------------------------------------
def _stop(a: argparse.Namespace) -> int:
    conn = connect_or_none(app_of(a), "wippy stop")
    if conn is None:
        return 1
    from ..core.protocol import ReqOp
    with conn:
        conn._request(ReqOp.STOP)
    return 0


def _lint(a: argparse.Namespace) -> int:
    from ..lua.engine import compile_chunk
    from ..typedlua import lint_paths
    paths = list(a.paths) + ([a.app_opt] if a.app_opt else [])
    issues = lint_paths(paths or ["."], compile=lambda code, name: compile_chunk(code, name))
    seen: set[tuple[str, int, int, str]] = set()
    unique = []
    for issue in sorted(issues, key=lambda i: i.entry is None):   # keep the one naming the entry
        key = (issue.path, issue.line, issue.col, issue.severity)
        if key not in seen:
            seen.add(key)
            unique.append(issue)
    issues = sorted(unique, key=lambda i: (i.path, i.line, i.col))
    errors = sum(1 for i in issues if i.severity == "error")
    shown = [i for i in issues if a.level != "error" or i.severity == "error"]
    if a.json:
        print_json([{"path": i.path, "line": i.line, "col": i.col, "severity": i.severity,
                     "message": i.message, "entry": i.entry} for i in shown])
    else:
        for issue in shown:
            print(issue)
    print(f"wippy lint: {errors} error(s), {len(issues) - errors} warning(s)", file=sys.stderr)
    return 1 if errors else 0


def _bench(a: argparse.Namespace, rest: list[str]) -> int:
    sys.path.insert(0, os.getcwd())
    try:
        from benchmarks.__main__ import main as bench_main
    except ImportError:
        print("wippy bench runs from a checkout of wippy (it needs benchmarks/)", file=sys.stderr)
        return 1
    return bench_main(rest)


def _completion(a: argparse.Namespace) -> int:
    from .completion import bash_script
    print(bash_script(build_parser()))
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The whole ``wippy`` command line."""
    p = argparse.ArgumentParser(prog="wippy", epilog=EPILOG,
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                description="wippy: actors in groups of OS processes, supervision, "
                                            "a live registry, durable workflows.")
    p.add_argument("-V", "--version", action="version",
                   version=f"wippy {__version__} (Python {sys.version.split()[0]})")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    _add_run(sub)
    ps_cmd.register(sub)
    top_cmd.register(sub)
    st = sub.add_parser("stop", help="stop the running node in order (CANCEL, stop_timeout, kill)",
                        description="Stop the node running APP: every process gets CANCEL and "
                                    "its stop_timeout, then the hosts are stopped.")
    add_app(st)
    st.set_defaults(func=_stop)
    registry_cmd.register(sub)
    workflow_cmd.register(sub)
    cluster_cmd.register(sub)
    ln = sub.add_parser("lint", help="check (typed) Lua and the YAML without running",
                        description="Check the Lua code (typed or plain) and the application's "
                                    "YAML files under PATHs without running anything; exit 1 on "
                                    "errors.")
    ln.add_argument("paths", nargs="*", metavar="PATH",
                    help="applications, folders or .lua files (default: the current directory)")
    ln.add_argument("--app", dest="app_opt", default=None, metavar="APP",
                    help="the same as a PATH (kept for older scripts)")
    ln.add_argument("--json", action="store_true", help="print the problems as JSON")
    ln.add_argument("--level", choices=("error", "warning"), default="warning",
                    help="the lowest severity shown (default warning)")
    ln.set_defaults(func=_lint)
    init_cmd.register(sub)
    pack_cmd.register(sub)
    bn = sub.add_parser("bench", help="the benchmarks against the floor and the peers (a checkout)",
                        add_help=False,
                        description="Run the benchmark harness (python -m benchmarks) from a "
                                    "checkout: `wippy bench --help` lists its options, among them "
                                    "--plot FILE.")
    bn.set_defaults(func=None)
    cp = sub.add_parser("completion", help="print a bash completion script",
                        description="Print a bash completion script: "
                                    "`source <(wippy completion)` or save it in "
                                    "/etc/bash_completion.d/wippy.")
    cp.set_defaults(func=_completion)
    return p


def main(argv: list[str] | None = None) -> int:
    """Run the ``wippy`` command with ``argv`` (default: ``sys.argv[1:]``); the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    if not argv or argv[0] == "help":
        parser.print_help()
        return 0
    cmd = argv[0]
    if cmd == "bench":
        return _bench(argparse.Namespace(), argv[1:])
    if cmd in ("ps", "registry", "lint", "workflow", "top", "completion", "cluster"):
        import signal as _signal
        _signal.signal(_signal.SIGPIPE, _signal.SIG_DFL)   # `wippy ps | head` ends quietly
    exec_args: list[str] = []
    if cmd == "run":
        for flag in ("-x", "--exec"):      # words after -x ENTRY belong to the entry
            if flag in argv:
                i = argv.index(flag)
                if i + 1 >= len(argv):
                    print("wippy run: -x needs an entry id", file=sys.stderr)
                    return 2
                argv, exec_args = argv[:i + 2], argv[i + 2:]
                break
    app = None
    if cmd in ("registry", "workflow"):
        subs = registry_cmd.SUBCOMMANDS if cmd == "registry" else workflow_cmd.SUBCOMMANDS
        app, rest = split_app(argv[1:], subs)
        argv = [cmd, *rest]
    a = parser.parse_args(argv)
    if app is not None:
        a.app = app
    if a.command is None:
        parser.print_help()
        return 0
    if a.command == "run":
        return _run(a, exec_args)
    return int(a.func(a))


if __name__ == "__main__":
    sys.exit(main())
