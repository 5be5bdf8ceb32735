"""The token cursor under the typed-Lua parser: where it stands in the token arrays, the edits
it has recorded, and how it backs out of a guess (:meth:`Cursor.save` / :meth:`Cursor.restore`,
undoing edits, findings and split tokens together).
"""
from __future__ import annotations

from ._lexer import Tokens, line_col

__all__ = ["Cursor", "ParseError", "State"]

State = tuple[int, int, int, int, int, int]


class ParseError(Exception):
    """A syntax error at ``offset``."""

    def __init__(self, offset: int, message: str) -> None:
        super().__init__(message)
        self.offset = offset
        self.message = message


class Cursor:
    """Tokens, the position in them, and the edits and findings recorded so far."""

    def __init__(self, src: str, toks: Tokens) -> None:
        self.src = src
        self.ty = toks.ty
        self.st = toks.start
        self.en = toks.end
        self.line_starts = toks.line_starts
        self.i = 0
        self.edits: list[tuple[int, int, str | None]] = []
        self.mut: list[tuple[int, str, int]] = []   # token splits ('>>' -> '>' '>'), undoable
        self.warnings: list[tuple[int, str]] = []
        self.unresolved: list[tuple[str, int]] = []
        self.generic_uses: list[tuple[str, int, int]] = []

    def text(self, i: int | None = None) -> str:
        i = self.i if i is None else i
        return self.src[self.st[i]:self.en[i]]

    def near(self, i: int | None = None) -> str:
        i = self.i if i is None else i
        if self.ty[i] == "<eof>":
            return "near <eof>"
        t = self.text(i)
        return f"near '{t[:40]}'"

    def error(self, message: str, i: int | None = None) -> ParseError:
        i = self.i if i is None else i
        return ParseError(self.st[i], f"{message} {self.near(i)}")

    def line(self, offset: int) -> int:
        return line_col(self.line_starts, offset)[0]

    def expect(self, sym: str, what: str | None = None) -> int:
        i = self.i
        if self.ty[i] != sym:
            raise self.error(f"'{what or sym}' expected")
        self.i = i + 1
        return i

    def expect_name(self) -> str:
        if self.ty[self.i] != "name":
            raise self.error("<name> expected")
        self.i += 1
        return self.text(self.i - 1)

    def expect_match(self, sym: str, opener: str, open_i: int) -> None:
        if self.ty[self.i] == sym:
            self.i += 1
            return
        open_line = self.line(self.st[open_i])
        if open_line == self.line(self.st[self.i]):
            raise self.error(f"'{sym}' expected")
        raise self.error(f"'{sym}' expected (to close '{opener}' at line {open_line})")

    def accept(self, sym: str) -> bool:
        if self.ty[self.i] == sym:
            self.i += 1
            return True
        return False

    def expect_gt(self) -> None:
        """Consume one '>', splitting '>>' or '>=' (``Map<K, List<V>>``, ``A<B>= x``)."""
        t = self.ty[self.i]
        if t == ">":
            self.i += 1
        elif t in (">>", ">="):
            self.mut.append((self.i, t, self.st[self.i]))
            self.ty[self.i] = t[1:]
            self.st[self.i] += 1
        else:
            raise self.error("'>' expected")

    def save(self) -> State:
        return (self.i, len(self.edits), len(self.mut), len(self.warnings),
                len(self.unresolved), len(self.generic_uses))

    def restore(self, state: State) -> None:
        self.i = state[0]
        del self.edits[state[1]:]
        while len(self.mut) > state[2]:
            i, t, s = self.mut.pop()
            self.ty[i] = t
            self.st[i] = s
        del self.warnings[state[3]:]
        del self.unresolved[state[4]:]
        del self.generic_uses[state[5]:]

    def last_end(self) -> int:
        """End offset of what was consumed last (half of a split '>>' counts)."""
        end = self.en[self.i - 1]
        if self.mut and self.mut[-1][0] == self.i:
            end = max(end, self.st[self.i])
        return end

    def erase(self, start: int, mark: int) -> None:
        """Blank the source from ``start`` to the end of what was consumed; inner edits go."""
        del self.edits[mark:]
        self.edits.append((start, self.last_end(), None))

    def replace(self, start: int, code: str) -> None:
        """Replace the source from ``start`` to the end of what was consumed by ``code``,
        padded with the newlines the span held (every line stays on its line)."""
        end = self.last_end()
        pad = self.src.count("\n", start, end) - code.count("\n")
        self.edits.append((start, end, code + "\n" * max(pad, 0)))
