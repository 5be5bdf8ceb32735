"""Modules Wippy code commonly requires, as Wippy's docs define them: ``base64``,
``compress`` (``en/lua/data/base64.md``, ``compress.md``), ``yaml`` (``yaml.md``), ``hash``,
``crypto`` (``en/lua/security/``) and ``eval_runner`` (``en/lua/dynamic/eval.md``), inside the
sandbox rules. In-process host (no sockets)."""
from __future__ import annotations

import base64
import gzip
import hashlib
import hmac

import pytest
from test_lua_harness import host_factory, lua_entry  # noqa: F401 - fixture

from wippy.lua import guard

pytestmark = pytest.mark.timeout(30)

MODS = ["base64", "compress", "yaml", "hash", "crypto", "eval_runner", "json"]


def run(host_factory, body: str, *args, modules: list[str] | None = None):
    src = f"local function main(...)\n{body}\nend\nreturn {{main = main}}"
    h = host_factory(lua_entry("t:main", src, modules=MODS if modules is None else modules))
    return h.exec("t:main", *args)


def test_base64_round_trips_binary_data_and_refuses_bad_input(host_factory):
    got = run(host_factory, """
        local b64 = require("base64")
        local raw = "a\\0b\\255"
        local _, e1 = b64.decode("not base64!")
        local _, e2 = b64.encode(nil)
        return {b64.encode("hello"), b64.decode(b64.encode(raw)) == raw, b64.encode(""),
                e1:kind(), e1:retryable(), e2:kind()}""")
    assert got == [base64.b64encode(b"hello").decode(), True, "", "Invalid", False, "Invalid"]


@pytest.mark.parametrize("fmt", ["gzip", "deflate", "zlib"])
def test_compress_round_trips_and_refuses_empty_and_broken_data(host_factory, fmt):
    got = run(host_factory, f"""
        local c = require("compress").{fmt}
        local data = string.rep("wippy ", 200)
        local packed = c.encode(data, {{level = 9}})
        local _, e1 = c.encode("")
        local _, e2 = c.decode("not compressed")
        local _, e3 = c.decode(packed, {{max_size = 10}})
        local _, e4 = c.encode(data, {{level = 42}})
        return {{c.decode(packed) == data, #packed < #data, e1:kind(),
                 tostring(e1):find("empty") ~= nil, e2:kind(), e3:kind(), e4:kind()}}""")
    assert got == [True, True, "Invalid", True, "Invalid", "Invalid", "Invalid"]


def test_gzip_output_is_real_gzip(host_factory):
    packed = run(host_factory, 'return require("compress").gzip.encode("hello gzip")')
    assert gzip.decompress(packed.encode("latin-1") if isinstance(packed, str) else packed) \
        == b"hello gzip"


def test_brotli_and_zstd_are_unavailable_errors(host_factory):
    got = run(host_factory, """
        local c = require("compress")
        local _, e = c.brotli.encode("x")
        return e:kind()""")
    assert got == "Unavailable"


def test_yaml_encodes_in_field_order_and_decodes(host_factory):
    got = run(host_factory, """
        local yaml = require("yaml")
        local text = yaml.encode({zebra = 1, alpha = {2, 3}, name = "x"},
                                 {field_order = {"name", "zebra"}})
        local back = yaml.decode("a: 1\\nb: [x, y]\\nwhen: 2024-01-01\\n")
        local _, e1 = yaml.decode("")
        local _, e2 = yaml.decode("a: [1, 2")
        local _, e3 = yaml.encode("not a table")
        return {text, back.a, back.b[2], back.when, e1:kind(), e2:kind(), e3:kind()}""")
    assert got == ["name: x\nzebra: 1\nalpha:\n- 2\n- 3\n", 1, "y", "2024-01-01", "Invalid",
                   "Internal", "Invalid"]


def test_hash_digests_and_hmacs_match_the_standard_ones(host_factory):
    got = run(host_factory, """
        local hash = require("hash")
        return {hash.md5("abc"), hash.sha1("abc"), hash.sha256("abc"), hash.sha512("abc"),
                #hash.sha256("abc", true), hash.hmac_sha256("data", "key"), hash.fnv32("abc"),
                hash.fnv64("") }""")
    assert got[:4] == [hashlib.md5(b"abc").hexdigest(), hashlib.sha1(b"abc").hexdigest(),
                       hashlib.sha256(b"abc").hexdigest(), hashlib.sha512(b"abc").hexdigest()]
    assert got[4] == 32 and got[5] == hmac.new(b"key", b"data", "sha256").hexdigest()
    assert got[6] == 0x1A47E90B and got[7] == 0xCBF29CE484222325 - (1 << 64)


def test_crypto_random_hmac_pbkdf2_jwt_and_compare(host_factory):
    got = run(host_factory, """
        local crypto = require("crypto")
        local token = crypto.jwt.encode({sub = "u1", exp = os.time() + 60}, "secret")
        local claims = crypto.jwt.verify(token, "secret")
        local _, bad = crypto.jwt.verify(token, "other")
        local _, noexp = crypto.jwt.verify(crypto.jwt.encode({sub = "x"}, "s"), "s")
        local _, e1 = crypto.hmac.sha256("", "data")
        local _, e2 = crypto.random.bytes(0)
        return {#crypto.random.bytes(16), #crypto.random.string(10, "ab"),
                crypto.hmac.sha256("key", "data"), #crypto.pbkdf2("pw", "salt", 1000, 32),
                claims.sub, bad:kind(), noexp:kind(), e1:kind(), e2:kind(),
                crypto.constant_time_compare("a", "a"), crypto.constant_time_compare("a", "b"),
                #crypto.random.uuid()}""")
    assert got == [16, 10, hmac.new(b"key", b"data", "sha256").hexdigest(), 32, "u1",
                   "Internal", "Internal", "Invalid", "Invalid", True, False, 36]


def test_eval_runner_runs_source_in_a_sandbox_of_its_own(host_factory):
    got = run(host_factory, """
        local runner = require("eval_runner")
        local r = runner.run({source = [[
            local json = require("json")
            local function handle(x, y) return json.encode({sum = x + y}) end
            return {handle = handle}]], method = "handle", args = {10, 20}, modules = {"json"}})
        local v = runner.run({source = "return 6 * 7"})
        local c = runner.run({source = "local function main() return cfg.url end "
                                       .. "return {main = main}",
                              method = "main", custom_modules = {cfg = {url = "http://x"}}})
        local leak = runner.run({source = "secret_global = 1 return 1"})
        local p = runner.compile("local function h() end return {h = h}", "h", {modules = {}})
        return {r, v, c, secret_global == nil, p:method(), #p:modules()}""")
    assert got == ['{"sum":30}', 42, "http://x", True, "h", 0]


def test_evaluated_code_gets_no_module_its_caller_lacks_and_no_io(host_factory):
    got = run(host_factory, """
        local runner = require("eval_runner")
        local _, e1 = runner.run({source = "return 1", modules = {"registry"}})
        local _, e2 = runner.run({source = "return require('registry')", method = nil})
        local _, e3 = runner.run({source = "return io.open('/etc/passwd')"})
        local _, e4 = runner.compile("this is not lua")
        local _, e5 = runner.run({source = "error('boom')"})
        return {e1:kind(), e2:kind(), e3:kind(), e4:kind(), e5:kind(),
                tostring(e5):find("boom") ~= nil}""", modules=["eval_runner", "json"])
    assert got == ["PermissionDenied", "Internal", "Internal", "Internal", "Internal", True]


def test_guarded_actions_ask_the_guard_first(host_factory, monkeypatch):
    seen = []

    def deny(pid, action, resource, meta):
        seen.append(action)
        from wippy.errors import PermissionDenied
        raise PermissionDenied(f"may not {action}")
    monkeypatch.setattr(guard, "checker", deny)
    got = run(host_factory, """
        local _, err = require("eval_runner").run({source = "return 1"})
        return err:kind()""")
    assert got == "PermissionDenied" and seen == ["eval.run"]


def test_text_regexp_speaks_go_syntax(host_factory):
    got = run(host_factory, """
        local text = require("text")
        local re = text.regexp.compile("(?P<key>\\\\w+)=(\\\\d+)")
        local _, bad = text.regexp.compile("[invalid")
        return {re:match_string("a=1"), re:find_string("x a=1 b=22"),
                re:find_all_string("a=1 b=22")[2], re:find_string_submatch("k=5")[2],
                re:find_string_index("xx a=1")[1], re:replace_all_string("a=1 b=2", "$2:${key}"),
                re:num_subexp(), re:subexp_names()[2], #re:split("1a=1 2b=2 3", -1),
                bad:kind(), bad:retryable()}""", modules=["text"])
    assert got == [True, "a=1", "b=22", "k", 4, "1:a 2:b", 2, "key", 3, "Invalid", False]


def test_text_diff_compares_and_summarizes(host_factory):
    got = run(host_factory, """
        local d = require("text").diff.new()
        local diffs = d:compare("hello world", "hello there")
        local s = d:summarize(diffs)
        local p = d:patch_make("a", "b")
        local out, ok = d:patch_apply(p, "a")
        return {diffs[1].operation, diffs[1].text, s.equals + s.deletions, s.equals + s.insertions,
                out, ok}""", modules=["text"])
    assert got == ["equal", "hello ", 11, 11, "b", True]


def test_text_splitter_chunks_within_the_size(host_factory):
    got = run(host_factory, """
        local s = require("text").splitter.recursive({chunk_size = 20, chunk_overlap = 0})
        local chunks = s:split_text(string.rep("word ", 30))
        local batch = s:split_batch({{content = "one two three", metadata = {page = 1}}})
        local longest = 0
        for _, c in ipairs(chunks) do if #c > longest then longest = #c end end
        return {#chunks > 1, longest <= 20, batch[1].content, batch[1].metadata.page}""",
              modules=["text"])
    assert got == [True, True, "one two three", 1]


def test_expr_evaluates_expr_lang_and_reports_wippys_error_kinds(host_factory):
    got = run(host_factory, """
        local expr = require("expr")
        local p = expr.compile("price * (1 - discount_rate)")
        local _, e1 = expr.eval("")
        local _, e2 = expr.eval("invalid syntax !!!")
        local _, e3 = expr.compile("x + y"):run({x = 10})
        return {expr.eval("1 + 2 * 3"), expr.eval('score > 90 ? "A" : score > 80 ? "B" : "C"',
                {score = 85}), expr.eval('"admin" in roles', {roles = {"user", "admin"}}),
                p:run({price = 100, discount_rate = 0.25}), expr.eval("len(password) >= 8",
                {password = "short"}), expr.eval('upper("hi") + "!"'),
                e1:kind(), e2:kind(), e3:kind()}""", modules=["expr"])
    assert got == [7, "B", True, 75.0, False, "HI!", "Invalid", "Internal", "Internal"]
