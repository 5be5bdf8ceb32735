"""The ``wippy`` command: run, ps, stop, bench."""
from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

__all__ = ["main"]

USAGE = """wippy run [APP] [-x ENTRY [ARG...]] [--host ID] [--data-dir DIR] [--log-level LEVEL] [--strict]
wippy ps [APP] [--json]
wippy stop [APP]
wippy registry [--app APP] list | show ID | history | diff V1 V2 | rollback V
wippy workflow [--app APP] list | show ID | signal ID TOPIC [PAYLOAD] | cancel ID
wippy lint [PATH...]    check (typed) Lua code and the application's files without running them
wippy bench [ARGS...]   (from a checkout: python -m benchmarks ARGS...)"""


def _run(argv: list[str]) -> int:
    exec_part: list[str] = []
    if "-x" in argv:
        i = argv.index("-x")
        argv, exec_part = argv[:i], argv[i + 1:]
        if not exec_part:
            print("wippy run: -x needs an entry id", file=sys.stderr)
            return 2
    p = argparse.ArgumentParser(prog="wippy run", usage=USAGE.splitlines()[0])
    p.add_argument("app", nargs="?", default=".")
    p.add_argument("--host", default=None, help="terminal host for -x (default: the terminal.host)")
    p.add_argument("--data-dir", default=None)
    p.add_argument("--log-level", default=os.environ.get("WIPPY_LOG_LEVEL", "WARNING"))
    p.add_argument("--ready-fd", type=int, default=None, help=argparse.SUPPRESS)
    p.add_argument("--stop-timeout", type=float, default=None)
    p.add_argument("--strict", action="store_true",
                   default=os.environ.get("WIPPY_STRICT", "") not in ("", "0", "false", "no"),
                   help="security strict mode: deny every checked action of a scope without an "
                        "actor (also WIPPY_STRICT=1; see docs/security.md)")
    a = p.parse_args(argv)
    # options after -x ENTRY belong to the entry, except --host given before ENTRY
    from ..node.main import NodeOptions, run_node
    opts = NodeOptions(app_dir=a.app, data_dir=a.data_dir, log_level=a.log_level.upper(),
                       ready_fd=a.ready_fd, stop_timeout=a.stop_timeout, exec_host=a.host,
                       exec_entry=exec_part[0] if exec_part else None, exec_args=exec_part[1:],
                       strict=a.strict)
    if not os.path.isdir(opts.app_dir):
        print(f"wippy run: {opts.app_dir} is not a directory", file=sys.stderr)
        return 1
    return run_node(opts)


def _connect(app: str) -> Any:
    from ..client import connect
    from ..core.rundir import run_dir_for
    from ..errors import NodeError
    try:
        return connect(run_dir_for(app))
    except NodeError as exc:
        print(f"wippy: {exc}", file=sys.stderr)
        return None


def _fmt_bytes(n: int | None) -> str:
    if n is None:
        return "-"
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f}{unit}" if unit == "B" else f"{n:.1f}{unit}"
        n /= 1024  # type: ignore[assignment]
    return str(n)


def format_ps(ps: dict[str, Any]) -> str:
    """``wippy ps``'s table of a node's status (``Connection.ps()``)."""
    lines = []
    node = ps["node"]
    denied = (node.get("denied") or 0) + sum(h.get("denied") or 0 for h in ps["hosts"])
    lines.append(f"node pid {node['pid']}  app {node['app_dir']}  up {node['uptime']:.0f}s  "
                 f"registry v{node.get('registry_version')}  denied {denied}"
                 + ("  (strict)" if node.get("strict") else ""))
    lines.append(f"{'HOST':<28} {'STATE':<9} {'OS PID':>7} {'CPU%':>6} {'RSS':>10} {'PROCS':>6} "
                 f"{'RESTARTS':>8} {'DENIED':>6}")
    for h in ps["hosts"]:
        cpu = "-" if h.get("cpu") is None else f"{h['cpu']:.1f}"
        lines.append(f"{h['host'] + '/' + str(h['serial']):<28} {h.get('state', '-'):<9} "
                     f"{h['os_pid']:>7} {cpu:>6} {_fmt_bytes(h.get('rss')):>10} "
                     f"{len(h.get('processes', [])):>6} {h.get('restarts', 0):>8} "
                     f"{h.get('denied') or 0:>6}")
        for p in h.get("processes", []):
            names = f" ({', '.join(p['names'])})" if p.get("names") else ""
            lines.append(f"    {p['pid']:<34} {p['entry']}{names}  mailbox {p['mailbox']}")
        if h.get("last_failure"):
            lines.append(f"    last failure: {h['last_failure']}")
    for sup in ps.get("supervisors", []):
        lines.append(f"supervisor {sup['id']} ({sup['strategy']}, intensity {sup['intensity']} per "
                     f"{sup['period']:g}s) {sup['state']}, {sup['restarts']} restart(s)"
                     + (f", under {sup['parent']}" if sup.get("parent") else "")
                     + (f"; last error: {sup['last_error']}" if sup.get("last_error") else ""))
        for c in sup["children"]:
            lines.append(f"    {c['kind']:<10} {c['id']} ({c['restart']})")
    if ps.get("services"):
        lines.append(f"{'SERVICE':<28} {'STATE':<9} {'RESTARTS':>8}  PID / LAST ERROR")
        for s in ps["services"]:
            lines.append(f"{s['id']:<28} {s['state']:<9} {s['restarts']:>8}  {s['pid'] or ''}"
                         + (f"  last error: {s['last_error']}" if s.get("last_error") else ""))
    return "\n".join(lines)


def _ps(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="wippy ps")
    p.add_argument("app", nargs="?", default=".")
    p.add_argument("--json", action="store_true")
    a = p.parse_args(argv)
    conn = _connect(a.app)
    if conn is None:
        return 1
    with conn:
        ps = conn.ps()
    print(json.dumps(ps, indent=2) if a.json else format_ps(ps))
    return 0


def _stop(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="wippy stop")
    p.add_argument("app", nargs="?", default=".")
    a = p.parse_args(argv)
    conn = _connect(a.app)
    if conn is None:
        return 1
    from ..core.protocol import ReqOp
    with conn:
        conn._request(ReqOp.STOP)
    return 0


def _workflow(argv: list[str]) -> int:
    from .workflow import main as workflow_main
    return workflow_main(argv)


def _lint(argv: list[str]) -> int:
    from ..lua.engine import compile_chunk
    from ..typedlua import lint_paths
    issues = lint_paths(argv or ["."], compile=lambda code, name: compile_chunk(code, name))
    seen: set[tuple[str, int, int, str]] = set()
    unique = []
    for issue in sorted(issues, key=lambda i: i.entry is None):   # keep the one naming the entry
        key = (issue.path, issue.line, issue.col, issue.severity)
        if key not in seen:
            seen.add(key)
            unique.append(issue)
    issues = sorted(unique, key=lambda i: (i.path, i.line, i.col))
    for issue in issues:
        print(issue)
    errors = sum(1 for i in issues if i.severity == "error")
    print(f"wippy lint: {errors} error(s), {len(issues) - errors} warning(s)", file=sys.stderr)
    return 1 if errors else 0


def _registry(argv: list[str]) -> int:
    from .registry import main as registry_main
    return registry_main(argv)


def _bench(argv: list[str]) -> int:
    sys.path.insert(0, os.getcwd())
    try:
        from benchmarks.__main__ import main as bench_main
    except ImportError:
        print("wippy bench runs from a checkout of wippy (it needs benchmarks/)", file=sys.stderr)
        return 1
    return bench_main(argv)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(USAGE)
        return 0
    cmd, rest = argv[0], argv[1:]
    if cmd in ("ps", "registry", "lint", "workflow"):
        import signal as _signal
        _signal.signal(_signal.SIGPIPE, _signal.SIG_DFL)   # `wippy ps | head` ends quietly
    handlers = {"run": _run, "ps": _ps, "stop": _stop, "bench": _bench, "registry": _registry,
                "lint": _lint, "workflow": _workflow}
    if cmd not in handlers:
        print(f"wippy: unknown command '{cmd}'\n{USAGE}", file=sys.stderr)
        return 2
    return handlers[cmd](rest)


if __name__ == "__main__":
    sys.exit(main())
