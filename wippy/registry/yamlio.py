"""YAML, the one module that imports ``yaml``: registry files read with positions, and plain
YAML for code that runs (Lua's yaml module, payloads).

Design decisions:
- Positions are kept out of the data: the loader builds ``dict``/``list`` subclasses with a
  ``_pos`` side table; :func:`field_positions` flattens them into dotted paths (such as
  ``"lifecycle.restart.max_delay"`` and ``"children[2]"``) and :func:`locate` finds a path's
  position by its longest known prefix, so a missing nested field points at its parent.
- Duplicate keys are errors (PyYAML keeps the last one silently). Keys brought in by ``<<``
  merges are not duplicates: an explicit key overrides them, as YAML intends.
- YAML timestamps stay strings (``created: 2024-05-01``); registry data is plain data.
- A file YAML cannot read is located to the first byte that is not UTF-8 or the character YAML
  refuses; one nested too deeply, to where it first goes past ``MAX_DEPTH``.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import yaml

from ..errors import ConfigError, ConfigIssue
from .entry import MAX_DEPTH, TooLarge

__all__ = ["PosDict", "PosList", "parse_yaml", "read_bytes", "load_yaml", "field_positions",
           "locate", "issue_at", "mark_at", "yaml_parse", "yaml_dump"]

_MERGE_TAG = "tag:yaml.org,2002:merge"


class PosDict(dict):  # type: ignore[type-arg]
    """A mapping from YAML; ``_pos[key]`` is the key's 1-based ``(line, col)``."""

    __slots__ = ("_pos", "_start")
    _pos: dict[Any, tuple[int, int]]
    _start: tuple[int, int]


class PosList(list):  # type: ignore[type-arg]
    """A sequence from YAML; ``_pos[i]`` is item ``i``'s 1-based ``(line, col)``."""

    __slots__ = ("_pos", "_start")
    _pos: list[tuple[int, int]]
    _start: tuple[int, int]


class _DuplicateKey(yaml.constructor.ConstructorError):
    pass


def mark_at(mark: Any) -> tuple[int, int]:
    """A YAML mark as a 1-based ``(line, col)``."""
    return (mark.line + 1, mark.column + 1)


class _Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """Safe loader (libyaml when present) that records positions and rejects duplicate keys."""

    def flatten_mapping(self, node: Any) -> None:
        # Count the keys written in this mapping before merges are spliced in front of them.
        if not hasattr(node, "_explicit"):
            setattr(node, "_explicit", sum(1 for k, _ in node.value if k.tag != _MERGE_TAG))
        super().flatten_mapping(node)

    def construct_mapping(self, node: Any, deep: bool = False) -> PosDict:
        if not isinstance(node, yaml.MappingNode):
            raise yaml.constructor.ConstructorError(
                None, None, f"expected a mapping, found {node.id}", node.start_mark)
        self.flatten_mapping(node)
        first_explicit = len(node.value) - getattr(node, "_explicit")
        out, pos = PosDict(), {}
        seen: dict[Any, int] = {}  # explicit key -> line of its first definition
        for i, (key_node, value_node) in enumerate(node.value):
            key = self.construct_object(key_node, deep=True)
            try:
                hash(key)
            except TypeError:
                raise yaml.constructor.ConstructorError(
                    "while constructing a mapping", node.start_mark, "found unhashable key",
                    key_node.start_mark) from None
            if i >= first_explicit:
                if key in seen:
                    raise _DuplicateKey(problem=f"duplicate key {key!r} (first defined at line "
                                        f"{seen[key]})", problem_mark=key_node.start_mark)
                seen[key] = key_node.start_mark.line + 1
            out[key] = self.construct_object(value_node, deep=True)
            pos[key] = mark_at(key_node.start_mark)
        out._pos, out._start = pos, mark_at(node.start_mark)
        return out

    def _construct_seq(self, node: Any) -> PosList:
        out = PosList(self.construct_object(child, deep=True) for child in node.value)
        out._pos, out._start = [mark_at(c.start_mark) for c in node.value], mark_at(node.start_mark)
        return out


_Loader.add_constructor("tag:yaml.org,2002:map", lambda ld, n: ld.construct_mapping(n))
_Loader.add_constructor("tag:yaml.org,2002:seq", lambda ld, n: ld._construct_seq(n))
_Loader.add_constructor("tag:yaml.org,2002:timestamp", lambda ld, n: ld.construct_scalar(n))


def parse_yaml(data: bytes | str, path: str) -> tuple[Any, ConfigIssue | None]:
    """Parse one YAML document: ``(value, None)`` or ``(None, issue)``."""
    try:
        loader = _Loader(data)
        try:
            return loader.get_single_data(), None
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        message = exc.problem or exc.context or "invalid YAML"
        if exc.problem and exc.context and not isinstance(exc, _DuplicateKey):
            message = f"{message} ({exc.context})"
        line, col = mark_at(mark) if mark else (1, 1)
        return None, ConfigIssue(path, line, col, message)
    except yaml.reader.ReaderError as exc:
        line, col, message = _unreadable(data, exc)
        return None, ConfigIssue(path, line, col, message)
    except yaml.YAMLError as exc:
        return None, ConfigIssue(path, 1, 1, f"invalid YAML: {exc}")
    except RecursionError:
        line, col = _too_deep(data)
        return None, ConfigIssue(path, line, col, f"invalid YAML: nested deeper than "
                                                  f"{MAX_DEPTH} levels")


_LIBYAML = _Loader.__mro__[1] is not yaml.SafeLoader   # libyaml counts bytes, PyYAML characters


def _unreadable(data: bytes | str, exc: Any) -> tuple[int, int, str]:
    """Where a character the YAML reader refused is, and what is wrong with it: the first
    byte that is not UTF-8, or a character YAML does not allow (a control character)."""
    raw = data if isinstance(data, bytes) else data.encode("utf-8")
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as bad:
        return (*_line_col(raw, bad.start),
                f"byte 0x{raw[bad.start]:02x} is not valid UTF-8 (YAML files must be UTF-8)")
    offset = exc.position
    if not _LIBYAML:                # a character index: as bytes, for _line_col
        offset = len(raw.decode("utf-8")[:offset].encode("utf-8"))
    return (*_line_col(raw, offset),
            f"character #x{exc.character:04x} is not allowed in YAML ({exc.reason})"
            if isinstance(exc.character, int) else f"invalid YAML: {exc.reason}")


def _line_col(raw: bytes, offset: int) -> tuple[int, int]:
    """1-based line and column (in characters) of byte ``offset`` of ``raw``."""
    start = raw.rfind(b"\n", 0, offset) + 1
    return raw.count(b"\n", 0, offset) + 1, len(raw[start:offset].decode("utf-8", "replace")) + 1


def _too_deep(data: bytes | str) -> tuple[int, int]:
    """Where a document first nests deeper than MAX_DEPTH levels (scanning tokens, which
    does not recurse), or 1:1 when the scan cannot tell."""
    depth = 0
    try:
        for token in yaml.scan(data, Loader=yaml.SafeLoader):
            if isinstance(token, (yaml.FlowSequenceStartToken, yaml.FlowMappingStartToken,
                                  yaml.BlockSequenceStartToken, yaml.BlockMappingStartToken)):
                depth += 1
                if depth > MAX_DEPTH:
                    return mark_at(token.start_mark)
            elif isinstance(token, (yaml.FlowSequenceEndToken, yaml.FlowMappingEndToken,
                                    yaml.BlockEndToken)):
                depth -= 1
    except yaml.YAMLError:
        pass
    return 1, 1


def issue_at(path: str, at: tuple[int, int], message: str, *, entry: str | None = None,
             field: str | None = None) -> ConfigIssue:
    """A problem at a YAML position ``(line, col)``."""
    return ConfigIssue(path, at[0], at[1], message, entry=entry, field=field)


def read_bytes(path: str) -> tuple[bytes | None, ConfigIssue | None]:
    """A file's bytes: ``(data, None)`` or ``(None, issue)`` when it cannot be read."""
    try:
        with open(path, "rb") as f:
            return f.read(), None
    except OSError as exc:
        return None, ConfigIssue(path, 0, 0, f"cannot read file: {exc.strerror or exc}")


def load_yaml(path: str) -> Any:
    """Parse the YAML file at ``path`` with position tracking and duplicate-key checks.

    Mappings come back as ``dict`` subclasses and sequences as ``list`` subclasses whose
    ``_pos`` attribute holds 1-based ``(line, col)`` positions. Raises ``ConfigError`` with a
    ``path:line:col: message`` issue for unreadable or malformed files.
    """
    data, issue = read_bytes(path)
    if issue is None:
        value, issue = parse_yaml(data or b"", path)
        if issue is None:
            return value
    raise ConfigError(issue)


def field_positions(value: Any, prefix: str, out: dict[str, tuple[int, int]],
                    budget: list[int]) -> dict[str, tuple[int, int]]:
    """Flatten the ``_pos`` tables under ``value`` into ``{"a.b[2].c": (line, col)}``."""
    budget[0] -= 1
    if budget[0] < 0:
        raise TooLarge
    if isinstance(value, dict):
        pos = getattr(value, "_pos", {})
        for key, sub in value.items():
            path = f"{prefix}.{key}" if prefix else str(key)
            if key in pos:
                out[path] = pos[key]
            field_positions(sub, path, out, budget)
    elif isinstance(value, list):
        pos = getattr(value, "_pos", [])
        for i, sub in enumerate(value):
            path = f"{prefix}[{i}]"
            if i < len(pos):
                out[path] = pos[i]
            field_positions(sub, path, out, budget)
    return out


def locate(field_pos: Mapping[str, tuple[int, int]], path: str,
           default: tuple[int, int]) -> tuple[int, int]:
    """Position of ``path``, or of its longest prefix that has one, or ``default``."""
    while path:
        if path in field_pos:
            return field_pos[path]
        path = path[:max(path.rfind("."), path.rfind("["), 0)]
    return default


# YAML for code that runs (Lua's yaml module and payloads)
class _PlainLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """The safe loader, with timestamps kept as strings (plain data only)."""


_PlainLoader.add_constructor("tag:yaml.org,2002:timestamp", lambda ld, n: ld.construct_scalar(n))


def yaml_parse(text: str | bytes) -> Any:
    """YAML text as plain data; raises ValueError naming the problem."""
    try:
        return yaml.load(text, Loader=_PlainLoader)  # noqa: S506 - a safe loader
    except yaml.YAMLError as exc:
        raise ValueError(str(exc)) from None


def yaml_dump(data: Any, indent: int = 2, sort_keys: bool = True) -> str:
    """Plain data as YAML text; raises ValueError for anything YAML's safe dumper refuses."""
    try:
        return yaml.safe_dump(data, indent=indent, sort_keys=sort_keys, allow_unicode=True,
                              default_flow_style=False)
    except yaml.YAMLError as exc:
        raise ValueError(str(exc)) from None
