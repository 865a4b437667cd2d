"""Hypothesis strategies that build any protobuf request from its descriptor, with hostile values.

Ordinary hostile requests: every field may be missing; when present it takes a boundary value
(0, -1, 2^31-1, 2^63-1, -2^63, NaN, ...), a short string full of trouble (control characters,
right-to-left marks, emoji, SQL and LIKE metacharacters, path tricks, malformed dates), random
or CSV-shaped bytes, a Timestamp anywhere in its valid range, or one of the real ids of the
program under test (`Vocabulary`), so calls also get past "not found" into the code that does
the work. Nested messages stop at a bounded depth; repeated fields and maps hold a few
elements; a oneof sets at most one member.

Four kinds of value each get a test of their own (`Edge`), with the value forced into every
field it fits: mixed into every request, one systemic bug would hide all the others.
- `nul`: a NUL character in every string and bytes value (PostgreSQL text cannot hold one);
- `long_strings`: strings of 100 to 200,000 characters (column limits, index row limits);
- `bad_timestamps`: Timestamps outside 0001-01-01..9999-12-31 or with nanos outside 0..10^9-1;
- `unknown_enums`: enum numbers the proto does not define (proto3 enums are open).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from google.protobuf import message_factory
from google.protobuf.descriptor import Descriptor, FieldDescriptor, OneofDescriptor
from google.protobuf.message import Message
from hypothesis import strategies as st

INT32 = (-(2**31), 2**31 - 1)
INT64 = (-(2**63), 2**63 - 1)
UINT32 = (0, 2**32 - 1)
UINT64 = (0, 2**64 - 1)
# Plausible amounts sit next to the edges: the code behind "amount must be positive" is reached
# only when the member and the key are right, and a real id is in the vocabulary.
SMALL_VALUES = (0, 1, -1, 2, 10, 100, 1000, 10**12, 10**12 + 1)

# Timestamp.seconds of 0001-01-01T00:00:00Z and 9999-12-31T23:59:59Z: the valid range.
TIMESTAMP_MIN = -62_135_596_800
TIMESTAMP_MAX = 253_402_300_799
# Around now (2020-2035), where the programs' calendar rules apply.
RECENT_SECONDS = (1_577_836_800, 2_051_222_400)

MAX_DEPTH = 3
MAX_REPEATED = 3

HOSTILE_STRINGS: tuple[str, ...] = (
    "",
    " ",
    "\t\r\n",
    "\x01\x1f\x7f",  # control characters PostgreSQL does store
    "\u202eevil\u202c",  # right-to-left override
    "e\u0301" * 10,  # combining accents
    "👨‍👩‍👧‍👦",  # one grapheme, seven code points
    "\ufeffBOM",
    "'; DROP TABLE members; --",
    '" OR 1=1 --',
    "%",
    "_",
    "%_%\\",
    "\\",
    "../../etc/passwd",
    "${jndi:ldap://x}",
    "<script>alert(1)</script>",
    "{{7*7}}",
    "%s%s%n",
    "-1",
    "0",
    "99999999999999999999999999",
    "NaN",
    "1e309",
    "2026-02-30",
    "0000-00-00",
    "9999-12-31T23:59:59Z",
    "2026-13",
    "00000000-0000-0000-0000-000000000000",
    "ＡＢＣ１２３",
    "さくらマート",
)

LONG_STRINGS: tuple[str, ...] = (
    "x" * 101,
    "x" * 256,
    "ｘ" * 1000,  # 3 bytes each in UTF-8: byte and character limits differ
    "👨‍👩‍👧‍👦" * 300,
    "x" * 4097,
    "x" * 200_000,
)

CSV_HEADERS = (
    b"external_ref,display_name,email,phone,birth_date,group_ids,identifiers\n",
    b"sku,title,type,price_points,initial_stock\n",
)


class Edge(StrEnum):
    """A kind of hostile value forced into every field it fits (see the module docstring)."""

    NUL = "nul"
    LONG_STRINGS = "long_strings"
    BAD_TIMESTAMPS = "bad_timestamps"
    UNKNOWN_ENUMS = "unknown_enums"


# Prefixes that say which record a field points at, not what kind of record it is.
_ROLE_PREFIXES = (
    "from_", "to_", "survivor_", "absorbed_", "sender_", "receiver_", "resolved_", "prize_",
    "reverses_", "original_", "void_", "parent_", "member_", "merged_into_", "viewer_",
)  # fmt: skip
_SYNONYMS = {
    "member_id": "account_id",
    "group_ids": "group_id",
    "transaction_ids": "transaction_id",
}


def kind_of(field_name: str) -> str:
    """The kind of record a string field refers to: `from_account_id` and `member_id` ->
    `account_id`, `member_external_ref` -> `external_ref`, `parent_group_id` -> `group_id`."""
    name = _SYNONYMS.get(field_name, field_name)
    for prefix in _ROLE_PREFIXES:
        if name.startswith(prefix) and len(name) > len(prefix) + 2:
            name = name[len(prefix) :]
            break
    return _SYNONYMS.get(name, name)


@dataclass(frozen=True)
class Vocabulary:
    """Real values of the programs under test that generated requests mix in: all of them
    (`strings`), by the kind of record they are (`by_kind`: "account_id" -> member ids, "sku"
    -> SKUs, ...; see `kind_of`), and field names for FieldMask paths."""

    strings: tuple[str, ...] = ()
    by_kind: tuple[tuple[str, tuple[str, ...]], ...] = ()
    field_names: tuple[str, ...] = field(default=())

    def __repr__(self) -> str:  # failure reports print every fixture
        return f"Vocabulary({len(self.strings)} strings, {len(self.by_kind)} kinds)"

    def for_field(self, field_name: str) -> tuple[str, ...]:
        kind = kind_of(field_name)
        return next((values for k, values in self.by_kind if k == kind), ())


def hostile_strings(
    vocabulary: Vocabulary, fitting: tuple[str, ...] = ()
) -> st.SearchStrategy[str]:
    """Short hostile strings, real values, and real values of the field's kind (`fitting`)."""
    choices: list[st.SearchStrategy[str]] = [
        st.sampled_from(HOSTILE_STRINGS),
        st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=40),
    ]
    if vocabulary.strings:
        known = st.sampled_from(vocabulary.strings)
        choices += [
            known,
            known,  # twice the weight: ids that exist reach further than ids that don't
            known.map(lambda s: s.upper()),
            known.map(lambda s: f" {s} "),
            known.map(lambda s: s[:-1]),
        ]
    if fitting:
        choices += [st.sampled_from(fitting)] * 3
    return st.one_of(choices)


def long_strings(vocabulary: Vocabulary) -> st.SearchStrategy[str]:
    choices = [st.sampled_from(LONG_STRINGS)]
    if vocabulary.strings:
        # A real id with a long tail: the lookup misses, but only after the value reached SQL.
        choices.append(st.sampled_from(vocabulary.strings).map(lambda s: s + "x" * 3000))
    return st.one_of(choices)


def with_nul(strings: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    """A NUL at the start, middle or end of each string."""

    def insert(parts: tuple[str, int]) -> str:
        text, where = parts
        at = (0, len(text) // 2, len(text))[where]
        return text[:at] + "\x00" + text[at:]

    return st.tuples(strings, st.integers(0, 2)).map(insert)


def hostile_bytes(vocabulary: Vocabulary, edge: Edge | None) -> st.SearchStrategy[bytes]:
    cell = hostile_strings(vocabulary)
    csv_rows = st.lists(st.lists(cell, max_size=8).map(",".join), max_size=4).map(
        lambda rows: "\n".join(rows).encode("utf-8")
    )
    ordinary = st.one_of(
        st.just(b""),
        st.binary(max_size=64).map(lambda b: b.replace(b"\x00", b"")),
        st.sampled_from([b"\xff\xfe", b"\xc3\x28", b"\xef\xbb\xbf"]),
        st.tuples(st.sampled_from(CSV_HEADERS), csv_rows).map(lambda parts: parts[0] + parts[1]),
        csv_rows,
        st.just(b'"unterminated,quote\n' * 20),
    )
    if edge is Edge.NUL:
        return ordinary.map(lambda b: b[: len(b) // 2] + b"\x00" + b[len(b) // 2 :])
    if edge is Edge.LONG_STRINGS:
        return st.sampled_from(
            [b"a," * 50_000, CSV_HEADERS[0] + b"r,n\n" * 60_000, b"x" * 1_100_000]
        )
    return ordinary


def _integers(bounds: tuple[int, int]) -> st.SearchStrategy[int]:
    low, high = bounds
    edges = [v for v in (*SMALL_VALUES, low, low + 1, high - 1, high) if low <= v <= high]
    return st.one_of(st.sampled_from(edges), st.integers(low, high))


_INTEGER_BOUNDS = {
    FieldDescriptor.TYPE_INT32: INT32,
    FieldDescriptor.TYPE_SINT32: INT32,
    FieldDescriptor.TYPE_SFIXED32: INT32,
    FieldDescriptor.TYPE_INT64: INT64,
    FieldDescriptor.TYPE_SINT64: INT64,
    FieldDescriptor.TYPE_SFIXED64: INT64,
    FieldDescriptor.TYPE_UINT32: UINT32,
    FieldDescriptor.TYPE_FIXED32: UINT32,
    FieldDescriptor.TYPE_UINT64: UINT64,
    FieldDescriptor.TYPE_FIXED64: UINT64,
}


def _scalar(
    f: FieldDescriptor, vocabulary: Vocabulary, edge: Edge | None
) -> st.SearchStrategy[Any]:
    t = f.type
    if t in _INTEGER_BOUNDS:
        return _integers(_INTEGER_BOUNDS[t])
    if t == FieldDescriptor.TYPE_BOOL:
        return st.booleans()
    if t in (FieldDescriptor.TYPE_FLOAT, FieldDescriptor.TYPE_DOUBLE):
        # NaN and the infinities included.
        return st.floats(width=32 if t == FieldDescriptor.TYPE_FLOAT else 64)
    if t == FieldDescriptor.TYPE_STRING:
        fitting = vocabulary.for_field(f.name)
        if edge is Edge.NUL:
            return with_nul(hostile_strings(vocabulary, fitting))
        if edge is Edge.LONG_STRINGS:
            return long_strings(vocabulary)
        return hostile_strings(vocabulary, fitting)
    if t == FieldDescriptor.TYPE_BYTES:
        return hostile_bytes(vocabulary, edge)
    if t == FieldDescriptor.TYPE_ENUM:
        assert f.enum_type is not None
        known = [v.number for v in f.enum_type.values]
        unknown = st.sampled_from([-1, max(known) + 1, 2**31 - 1, -(2**31)])
        return unknown if edge is Edge.UNKNOWN_ENUMS else st.sampled_from(known)
    raise TypeError(f"unsupported field type {t} of {f.full_name}")


def _timestamp(cls: type[Message], edge: Edge | None) -> st.SearchStrategy[Message]:
    if edge is Edge.BAD_TIMESTAMPS:
        bad_seconds = st.sampled_from([TIMESTAMP_MIN - 1, TIMESTAMP_MAX + 1, *INT64])
        bad_nanos = st.sampled_from([-1, 1_000_000_000, 2**31 - 1, -(2**31)])
        fine_seconds = st.integers(*RECENT_SECONDS)
        return st.one_of(
            st.builds(lambda s: cls(seconds=s), bad_seconds),
            st.builds(lambda s, n: cls(seconds=s, nanos=n), fine_seconds, bad_nanos),
        )
    seconds = st.one_of(
        st.sampled_from([0, -1, TIMESTAMP_MIN, TIMESTAMP_MAX]),
        st.integers(*RECENT_SECONDS),
        st.integers(TIMESTAMP_MIN, TIMESTAMP_MAX),
    )
    nanos = st.sampled_from([0, 1, 999_999_999])
    return st.builds(lambda s, n: cls(seconds=s, nanos=n), seconds, nanos)


def _field_mask(cls: type[Message], vocabulary: Vocabulary) -> st.SearchStrategy[Message]:
    names = st.sampled_from(vocabulary.field_names) if vocabulary.field_names else st.nothing()
    path = st.one_of(names, names, st.sampled_from(HOSTILE_STRINGS[:14]), st.just("a.b.c"))
    return st.lists(path, max_size=4).map(lambda paths: cls(paths=paths))


class MessageStrategies:
    """Builds (and caches) a strategy per message type and nesting depth."""

    def __init__(
        self, vocabulary: Vocabulary, edge: Edge | None = None, *, aimed: bool = False
    ) -> None:
        self.vocabulary = vocabulary
        self.edge = edge
        # Aimed: every string is a vocabulary value (to reach specific records).
        self.aimed = aimed
        # With an edge or aimed, every field is set, so the value lands wherever it fits.
        self.full = aimed or edge is not None
        self._cache: dict[tuple[str, int], st.SearchStrategy[Message]] = {}

    def for_message(self, descriptor: Descriptor, depth: int = 0) -> st.SearchStrategy[Message]:
        key = (descriptor.full_name, depth)
        if key not in self._cache:
            self._cache[key] = self._build(descriptor, depth)
        return self._cache[key]

    def _build(self, descriptor: Descriptor, depth: int) -> st.SearchStrategy[Message]:
        cls = message_factory.GetMessageClass(descriptor)
        if descriptor.full_name == "google.protobuf.Timestamp":
            return _timestamp(cls, self.edge)
        if descriptor.full_name == "google.protobuf.FieldMask":
            return _field_mask(cls, self.vocabulary)
        if depth >= MAX_DEPTH:
            return st.just(cls())
        plain: dict[str, st.SearchStrategy[Any]] = {}
        oneofs: list[st.SearchStrategy[tuple[str, Any] | None]] = []
        for oneof in descriptor.oneofs:
            if _is_synthetic(oneof):
                continue  # a proto3 `optional` field: present or not, like any other
            members = [st.tuples(st.just(f.name), self._value(f, depth)) for f in oneof.fields]
            oneofs.append(st.one_of(*members) if self.full else st.one_of(st.none(), *members))
        for f in descriptor.fields:
            if f.containing_oneof is not None and not _is_synthetic(f.containing_oneof):
                continue
            plain[f.name] = self._value(f, depth)
        if self.full:
            fields = st.fixed_dictionaries(plain)
        else:
            fields = st.fixed_dictionaries({}, optional=plain)
        chosen = st.tuples(*oneofs) if oneofs else st.just(())
        return st.builds(_assemble(cls, descriptor), fields, chosen)

    def _value(self, f: FieldDescriptor, depth: int) -> st.SearchStrategy[Any]:
        if _is_map(f):
            key_field = message_type(f).fields_by_name["key"]
            value_field = message_type(f).fields_by_name["value"]
            return st.dictionaries(
                _scalar(key_field, self.vocabulary, self.edge),
                self._single(value_field, depth),
                min_size=1 if self.full else 0,
                max_size=MAX_REPEATED,
            )
        if f.is_repeated:
            return st.lists(
                self._single(f, depth), min_size=1 if self.full else 0, max_size=MAX_REPEATED
            )
        return self._single(f, depth)

    def _single(self, f: FieldDescriptor, depth: int) -> st.SearchStrategy[Any]:
        if f.type == FieldDescriptor.TYPE_MESSAGE:
            return self.for_message(message_type(f), depth + 1)
        if f.type == FieldDescriptor.TYPE_STRING and self.aimed and self.vocabulary.strings:
            return st.sampled_from(self.vocabulary.for_field(f.name) or self.vocabulary.strings)
        return _scalar(f, self.vocabulary, self.edge)


def message_type(f: FieldDescriptor) -> Descriptor:
    """The message type of a message field (typed: the descriptor says it may be None)."""
    assert f.message_type is not None, f"{f.full_name} is not a message field"
    return f.message_type


def _is_synthetic(oneof: OneofDescriptor) -> bool:
    fields = list(oneof.fields)
    return len(fields) == 1 and oneof.name == f"_{fields[0].name}"


def _is_map(f: FieldDescriptor) -> bool:
    return (
        f.is_repeated
        and f.type == FieldDescriptor.TYPE_MESSAGE
        and message_type(f).GetOptions().map_entry
    )


def _assemble(
    cls: type[Message], descriptor: Descriptor
) -> Callable[[Mapping[str, Any], Iterable[tuple[str, Any] | None]], Message]:
    def build(fields: Mapping[str, Any], chosen: Iterable[tuple[str, Any] | None]) -> Message:
        message = cls()
        values = dict(fields)
        for member in chosen:
            if member is not None:
                values[member[0]] = member[1]
        for name, value in values.items():
            set_field(message, descriptor.fields_by_name[name], value)
        return message

    return build


def set_field(message: Message, f: FieldDescriptor, value: Any) -> None:
    """Put a generated value in a message field, whatever the field's kind."""
    if _is_map(f):
        target = getattr(message, f.name)
        message_values = (
            message_type(f).fields_by_name["value"].type == FieldDescriptor.TYPE_MESSAGE
        )
        for k, v in value.items():
            if message_values:
                target[k].CopyFrom(v)
            else:
                target[k] = v
    elif f.is_repeated:
        getattr(message, f.name).extend(value)
    elif f.type == FieldDescriptor.TYPE_MESSAGE:
        getattr(message, f.name).CopyFrom(value)
    else:
        setattr(message, f.name, value)


def _walk(descriptor: Descriptor, depth: int = 0) -> Iterable[FieldDescriptor]:
    for f in descriptor.fields:
        yield f
        # Messages at MAX_DEPTH are sent empty (see MessageStrategies._build).
        if f.type == FieldDescriptor.TYPE_MESSAGE and depth + 1 < MAX_DEPTH:
            if message_type(f).full_name in (
                "google.protobuf.Timestamp",
                "google.protobuf.FieldMask",
            ):
                continue
            yield from _walk(message_type(f), depth + 1)


def message_type_of_container(f: FieldDescriptor) -> Descriptor:
    assert f.containing_type is not None
    return f.containing_type


def field_names(descriptor: Descriptor) -> set[str]:
    """Every field name reachable from `descriptor` (candidate FieldMask paths)."""
    return {
        f.name
        for f in _walk(descriptor)
        if not (message_type_of_container(f).GetOptions().map_entry)
    }


def edges_for(descriptor: Descriptor) -> list[Edge]:
    """The edges a request of this type has a field for (the others would change nothing)."""
    found: set[Edge] = set()
    for f in _walk(descriptor):
        if f.type in (FieldDescriptor.TYPE_STRING, FieldDescriptor.TYPE_BYTES):
            found |= {Edge.NUL, Edge.LONG_STRINGS}
        elif f.type == FieldDescriptor.TYPE_ENUM:
            found.add(Edge.UNKNOWN_ENUMS)
        elif f.type == FieldDescriptor.TYPE_MESSAGE and (
            message_type(f).full_name == "google.protobuf.Timestamp"
        ):
            found.add(Edge.BAD_TIMESTAMPS)
    return [edge for edge in Edge if edge in found]
