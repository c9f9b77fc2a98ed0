r"""The one YAML reader of the package: safe, bounded, strict about keys and numbers.

Studies, scenario catalogues and report definitions are all read by :func:`read_yaml`.
It parses with a subclass of PyYAML's ``SafeLoader`` (plain data only, no code
execution) and adds four guards. Every rejection raises
:class:`~resilience.specs.SpecError` naming the file, the line, the key and the value.

Size
    A document larger than :data:`MAX_YAML_BYTES` (1 MiB; the largest shipped file,
    ``models/scenarios.yaml``, is 16 KB) is refused before it is parsed. The file is
    read at most one byte past the limit, so ``/dev/zero`` or a huge file costs nothing.
Aliases
    Anchors and aliases (``&name`` / ``*name``, and ``<<:`` merges) are allowed, but
    the document is measured as if every alias were written out in full: more than
    :data:`MAX_YAML_NODES` (100,000) nodes after expansion, or an alias that contains
    itself, is refused before any Python object is built. A "billion laughs" document
    (ten aliases of ten aliases ...) is caught in milliseconds. The shipped files have
    no aliases and fewer than 400 nodes each.
Duplicate keys
    A key written twice in one mapping (YAML would silently keep the last) is an error
    naming the key path, the key and both line numbers. Keys brought in by a ``<<:``
    merge may be overridden by the mapping's own keys (that is what a merge is for).
Numbers
    YAML 1.1 (PyYAML) reads ``1e-3``, ``1.0e300`` or ``5E+2`` as *text*, because its
    float pattern needs a dot and a signed exponent. This reader follows YAML 1.2
    instead: every decimal number with an exponent is a number (``1e-3`` is 0.001). A
    number too large for a float (``1e400``) is an error rather than infinity; the
    explicit ``.inf`` and ``.nan`` keep their YAML meaning (and the spec checks reject
    them where a finite number is needed). Quote a value to keep it as text.

Nesting deeper than Python's recursion allows (``[[[[...]]]]``) is also refused with
the line it was found at.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

import yaml  # type: ignore[import-untyped]

from resilience.specs import SpecError

__all__ = ["MAX_YAML_BYTES", "MAX_YAML_NODES", "StrictLoader", "read_yaml"]

#: Largest YAML document read, in bytes.
MAX_YAML_BYTES = 1 << 20
#: Most nodes (scalars, sequences, mappings) a document may have with its aliases expanded.
MAX_YAML_NODES = 100_000

_MERGE_TAG = "tag:yaml.org,2002:merge"
_FLOAT_TAG = "tag:yaml.org,2002:float"
#: YAML 1.1's float forms plus YAML 1.2's exponents without a dot or an exponent sign.
_FLOAT = re.compile(
    r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
    |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
    |\.[0-9][0-9_]*(?:[eE][-+]?[0-9]+)?
    |[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*
    |[-+]?\.(?:inf|Inf|INF)
    |\.(?:nan|NaN|NAN))$""",
    re.X,
)


class StrictLoader(yaml.SafeLoader):
    """``SafeLoader`` reading YAML 1.2 exponents (``1e-3``) as floats."""

    yaml_implicit_resolvers = {
        first: [(tag, regexp) for tag, regexp in resolvers if tag != _FLOAT_TAG]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }


StrictLoader.add_implicit_resolver(_FLOAT_TAG, _FLOAT, list("-+0123456789."))


class _NodeError(Exception):
    """A rejected node, turned into a :class:`SpecError` by :func:`read_yaml`."""

    def __init__(self, node: yaml.Node, reason: str, allowed: str, key: str = "") -> None:
        super().__init__(reason)
        self.node, self.reason, self.allowed, self.key = node, reason, allowed, key


def _line(node: yaml.Node) -> int:
    return int(node.start_mark.line) + 1


def _shown(node: yaml.Node) -> object:
    return node.value if isinstance(node, yaml.ScalarNode) else f"<{node.id} at line {_line(node)}>"


class _Walk:
    """Counts a node graph's size with aliases expanded and finds duplicate keys.

    Each node's expanded size is computed once (aliases share node objects), so the
    walk costs the size of the text, not of the expansion.
    """

    def __init__(self, budget: int) -> None:
        self.budget = budget
        self.sizes: dict[int, int] = {}
        self.open: set[int] = set()
        self.checked: set[int] = set()

    def size(self, node: yaml.Node, key: str) -> int:
        ident = id(node)
        if ident in self.sizes:
            return self.sizes[ident]
        if ident in self.open:
            raise _NodeError(
                node, "an alias refers to a node that contains it", "aliases without cycles", key
            )
        self.open.add(ident)
        total = 1
        if isinstance(node, yaml.ScalarNode) and node.tag == _FLOAT_TAG:
            self._finite(node, key)
        elif isinstance(node, yaml.SequenceNode):
            for i, child in enumerate(node.value):
                total += self.size(child, f"{key}[{i}]")
                self._check(node, total, key)
        elif isinstance(node, yaml.MappingNode):
            self._duplicates(node, key)
            for k, v in node.value:
                name = k.value if isinstance(k, yaml.ScalarNode) else "?"
                total += self.size(k, key) + self.size(v, f"{key}.{name}" if key else str(name))
                self._check(node, total, key)
        self.open.discard(ident)
        self.sizes[ident] = total
        return total

    def _check(self, node: yaml.Node, total: int, key: str) -> None:
        if total > self.budget:
            raise _NodeError(
                node,
                f"the document expands to more than {self.budget:,} nodes "
                "(aliases counted in full; e.g. a 'billion laughs' document)",
                f"at most {self.budget:,} nodes after expanding aliases",
                key,
            )

    @staticmethod
    def _finite(node: yaml.ScalarNode, key: str) -> None:
        """A float literal that overflows to infinity (``1e400``) is an error."""
        literal = str(node.value).replace("_", "").lower()
        if ":" in literal or "inf" in literal or "nan" in literal:
            return
        if math.isinf(float(literal)):
            raise _NodeError(node, "number too large for a 64-bit float", "|x| < 1.8e308", key)

    def _duplicates(self, node: yaml.MappingNode, key: str) -> None:
        if id(node) in self.checked:
            return
        self.checked.add(id(node))
        first: dict[tuple[str, str], yaml.Node] = {}
        for k, _ in node.value:
            if not isinstance(k, yaml.ScalarNode) or k.tag == _MERGE_TAG:
                continue
            ident = (k.tag, k.value)
            if ident in first:
                where = f"{key}.{k.value}" if key else str(k.value)
                raise _NodeError(
                    k,
                    f"duplicate key {k.value!r}: first at line {_line(first[ident])}, "
                    f"again at line {_line(k)} (YAML would keep only the last)",
                    "each key once per mapping: delete or rename one of them",
                    where,
                )
            first[ident] = k


def _read_bounded(path: Path, limit: int) -> str:
    try:
        with path.open("rb") as handle:
            data = handle.read(limit + 1)
    except OSError as exc:
        raise SpecError.single(path, "(file)", str(path), f"cannot read: {exc.strerror}") from exc
    if len(data) > limit:
        raise SpecError.single(
            path,
            "(file)",
            f"more than {limit:,} bytes",
            "document too large",
            f"a YAML document of at most {limit:,} bytes",
        )
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise SpecError.single(
            path,
            f"line {line}",
            data[exc.start : exc.start + 8],
            "not UTF-8 text",
            "a UTF-8 encoded YAML file",
        ) from exc


def _node_error(path: Path, text: str, exc: _NodeError) -> SpecError:
    line = _line(exc.node)
    shown = _shown(exc.node)
    if shown is None or shown == "":
        lines = text.splitlines()
        shown = lines[line - 1].strip() if line - 1 < len(lines) else ""
    where = f"line {line}" + (f": {exc.key}" if exc.key else "")
    return SpecError.single(path, where, shown, exc.reason, exc.allowed)


def _yaml_error(path: Path, text: str, exc: yaml.YAMLError) -> SpecError:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    if mark is None:
        return SpecError.single(path, "(file)", None, f"malformed YAML: {problem}")
    lines = text.splitlines()
    shown = lines[mark.line].strip() if mark.line < len(lines) else ""
    return SpecError.single(
        path,
        f"line {mark.line + 1}, column {mark.column + 1}",
        shown,
        f"malformed YAML: {problem}",
        "valid YAML: check the indentation, colons and quotes on or above that line",
    )


def read_yaml(
    path: Path, *, max_bytes: int = MAX_YAML_BYTES, max_nodes: int = MAX_YAML_NODES
) -> Any:
    """Parse one YAML document safely, within bounds (module docstring).

    Parameters
    ----------
    path
        The file.
    max_bytes, max_nodes
        Size limits: bytes of text, and nodes with every alias expanded.

    Returns
    -------
    Any
        Plain Python data (dicts, lists, texts, numbers, booleans, ``None``, dates).

    Raises
    ------
    SpecError
        Naming file, line, key and value: unreadable or non-UTF-8 file, document too
        large, malformed YAML, too many nodes after alias expansion or a recursive alias,
        a duplicate key (both lines), nesting too deep, a number that overflows a float.
    """
    path = Path(path)
    text = _read_bounded(path, max_bytes)
    loader = StrictLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _Walk(max_nodes).size(node, "")
        return loader.construct_document(node)
    except _NodeError as exc:
        raise _node_error(path, text, exc) from None
    except yaml.YAMLError as exc:
        raise _yaml_error(path, text, exc) from exc
    except RecursionError as exc:
        raise SpecError.single(
            path,
            f"line {loader.get_mark().line + 1}",
            None,
            "nesting too deep to read",
            "mappings and lists nested at most a few hundred levels",
        ) from exc
    finally:
        loader.dispose()
