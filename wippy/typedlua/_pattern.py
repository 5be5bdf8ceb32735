"""``@pattern("regex")`` validators: convert the regular expression to Lua patterns.

Wippy's validators take a regular expression (the Go runtime uses RE2); our run time is plain
Lua, which only has Lua patterns. Rather than ship a regex engine written in Lua into every
process, the translator converts the expression once, at translation time, into one or more Lua
patterns; the value is valid when any of them matches. Alternation (``a|b``) and optional groups
(``(x)?``) are expanded into several patterns, bounded repetition (``\\d{3}``, ``x{2,4}``) into
repeated items. What Lua patterns cannot express raises :class:`PatternError`, which the
translator reports at the annotation: wrong validation at run time would be worse than a clear
refusal at load.

Not expressible (refused): repetition of a group (``(ab)+``), ``\\b``, lookaround, back
references, Unicode classes (``\\p{L}``), ``\\W`` inside a set, anchors other than a leading
``^`` / trailing ``$``. Known difference: ``.`` also matches a newline in Lua.
"""
from __future__ import annotations

__all__ = ["PatternError", "regex_to_lua"]

MAX_ALTERNATIVES = 64   # expansions beyond this are refused (each one is a separate match)
MAX_REPEAT = 64         # x{n,m}: m above this is refused

_MAGIC = set("^$()%.[]*+-?")
_ESC_CLASS = {"d": "%d", "D": "%D", "s": "%s", "S": "%S", "w": "[%w_]", "W": "[^%w_]"}
_ESC_IN_SET = {"d": "%d", "D": "%D", "s": "%s", "S": "%S", "w": "%w_"}
_ESC_CHAR = {"t": "\t", "n": "\n", "r": "\r", "f": "\f", "v": "\v", "a": "\a"}
_POSIX = {"alpha": "%a", "digit": "%d", "alnum": "%w", "space": "%s", "upper": "%u",
          "lower": "%l", "punct": "%p", "xdigit": "%x", "cntrl": "%c", "word": "%w_"}


class PatternError(ValueError):
    """The regular expression uses something Lua patterns cannot express."""


def _lit(ch: str) -> str:
    return "%" + ch if ch in _MAGIC else ch


class _Conv:
    def __init__(self, rx: str) -> None:
        self.rx = rx
        self.i = 0

    def fail(self, what: str) -> PatternError:
        return PatternError(f"{what} (at offset {self.i} of {self.rx!r}); "
                            "run-time validation uses Lua patterns")

    # A sequence is a list of alternatives, each a list of items (strings of Lua pattern).
    def alternation(self, depth: int) -> list[list[str]]:
        alts = self.sequence(depth)
        while self.i < len(self.rx) and self.rx[self.i] == "|":
            self.i += 1
            alts = alts + self.sequence(depth)
            if len(alts) > MAX_ALTERNATIVES:
                raise self.fail("too many alternatives")
        return alts

    def sequence(self, depth: int) -> list[list[str]]:
        results: list[list[str]] = [[]]
        rx = self.rx
        while self.i < len(rx) and rx[self.i] not in "|)":
            start = self.i
            ch = rx[self.i]
            if ch == "(":
                self.i += 1
                if rx.startswith("?:", self.i):
                    self.i += 2
                elif rx.startswith("?", self.i):
                    raise self.fail("group flags and lookaround are not supported")
                inner = self.alternation(depth + 1)
                if self.i >= len(rx) or rx[self.i] != ")":
                    raise self.fail("missing ')'")
                self.i += 1
                if self.i < len(rx) and rx[self.i] in "*+{":
                    raise self.fail("repetition of a group is not supported")
                if self.i < len(rx) and rx[self.i] == "?":
                    self.i += 1
                    inner = inner + [[]]
                results = [r + alt for r in results for alt in inner]
                if len(results) > MAX_ALTERNATIVES:
                    raise self.fail("too many alternatives")
                continue
            if ch == "^":
                if start != 0 or depth:
                    raise self.fail("'^' is only supported at the start")
                self.i += 1
                results = [r + ["^"] for r in results]
                continue
            if ch == "$":
                if self.i != len(rx) - 1 or depth:
                    raise self.fail("'$' is only supported at the end")
                self.i += 1
                results = [r + ["$"] for r in results]
                continue
            atom = self.atom()
            item = self.quantified(atom)
            results = [r + item for r in results]
        return results

    def atom(self) -> str:
        rx = self.rx
        ch = rx[self.i]
        if ch == ".":
            self.i += 1
            return "."
        if ch == "[":
            return self.char_set()
        if ch == "\\":
            if self.i + 1 >= len(rx):
                raise self.fail("trailing backslash")
            e = rx[self.i + 1]
            self.i += 2
            if e in _ESC_CLASS:
                return _ESC_CLASS[e]
            if e in _ESC_CHAR:
                return _ESC_CHAR[e]
            if e.isalnum():
                raise self.fail(f"escape '\\{e}' is not supported")
            return _lit(e)
        if ch in "*+?{":
            raise self.fail(f"nothing to repeat before '{ch}'")
        self.i += 1
        return _lit(ch)

    def char_set(self) -> str:
        rx = self.rx
        self.i += 1
        out = ["["]
        if self.i < len(rx) and rx[self.i] == "^":
            out.append("^")
            self.i += 1
        first = True
        while True:
            if self.i >= len(rx):
                raise self.fail("missing ']'")
            ch = rx[self.i]
            if ch == "]" and not first:
                self.i += 1
                break
            first = False
            if rx.startswith("[:", self.i):
                end = rx.find(":]", self.i + 2)
                name = rx[self.i + 2:end] if end > 0 else ""
                if name not in _POSIX:
                    raise self.fail(f"character class '[:{name}:]' is not supported")
                out.append(_POSIX[name])
                self.i = end + 2
                continue
            if ch == "\\":
                e = rx[self.i + 1] if self.i + 1 < len(rx) else ""
                self.i += 2
                if e in _ESC_IN_SET:
                    out.append(_ESC_IN_SET[e])
                elif e in _ESC_CHAR:
                    out.append(_ESC_CHAR[e])
                elif e and not e.isalnum():
                    out.append("%" + e)
                else:
                    raise self.fail(f"escape '\\{e}' in a set is not supported")
                continue
            self.i += 1
            if ch == "-" and (out[-1] in ("[", "^") or (self.i < len(rx) and rx[self.i] == "]")):
                out.append("%-")       # a literal '-' at either end of the set
            elif ch in "%]^[":
                out.append("%" + ch)
            else:
                out.append(ch)
        out.append("]")
        return "".join(out)

    def quantified(self, atom: str) -> list[str]:
        rx = self.rx
        if self.i >= len(rx):
            return [atom]
        q = rx[self.i]
        if q in "*+?":
            self.i += 1
            lazy = self.i < len(rx) and rx[self.i] == "?"
            if lazy:
                self.i += 1
            if q == "*":
                return [atom + ("-" if lazy else "*")]
            if q == "+":
                return [atom, atom + "-"] if lazy else [atom + "+"]
            return [atom + "?"]
        if q == "{":
            end = rx.find("}", self.i)
            body = rx[self.i + 1:end] if end > 0 else ""
            lo_s, comma, hi_s = body.partition(",")
            if not lo_s.isdigit() or (hi_s and not hi_s.isdigit()):
                return [atom]          # a literal '{' in RE2 when not a valid repeat
            self.i = end + 1
            if self.i < len(rx) and rx[self.i] == "?":
                self.i += 1
            lo = int(lo_s)
            hi = int(hi_s) if hi_s else (lo if not comma else None)
            if (hi is not None and (hi < lo or hi > MAX_REPEAT)) or lo > MAX_REPEAT:
                raise self.fail("repeat count too large")
            items = [atom] * lo
            if hi is None:
                items.append(atom + "*")
            else:
                items.extend([atom + "?"] * (hi - lo))
            return items
        return [atom]


def regex_to_lua(rx: str) -> list[str]:
    """Lua patterns equivalent to the regular expression ``rx`` (match if any matches).

    Raises :class:`PatternError` for what Lua patterns cannot express.
    """
    conv = _Conv(rx)
    alts = conv.alternation(0)
    if conv.i != len(rx):
        raise conv.fail("unbalanced ')'")
    out: list[str] = []
    for alt in alts:
        # '^' or '$' coming from inside an alternative that is not first/last is refused above.
        pat = "".join(alt)
        if pat not in out:
            out.append(pat)
    return out
