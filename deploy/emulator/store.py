"""The emulator's ML Metadata store, and the Vertex ML Metadata ListArtifacts filter syntax.

Vertex AI Pipelines records every artifact in Vertex ML Metadata, and answers a resolver task's
`outputArtifactQueries` from it. This store keeps the same facts in one JSON file under
`--gcs-dir` (`.vertex-emulator/metadata.json`), so a second run sees the first run's artifacts:
artifacts (resource name, schema title and schema, URI, metadata, state, create/update time,
the contexts they belong to), executions (task, state, cache key, input and output artifacts),
and contexts (the pipeline, each run).

The filter syntax is Vertex's (aiplatform_v1 ListArtifactsRequest.filter, based on AIP-160):
comparisons on `name`, `display_name`, `uri`, `state`, `schema_title`, `create_time`,
`update_time` (RFC-3339) and `metadata.<key>.<number_value|string_value|bool_value>` (a
key may be double-quoted), `in_context("<context name>")`, combined with AND and OR (AIP-160:
OR binds tighter than AND), nested at most 5 deep. Anything else is refused by name rather than
guessed. A query without in_context is scoped to the pipeline's context, and returns at most
`limit` artifacts (default 1: kfp pipeline_spec.proto ResolverSpec.ArtifactQuerySpec), newest
first: that "latest" order is this emulator's reading; Vertex does not document it.
"""

import contextlib
import datetime
import fcntl
import json
import os
import re
import tempfile
import threading
from typing import Any, Callable, Dict, Iterator, List, Optional

ARTIFACT_STATES = ("STATE_UNSPECIFIED", "PENDING", "LIVE")
ATTRIBUTES = ("name", "display_name", "uri", "state", "schema_title", "create_time",
              "update_time")
METADATA_KINDS = ("number_value", "string_value", "bool_value")
MAX_DEPTH = 5


class FilterError(ValueError):
    """A filter this store cannot evaluate as Vertex would; the message names the part."""


def now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="microseconds")


# ---- the filter language ----

_TOKEN = re.compile(r"""
    \s*(?:
      (?P<string>"(?:[^"\\]|\\.)*")
    | (?P<op><=|>=|!=|=|<|>|:)
    | (?P<paren>[()])
    | (?P<comma>,)
    | (?P<word>[A-Za-z_][A-Za-z0-9_\-]*(?:\.(?:[A-Za-z_][A-Za-z0-9_\-]*|"(?:[^"\\]|\\.)*"))*)
    | (?P<number>-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)
    )""", re.VERBOSE)


def _tokens(text: str) -> List[tuple]:
    tokens, position = [], 0
    text = text.strip()
    while position < len(text):
        match = _TOKEN.match(text, position)
        if not match or match.end() == position:
            raise FilterError(f"cannot read the filter at {text[position:]!r}")
        kind = match.lastgroup
        tokens.append((kind, match.group(kind)))
        position = match.end()
        while position < len(text) and text[position].isspace():
            position += 1
    return tokens


class _Parser:
    def __init__(self, text: str):
        self.text = text
        self.tokens = _tokens(text)
        self.position = 0

    def peek(self):
        return self.tokens[self.position] if self.position < len(self.tokens) else (None, None)

    def take(self):
        token = self.peek()
        self.position += 1
        return token

    def parse(self) -> Callable[[Dict[str, Any], "MetadataStore"], bool]:
        node = self.conjunction(1)
        if self.peek()[0] is not None:
            raise FilterError(f"unexpected {self.peek()[1]!r} in filter {self.text!r}")
        return node

    def conjunction(self, depth):  # AND of disjunctions: AIP-160 gives OR the higher precedence
        return self.joined("AND", self.disjunction, all, depth)

    def disjunction(self, depth):
        return self.joined("OR", self.term, any, depth)

    def joined(self, word, part, combine, depth):
        """`part` (word `part`)*: one predicate, combined by `combine` (all, any)."""
        parts = [part(depth)]
        while self.peek() == ("word", word):
            self.take()
            parts.append(part(depth))
        return parts[0] if len(parts) == 1 else (lambda a, s: combine(p(a, s) for p in parts))

    def term(self, depth):
        kind, value = self.peek()
        if kind == "paren" and value == "(":
            if depth >= MAX_DEPTH:
                raise FilterError(f"filter {self.text!r} nests deeper than {MAX_DEPTH}, the "
                                  "most Vertex ML Metadata allows")
            self.take()
            node = self.conjunction(depth + 1)
            if self.take() != ("paren", ")"):
                raise FilterError(f"unbalanced parentheses in filter {self.text!r}")
            return node
        if kind == "word" and value in ("NOT",):
            raise FilterError("NOT is not among the operators Vertex ML Metadata filters "
                              "support (AND, OR)")
        if kind == "word" and self.tokens[self.position + 1:self.position + 2] == [("paren", "(")]:
            return self.function()
        if kind != "word":
            raise FilterError(f"expected a field at {value!r} in filter {self.text!r}")
        self.take()
        op_kind, op = self.take()
        if op_kind != "op":
            raise FilterError(f"expected a comparison after {value!r} in filter {self.text!r}")
        if op == ":":
            raise FilterError(f"the has-operator ':' ({value}:...) is not among the filters "
                              "Vertex ML Metadata supports")
        literal_kind, literal = self.take()
        if literal_kind not in ("string", "number", "word"):
            raise FilterError(f"expected a value after {value} {op} in filter {self.text!r}")
        return _comparison(value, op, literal_kind, literal)

    def function(self):
        _, name = self.take()
        self.take()  # (
        kind, argument = self.take()
        if self.take() != ("paren", ")"):
            raise FilterError(f"{name}(...) takes one argument in filter {self.text!r}")
        if name != "in_context" or kind != "string":
            raise FilterError(f"function {name}({argument}) is not supported: Vertex ML Metadata "
                              'filters know in_context("<context resource name>")')
        context = _unquote(argument)
        return lambda artifact, store: context in artifact.get("contexts", [])


def _unquote(literal: str) -> str:
    return json.loads(literal)


def _comparison(field: str, op: str, literal_kind: str, literal: str):
    if field.startswith("metadata."):
        match = re.match(r'^metadata\.(?:"((?:[^"\\]|\\.)*)"|([A-Za-z_][A-Za-z0-9_\-]*))\.'
                         r'([a-z_]+)$', field)
        if not match or match.group(3) not in METADATA_KINDS:
            raise FilterError(f"metadata field {field!r}: Vertex filters metadata as "
                              f"metadata.<key>.<{'|'.join(METADATA_KINDS)}>")
        key = match.group(1) if match.group(1) is not None else match.group(2)
        value_kind = match.group(3)
        expected = {"number_value": float, "string_value": str, "bool_value": bool}[value_kind]
        wanted = _literal(literal_kind, literal, expected, field)

        def compare_metadata(artifact, _store):
            actual = artifact.get("metadata", {}).get(key)
            if expected is float and isinstance(actual, bool):
                return False
            if expected is float and isinstance(actual, (int, float)):
                return _compare(float(actual), op, wanted)
            if expected is not float and isinstance(actual, expected):
                return _compare(actual, op, wanted)
            return False  # absent, or another kind: no match
        return compare_metadata
    if field not in ATTRIBUTES:
        raise FilterError(f"field {field!r} cannot be filtered on: Vertex ML Metadata filters "
                          f"{', '.join(ATTRIBUTES)} and metadata.<key>.<kind>")
    if field == "state":
        if literal_kind != "word" or literal not in ARTIFACT_STATES:
            raise FilterError(f"state {op} {literal}: an artifact state is one of "
                              f"{', '.join(ARTIFACT_STATES)}")
        wanted: Any = literal
    elif field in ("create_time", "update_time"):
        wanted = _time(_literal(literal_kind, literal, str, field), field)
    else:
        wanted = _literal(literal_kind, literal, str, field)

    def compare_attribute(artifact, _store):
        actual = artifact.get(field)
        if field in ("create_time", "update_time"):
            actual = _time(actual, field)
        return actual is not None and _compare(actual, op, wanted)
    return compare_attribute


def _literal(kind: str, literal: str, expected: type, field: str):
    if expected is str:
        if kind != "string":
            raise FilterError(f"{field} compares with a double-quoted string, got {literal}")
        return _unquote(literal)
    if expected is bool:
        if literal not in ("true", "false"):
            raise FilterError(f"{field} compares with true or false, got {literal}")
        return literal == "true"
    if kind != "number":
        raise FilterError(f"{field} compares with a number, got {literal}")
    return float(literal)


def _time(text: str, field: str) -> datetime.datetime:
    try:
        return datetime.datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        raise FilterError(f"{field} needs an RFC-3339 time such as "
                          f'"2020-11-19T11:30:00-04:00", got {text!r}') from None


def _compare(actual, op: str, wanted) -> bool:
    if op in ("=", "!="):
        return (actual == wanted) == (op == "=")
    if isinstance(actual, bool) or isinstance(wanted, bool):
        raise FilterError(f"{op} does not order booleans")
    return {"<": actual < wanted, "<=": actual <= wanted, ">": actual > wanted,
            ">=": actual >= wanted}[op]


def compile_filter(text: str) -> Callable[[Dict[str, Any], "MetadataStore"], bool]:
    """A predicate over stored artifacts for a Vertex ListArtifacts filter (FilterError if it
    uses anything this store cannot evaluate as Vertex would)."""
    if "{{" in text:
        raise FilterError(f"filter {text!r} still holds a placeholder")
    return _Parser(text).parse() if text.strip() else (lambda artifact, store: True)


# ---- the store ----

class MetadataStore:
    """One JSON file; every change is written through (locked against a second emulator)."""

    def __init__(self, path: str, resource_prefix: str):
        self.path = path
        self.prefix = resource_prefix  # projects/N/locations/R/metadataStores/default
        self._lock = threading.RLock()
        os.makedirs(os.path.dirname(path), exist_ok=True)

    @contextlib.contextmanager
    def _open(self) -> Iterator[Dict[str, Any]]:
        with self._lock, open(self.path + ".lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            data = {"artifacts": {}, "executions": [], "contexts": {}, "next_id": 1}
            if os.path.exists(self.path):
                with open(self.path) as handle:
                    data = json.load(handle)
            yield data
            handle, temporary = tempfile.mkstemp(dir=os.path.dirname(self.path))
            with os.fdopen(handle, "w") as out:
                json.dump(data, out, indent=1, sort_keys=True)
            os.replace(temporary, self.path)

    def _new_id(self, data) -> int:
        number = data["next_id"]
        data["next_id"] = number + 1
        return number

    def context(self, display_name: str, schema_title: str, parent: Optional[str] = None) -> str:
        """The context's resource name, created when missing."""
        name = f"{self.prefix}/contexts/{display_name}"
        with self._open() as data:
            data["contexts"].setdefault(name, {"name": name, "display_name": display_name,
                                               "schema_title": schema_title, "parent": parent,
                                               "create_time": now()})
        return name

    def new_artifact(self, display_name: str, schema_title: str, schema: str, uri: str,
                     contexts: List[str]) -> Dict[str, Any]:
        """A PENDING artifact, as Vertex creates a task's outputs before the task runs."""
        with self._open() as data:
            name = f"{self.prefix}/artifacts/{self._new_id(data)}"
            stamp = now()
            artifact = {"name": name, "display_name": display_name, "schema_title": schema_title,
                        "schema": schema, "uri": uri, "metadata": {}, "state": "PENDING",
                        "create_time": stamp, "update_time": stamp, "contexts": contexts}
            data["artifacts"][name] = artifact
            return dict(artifact)

    def update_artifact(self, name: str, **changes) -> Dict[str, Any]:
        with self._open() as data:
            artifact = data["artifacts"][name]
            artifact.update(changes, update_time=now())
            return dict(artifact)

    def artifact(self, name: str) -> Optional[Dict[str, Any]]:
        with self._open() as data:
            found = data["artifacts"].get(name)
            return dict(found) if found else None

    def list_artifacts(self, filter_text: str, context: str, limit: int = 1) -> List[Dict]:
        """Artifacts matching a Vertex filter, newest first, at most `limit` (0: 1). Without
        in_context in the filter, only the given (pipeline) context's artifacts."""
        predicate = compile_filter(filter_text)
        scoped = "in_context(" not in filter_text
        with self._open() as data:
            candidates = [artifact for artifact in data["artifacts"].values()
                          if not scoped or context in artifact.get("contexts", [])]
        matches = [artifact for artifact in candidates if predicate(artifact, self)]
        matches.sort(key=lambda a: (a["create_time"], int(a["name"].rsplit("/", 1)[1])),
                     reverse=True)
        return [dict(artifact) for artifact in matches[:limit or 1]]

    def record_execution(self, **execution) -> Dict[str, Any]:
        with self._open() as data:
            execution.setdefault("name", f"{self.prefix}/executions/{self._new_id(data)}")
            execution.setdefault("create_time", now())
            execution["update_time"] = now()
            data["executions"] = [e for e in data["executions"]
                                  if e["name"] != execution["name"]] + [execution]
            return dict(execution)

    def cached_execution(self, cache_key: str) -> Optional[Dict[str, Any]]:
        """The newest COMPLETE execution with this cache key whose outputs are all LIVE."""
        with self._open() as data:
            for execution in reversed(data["executions"]):
                if execution.get("cache_key") == cache_key and \
                        execution.get("state") == "COMPLETE" and all(
                            data["artifacts"].get(name, {}).get("state") == "LIVE"
                            for names in execution.get("outputs", {}).values()
                            for name in names):
                    return dict(execution)
        return None

    def executions(self, job: Optional[str] = None) -> List[Dict[str, Any]]:
        with self._open() as data:
            return [dict(e) for e in data["executions"] if job is None or e.get("job") == job]
