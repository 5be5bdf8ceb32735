"""Wippy's ``fs`` module (``en/lua/storage/filesystem.md``, ``en/system/filesystem.md``): the
docs' examples run against real files in a temporary volume, and every way out of the volume
(``..``, absolute paths, symlinks, a read-only mode, a process without ``fs.get``) is refused
with a clear error. In-process host (no sockets)."""
from __future__ import annotations

import os

import pytest
from test_lua_harness import host_factory, lua_entry  # noqa: F401 - fixture

from wippy import fs as pyfs
from wippy.errors import PermissionDenied, ResourceError
from wippy.registry.kinds import validate
from wippy.security import context
from wippy.security.book import BOOK

pytestmark = pytest.mark.timeout(30)


def volume(root: str, id: str = "app:data", mode: str = "0755", **extra) -> dict:
    data = {"directory": root, "auto_init": False, "mode": mode, "base": "project", **extra}
    return {"id": id, "kind": "fs.directory", "meta": {}, "data": data, "base_dir": "/"}


def run(host_factory, vols, body: str, *args, as_actor=None, extra=()):
    src = f"local fs = require('fs')\nlocal json = require('json')\n" \
          f"local function main(...)\n{body}\nend\nreturn {{main = main}}"
    h = host_factory(lua_entry("t:main", src, modules=["fs", "json"]), *vols, *extra)
    if as_actor is None:
        return h.exec("t:main", *args)
    pid = h.rt.spawn("{client/2|0}", "t:main", "app:h", list(args), 1,
                     security=context.from_wire(as_actor))
    return h.wait_exit(pid)


@pytest.fixture
def root(tmp_path) -> str:
    d = tmp_path / "vol"
    d.mkdir()
    (d / "config.json").write_text('{"debug": true}')
    (d / "settings.json").write_text('{"port": 8080}')
    (d / "data").mkdir()
    (d / "data" / "large.csv").write_bytes(b"x" * 200_000)
    (d / "data" / "users.csv").write_text("name,age\nann,31\nbob,42\n")
    (d / "documents").mkdir()
    (d / "documents" / "report.pdf").write_bytes(b"%PDF" + b"0" * 96)
    (d / "documents" / "notes").mkdir()
    return str(d)


# -- the docs' examples, as written (the names they leave undefined are given) ------------------
def test_docs_acquire_and_read_examples(host_factory, root):
    got = run(host_factory, [volume(root, "app:storage"), volume(root, "app:config")], """
        local out = {}
        local vol, err = fs.get("app:storage")
        if err then
            return nil, err
        end

        local content = vol:readfile("/config.json")
        out.content = content

        local vol = fs.get("app:config")

        local data, err = vol:readfile("/settings.json")
        if err then
            return nil, err
        end

        local config = json.decode(data)
        out.port = config.port
        return out""")
    assert got == {"content": '{"debug": true}', "port": 8080}


def test_docs_streaming_read_and_write_examples(host_factory, root):
    os.mkdir(os.path.join(root, "output"))       # the example writes into it (no implicit mkdir)
    got = run(host_factory, [volume(root, "app:data")], """
        local vol = fs.get("app:data")
        local total, chunks = 0, 0
        local function process(chunk) total = total + #chunk; chunks = chunks + 1 end
        local file = vol:open("/data/large.csv", "r")

        while true do
            local chunk = file:read(65536)
            if not chunk or #chunk == 0 then break end
            process(chunk)
        end

        file:close()

        local value = "42"
        local file = vol:open("/output/report.txt", "w")
        file:write("Header\\n")
        file:write("Data: " .. value .. "\\n")
        file:sync()
        file:close()
        return {total, chunks}""")
    assert got == [200_000, 4]
    assert open(os.path.join(root, "output", "report.txt")).read() == "Header\nData: 42\n"


def test_docs_write_examples_overwrite_append_and_exclusive(host_factory, root):
    os.mkdir(os.path.join(root, "logs"))
    got = run(host_factory, [volume(root, "app:data")], """
        local config, message, pid = {a = 1}, "started", 4242
        local vol = fs.get("app:data")

        -- Overwrite (default)
        vol:writefile("/config.json", json.encode(config))

        -- Append
        vol:writefile("/logs/app.log", message .. "\\n", "a")

        -- Exclusive write (fails if exists)
        local ok, err = vol:writefile("/lock.pid", tostring(pid), "wx")
        vol:writefile("/logs/app.log", message .. "\\n", "a")
        local again, err2 = vol:writefile("/lock.pid", "1", "wx")
        return {ok, again, err2:kind(), vol:readfile("/logs/app.log")}""")
    assert got == [True, None, "AlreadyExists", "started\nstarted\n"]
    assert open(os.path.join(root, "config.json")).read() == '{"a":1}'
    assert open(os.path.join(root, "lock.pid")).read() == "4242"


def test_docs_checking_paths_and_directory_examples(host_factory, root):
    got = run(host_factory, [volume(root, "app:data")], """
        local out, listed = {}, {}
        local user_id, path = "u7", "/documents"
        local function process_directory(p) out.dir = p end
        local vol = fs.get("app:data")

        -- Check existence
        if vol:exists("/cache/results.json") then
            return vol:readfile("/cache/results.json")
        end

        -- Check if directory
        if vol:isdir(path) then
            process_directory(path)
        end

        -- Get file info
        local info = vol:stat("/documents/report.pdf")
        print(info.size, info.modified, info.type)
        out.info = {info.name, info.size, info.type, info.is_dir, type(info.modified)}

        -- Create directory
        vol:mkdir("/uploads/" .. user_id)

        -- List directory contents
        for entry in vol:readdir("/documents") do
            print(entry.name, entry.type)
            table.insert(listed, entry.name .. ":" .. entry.type)
        end
        out.listed = listed

        -- Remove file or empty directory
        vol:writefile("/temp_file.txt", "x")
        out.removed = vol:remove("/temp_file.txt")
        out.constants = {fs.type.FILE, fs.type.DIR, fs.seek.SET, fs.seek.CUR, fs.seek.END}
        return out""")
    assert got["dir"] == "/documents"
    assert got["info"] == ["report.pdf", 100, "file", False, "number"]
    assert got["listed"] == ["notes:directory", "report.pdf:file"]
    assert got["removed"] is True
    assert got["constants"] == ["file", "directory", "set", "cur", "end"]


def test_docs_scanner_example(host_factory, root):
    got = run(host_factory, [volume(root, "app:data")], """
        local rows = {}
        local function process(line) table.insert(rows, line) end
        local vol = fs.get("app:data")
        local file = vol:open("/data/users.csv", "r")
        local scanner = file:scanner("lines")

        scanner:scan()  -- skip header

        while scanner:scan() do
            local line = scanner:text()
            process(line)
        end

        file:close()
        return rows""")
    assert got == ["ann,31", "bob,42"]


def test_file_handles_seek_stat_words_and_eof(host_factory, root):
    got = run(host_factory, [volume(root)], """
        local vol = fs.get("app:data")
        local f = vol:open("/data/users.csv", "r")
        local head = f:read(4)
        local pos = f:seek("set", 5)
        local rest = f:read()
        local eof, eof_err = f:read()
        local st = f:stat()
        local words = {}
        f:seek("set", 0)
        local sc = f:scanner("words")
        while sc:scan() do table.insert(words, sc:text()) end
        f:close()
        local _, closed = f:read()
        local _, bad_mode = vol:open("/x", "rw")
        vol:chdir("/documents")
        local here = vol:pwd()
        local rel = vol:exists("report.pdf")
        return {head, pos, rest, eof, eof_err:kind(), st.size, words, closed:kind(),
                bad_mode:kind(), here, rel}""")
    assert got == ["name", 5, "age\nann,31\nbob,42\n", None, "NotFound", 23,
                   ["name,age", "ann,31", "bob,42"], "Invalid", "Invalid", "/documents", True]


# -- escapes ----------------------------------------------------------------------------------
def test_paths_that_climb_out_of_the_volume_are_invalid(host_factory, root, tmp_path):
    (tmp_path / "secret.txt").write_text("top secret")
    got = run(host_factory, [volume(root)], """
        local vol = fs.get("app:data")
        local out = {}
        for _, p in ipairs({"../secret.txt", "/../secret.txt", "documents/../../secret.txt",
                            "/documents/../../../secret.txt"}) do
          local data, err = vol:readfile(p)
          table.insert(out, {data or false, err and err:kind(), err and err:message()})
        end
        local ok, err = vol:writefile("../escaped.txt", "x")
        table.insert(out, {tostring(ok), err:kind()})
        local ok2, err2 = vol:chdir("..")
        table.insert(out, {tostring(ok2), err2:kind()})
        return out""")
    for data, kind, msg in got[:4]:
        assert data is False and kind == "Invalid" and "leads outside the volume app:data" in msg
    assert got[4] == ["nil", "Invalid"] and got[5] == ["nil", "Invalid"]
    assert not (tmp_path / "escaped.txt").exists()


def test_an_absolute_path_stays_inside_the_volume(host_factory, root):
    got = run(host_factory, [volume(root)], """
        local vol = fs.get("app:data")
        local data, err = vol:readfile("/etc/passwd")
        return {data or false, err:kind()}""")
    assert got == [False, "NotFound"]          # /etc/passwd means <root>/etc/passwd


def test_a_symlink_out_of_the_root_is_refused(host_factory, root, tmp_path):
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "secret.txt").write_text("top secret")
    os.symlink(str(tmp_path / "outside"), os.path.join(root, "link_dir"))
    os.symlink(str(tmp_path / "outside" / "secret.txt"), os.path.join(root, "link_file"))
    os.symlink("documents", os.path.join(root, "inside_link"))
    got = run(host_factory, [volume(root)], """
        local vol = fs.get("app:data")
        local out = {}
        for _, call in ipairs({
            function() return vol:readfile("/link_file") end,
            function() return vol:readfile("/link_dir/secret.txt") end,
            function() return vol:writefile("/link_dir/new.txt", "x") end,
            function() return vol:readdir("/link_dir") end,
            function() return vol:open("/link_file", "r") end,
        }) do
          local v, err = call()
          table.insert(out, err and (err:kind() .. ": " .. err:message()) or "allowed")
        end
        local names = {}
        for e in vol:readdir("/inside_link") do table.insert(names, e.name) end
        table.insert(out, table.concat(names, ","))
        return out""")
    for line in got[:5]:
        assert line.startswith("PermissionDenied: ") and "outside the volume" in line, line
    assert got[5] == "notes,report.pdf"            # a symlink that stays inside works
    assert not (tmp_path / "outside" / "new.txt").exists()


def test_a_read_only_volume_refuses_writes(host_factory, root):
    got = run(host_factory, [volume(root, mode="0555")], """
        local vol = fs.get("app:data")
        local ok, err = vol:writefile("/new.txt", "x")
        local ok2, err2 = vol:mkdir("/newdir")
        local ok3, err3 = vol:remove("/config.json")
        return {tostring(ok), err:kind(), err:message(), tostring(ok2), err2:kind(),
                tostring(ok3), err3:kind(), vol:readfile("/config.json")}""")
    assert got[:2] == ["nil", "PermissionDenied"] and "read-only (mode 0555)" in got[2]
    assert got[3:] == ["nil", "PermissionDenied", "nil", "PermissionDenied", '{"debug": true}']


def test_a_process_without_fs_get_is_refused(host_factory, root):
    pol = {"id": "s:only_public", "kind": "security.policy", "meta": {},
           "data": {"policy": {"actions": "fs.get", "resources": "app:public",
                               "effect": "allow"}}}
    host = {"id": "s:host", "kind": "security.policy", "meta": {},
            "data": {"policy": {"actions": "process.host", "resources": "*", "effect": "allow"}}}
    actor = [["agent:one", {}, ["s:only_public", "s:host"], []]]
    try:
        got = run(host_factory, [volume(root), volume(root, "app:public")], """
            local v1, e1 = fs.get("app:data")
            local v2, e2 = fs.get("app:public")
            return {v1 == nil, e1:kind(), e1:message(), v2 ~= nil and v2:readfile("/config.json")}""",
                  as_actor=actor, extra=(pol, host))
    finally:
        BOOK.attach(dict, lambda _id: None)
    assert got[:2] == [True, "PermissionDenied"]
    assert "actor agent:one may not fs.get app:data" in got[2]
    assert got[3] == '{"debug": true}'


def test_bad_ids_and_missing_directories_are_clear_errors(host_factory, root, tmp_path):
    missing = str(tmp_path / "nope")
    made = str(tmp_path / "made")
    got = run(host_factory, [volume(root), volume(missing, "app:missing"),
                             volume(made, "app:made", auto_init=True),
                             {"id": "app:other", "kind": "registry.entry", "meta": {},
                              "data": {}}], """
        local out = {}
        for _, id in ipairs({"", "app:none", "app:missing", "app:other"}) do
          local v, err = fs.get(id)
          table.insert(out, err:kind() .. ": " .. err:message())
        end
        local made = fs.get("app:made")
        table.insert(out, made:writefile("/x.txt", "y"))
        return out""")
    assert got[0] == "Invalid: filesystem name required"
    assert got[1] == "NotFound: filesystem not found: app:none"
    assert got[2].startswith("NotFound: volume app:missing: directory") and "auto_init" in got[2]
    assert got[3] == "Invalid: app:other is a registry.entry, not a filesystem"
    assert got[4] is True and open(os.path.join(made, "x.txt")).read() == "y"


def test_docs_entry_yaml_validates_and_a_bad_mode_is_named():
    ok = validate("fs.directory", {"directory": "/var/data/uploads", "auto_init": True,
                                   "mode": "0755"}, "app")
    assert ok.problems == [] and ok.data["base"] == "project"
    bad = validate("fs.directory", {"directory": "x", "mode": "rwx"}, "app")
    assert [p.field for p in bad.problems] == ["mode"]


def test_python_processes_get_the_same_volume_api(root):
    class Store:
        def get(self, id):
            return volume(root) if id == "app:data" else None

        def version(self):
            return 1

    class Rt:
        store = Store()

        def check(self, action, resource):
            if resource != "app:data":
                raise PermissionDenied(f"may not {action} {resource}")

        def current(self):
            raise RuntimeError

    vol = pyfs.Volume("app:data", Rt())
    assert vol.readfile("/config.json") == b'{"debug": true}'
    assert [e["name"] for e in vol.readdir("/")] == ["config.json", "data", "documents",
                                                     "settings.json"]
    with pytest.raises(ResourceError) as exc:
        vol.readfile("../x")
    assert exc.value.kind == "INVALID"


def test_readfile_past_the_memory_limit_is_refused_not_loaded(host_factory, root):
    src = ("local fs = require('fs')\nlocal function main()\n"
           "local vol = fs.get('app:data')\nlocal _, err = vol:readfile('/data/large.csv')\n"
           "local f = vol:open('/data/large.csv', 'r')\n"
           "return {err:kind(), #f:read(1000)}\nend\nreturn {main = main}")
    h = host_factory(lua_entry("t:main", src, modules=["fs"], limits={"max_memory": 150_000}),
                     volume(root))
    got = h.exec("t:main")
    assert got == ["LimitExceeded", 1000]
