"""The run directory is trusted only when it is ours alone (S9): owner, mode 0700, no symlink,
``$XDG_RUNTIME_DIR/wippy`` when set; every socket file is checked before connecting.

The attack: another local user creates ``/tmp/wippy-$UID`` first, binds a fake control socket
in it, and gets code execution as the victim when the victim runs ``wippy ps`` (the client
unpickles the reply). Refused before anything is read."""
from __future__ import annotations

import os
import socket

import pytest

from conftest import run_wippy, write_app
from wippy.core.rundir import (RunDir, TrustError, check_private_dir, check_socket, run_dir_for,
                               user_run_root)

OTHER_UID = 54321
needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="making a file owned by another user needs root")

APP = {"config/_index.yaml": """
    version: "1.0"
    namespace: app
    entries:
      - name: main
        kind: process.host
    """}


@pytest.fixture
def xdg(tmp_path, monkeypatch):
    d = tmp_path / "xdg"
    d.mkdir(mode=0o700)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(d))
    return d


def test_xdg_runtime_dir_is_used_when_set(xdg):
    assert user_run_root() == str(xdg / "wippy")
    assert run_dir_for("/some/app").startswith(str(xdg / "wippy") + "/")


def test_without_xdg_the_root_is_per_user_in_tmp(monkeypatch):
    monkeypatch.delenv("XDG_RUNTIME_DIR", raising=False)
    assert user_run_root() == f"/tmp/wippy-{os.getuid()}"


def test_a_private_directory_of_ours_is_accepted(tmp_path):
    d = tmp_path / "ok"
    d.mkdir(mode=0o700)
    check_private_dir(str(d))


def test_a_directory_open_to_others_is_refused_with_what_to_do(tmp_path):
    d = tmp_path / "open"
    d.mkdir()
    os.chmod(d, 0o777)
    with pytest.raises(TrustError, match=r"mode 0777.*chmod 700"):
        check_private_dir(str(d))


def test_a_symlink_is_refused(tmp_path):
    real = tmp_path / "real"
    real.mkdir(mode=0o700)
    link = tmp_path / "link"
    link.symlink_to(real)
    with pytest.raises(TrustError, match="is a symlink"):
        check_private_dir(str(link))


@needs_root
def test_a_directory_owned_by_another_user_is_refused(tmp_path):
    d = tmp_path / "theirs"
    d.mkdir(mode=0o700)
    os.chown(d, OTHER_UID, OTHER_UID)
    with pytest.raises(TrustError, match=f"belongs to uid {OTHER_UID}"):
        check_private_dir(str(d))


@needs_root
def test_a_socket_owned_by_another_user_is_refused(tmp_path):
    d = tmp_path / "run"
    d.mkdir(mode=0o700)
    path = str(d / "ctl")
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.bind(path)
        os.chown(path, OTHER_UID, OTHER_UID)
        with pytest.raises(TrustError, match=f"socket {path} belongs to uid {OTHER_UID}"):
            check_socket(path)
    finally:
        s.close()


def test_a_missing_socket_in_a_private_directory_is_fine(tmp_path):
    d = tmp_path / "run"
    d.mkdir(mode=0o700)
    check_socket(str(d / "not-yet"))


@needs_root
def test_the_node_refuses_a_run_root_another_user_made_first(xdg, app_dir):
    write_app(app_dir, APP)
    (xdg / "wippy").mkdir(mode=0o700)
    os.chown(xdg / "wippy", OTHER_UID, OTHER_UID)
    out = run_wippy(["run", app_dir], timeout=30)
    assert out.returncode == 1
    assert f"belongs to uid {OTHER_UID}" in out.stderr and "XDG_RUNTIME_DIR" in out.stderr


@needs_root
def test_ps_refuses_a_fake_control_socket_before_reading_anything(xdg, app_dir):
    """The attacker's setup: their directories, their socket, where ``wippy ps`` will look."""
    write_app(app_dir, APP)
    run_dir = run_dir_for(app_dir)
    os.makedirs(run_dir, mode=0o700)
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.bind(os.path.join(run_dir, "ctl"))
        s.listen(1)
        for path in (os.path.join(run_dir, "ctl"), run_dir, os.path.dirname(run_dir)):
            os.chown(path, OTHER_UID, OTHER_UID)
        out = run_wippy(["ps", app_dir], timeout=30)
        assert out.returncode == 1
        assert f"belongs to uid {OTHER_UID}" in out.stderr
        s.settimeout(0)
        with pytest.raises(BlockingIOError):
            s.accept()                       # the client never even connected
    finally:
        s.close()


def test_a_node_runs_under_xdg_runtime_dir_and_ps_reaches_it(xdg, app_dir):
    import wippy
    write_app(app_dir, APP)
    with wippy.Node(app_dir) as node:
        assert node.run_dir.startswith(str(xdg / "wippy") + "/")
        assert oct(os.stat(node.run_dir).st_mode & 0o777) == "0o700"
        out = run_wippy(["ps", app_dir], timeout=30)
        assert out.returncode == 0, out.stderr
        assert "app:main" in out.stdout


def test_acquire_creates_both_levels_private(xdg):
    rd = RunDir(str(xdg / "wippy" / "abcd1234"))
    rd.acquire({"pid": os.getpid()})
    try:
        for path in (xdg / "wippy", xdg / "wippy" / "abcd1234"):
            assert os.stat(path).st_mode & 0o777 == 0o700
    finally:
        rd.release()
