"""The typed-Lua corpus: every annotation form of Wippy's types page, translated and run."""
from __future__ import annotations

from pathlib import Path

import lupa.lua54 as lua54
import pytest
from test_typedlua_support import DATA, corpus_header, load_chunk, new_state, to_py

from wippy.typedlua import TypedLuaError, translate

TYPED = sorted((DATA / "typed").glob("*.lua"))
ERRORS = sorted((DATA / "errors").glob("*.lua"))


@pytest.mark.parametrize("path", TYPED, ids=[p.stem for p in TYPED])
@pytest.mark.parametrize("precompiled", [False, True], ids=["text", "bytecode"])
def test_typed_snippet_runs_with_expected_result(path: Path, precompiled: bool) -> None:
    source = path.read_text()
    kind, expected = corpus_header(path)
    code = translate(source, path.name)
    assert code.count("\n") == source.count("\n"), "translation must keep every line"
    lua = new_state(precompiled=precompiled)
    fn = load_chunk(lua, code, path.name)
    if kind == "expect":
        assert to_py(fn()) == expected
    else:
        assert kind == "expect-error"
        with pytest.raises(lua54.LuaError) as info:
            fn()
        assert expected in str(info.value)


@pytest.mark.parametrize("path", ERRORS, ids=[p.stem for p in ERRORS])
def test_syntax_error_reports_file_line_and_column(path: Path) -> None:
    kind, expected = corpus_header(path)
    assert kind == "expect-syntax"
    with pytest.raises(TypedLuaError) as info:
        translate(path.read_text(), path.name)
    assert str(info.value) == f"{path.name}:{expected}"


def test_typed_snippets_cover_every_form_of_the_types_page() -> None:
    """A guard against the corpus losing a form: each must appear in some snippet."""
    text = "\n".join(p.read_text() for p in TYPED)
    forms = [": (number, number)", "): never", "...: number", "local y: number?", " | ",
             " & ", '"pending"', "timeout?: number", "{number}", "{[string]: number}",
             "(number) -> number", "type Result<T, E>", "<T>(", "<T: HasName>", " :: ",
             " as User", "(user!)", "@min(0)", "@max_len(10)", '@pattern("', "User(",
             "User:is(", "typeof(", ":kind()", ":name()", ":fields()", "string(", "integer(",
             "number(", "boolean(", "interface ", "fun("]
    missing = [f for f in forms if f not in text]
    assert not missing
