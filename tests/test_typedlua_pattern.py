"""``@pattern`` regexes converted to Lua patterns: same answers as Python's ``re``, or refused."""
from __future__ import annotations

import re

import lupa.lua54 as lua54
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wippy.typedlua._pattern import PatternError, regex_to_lua

_lua = lua54.LuaRuntime()
_find_any = _lua.eval("""function(s, pats)
  for i = 1, #pats do if string.find(s, pats[i]) then return true end end
  return false
end""")


def lua_matches(rx: str, s: str) -> bool:
    return bool(_find_any(s, _lua.table_from(regex_to_lua(rx))))


@pytest.mark.parametrize("rx, pats", [
    ("^.+@.+$", ["^.+@.+$"]),
    (r"^\d{3}-\d{4}$", ["^%d%d%d%-%d%d%d%d$"]),
    (r"^[a-z0-9_-]+$", ["^[a-z0-9_%-]+$"]),
    (r"^(http|https)://", ["^http://", "^https://"]),
    (r"^a(b)?c$", ["^abc$", "^ac$"]),
    (r"x{2,4}", ["xxx?x?"]),
    (r"\w+\s*", ["[%w_]+%s*"]),
    (r"a+?b", ["aa-b"]),
    (r"^[[:alpha:]]+$", ["^[%a]+$"]),
    (r"a.*?b", ["a.-b"]),
    (r"100%", ["100%%"]),
])
def test_regex_becomes_lua_patterns(rx: str, pats: list[str]) -> None:
    assert regex_to_lua(rx) == pats


@pytest.mark.parametrize("rx, why", [
    ("(ab)+", "repetition of a group"), (r"\bword", "escape '\\b'"),
    ("a^b", "'^' is only supported at the start"), ("a$b", "'$' is only supported at the end"),
    ("(?=x)", "lookaround"), (r"\p{L}", "escape '\\p'"), ("x{1,999}", "repeat count"),
    ("(a", "missing ')'"), ("a)", "unbalanced ')'"), ("[a", "missing ']'"), ("*a", "nothing"),
])
def test_regex_features_lua_patterns_lack_are_refused(rx: str, why: str) -> None:
    with pytest.raises(PatternError, match=re.escape(why)):
        regex_to_lua(rx)


REGEXES = ["^.+@.+$", r"^\d{3}-\d{4}$", r"^[a-c0-9_-]+$", r"^(ab|cd)e?$", r"a{2,3}b",
           r"^\s*\w+\s*$", r"[^a-c]", r"^(a|b)(c|d)$", r"x.y", r"^\d+(\.\d+)?$", r"[.]", r"-"]


@settings(max_examples=300, deadline=None, database=None)
@given(st.sampled_from(REGEXES), st.text(alphabet="abcde0129_-.@ x\ty", max_size=10))
def test_converted_patterns_agree_with_python_re(rx: str, s: str) -> None:
    assert lua_matches(rx, s) == (re.search(rx, s) is not None)
