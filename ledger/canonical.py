"""Canonical bytes for everything the ledger hashes or signs.

Canonical JSON (what `canonical_bytes` produces) is:

- JSON (RFC 8259) encoded as UTF-8, no insignificant whitespace;
- object keys are strings, sorted by Unicode code point (equivalently by their UTF-8 bytes);
- strings escape only ``"``, ``\\`` and the control characters U+0000..U+001F (``\\b \\t \\n
  \\f \\r`` short forms, the others as ``\\u00xx``); every other character is written as is;
- integers in plain decimal (64-bit range); **no floats anywhere** (money is integer cents,
  ratios integer basis points or decimal strings): a float, even nested, is an error;
- datetimes must be timezone-aware; they are converted to UTC and written
  ``YYYY-MM-DDTHH:MM:SS.ffffffZ`` (always 6 fraction digits); dates as ``YYYY-MM-DD``;
- UUIDs as lower-case hex with dashes; ``Decimal`` (finite) as its ``str``; tuples as lists.

This is exactly what ``orjson.dumps(value, option=OPT_SORT_KEYS)`` writes once the values are
reduced to str/int/bool/None/list/dict, which is what `to_canonical_value` does.

`CanonicalTranscoder` is the eventsourcing transcoder for event state: same rules, but UUID,
datetime, date and Decimal values are tagged ``{"_data_": ..., "_type_": name}`` so that
decoding restores them. Equal event states always give the same bytes.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

import orjson
from eventsourcing.persistence import JSONTranscoder, Transcoding, TranscodingNotRegisteredError

__all__ = [
    "CanonicalError",
    "CanonicalTranscoder",
    "canonical_bytes",
    "iso_utc",
    "parse_iso_utc",
    "to_canonical_value",
]

_SORT = orjson.OPT_SORT_KEYS


class CanonicalError(TypeError, ValueError):
    """A value cannot be written canonically (float, naive datetime, unknown type...)."""


def iso_utc(value: datetime) -> str:
    """Timezone-aware datetime -> ``YYYY-MM-DDTHH:MM:SS.ffffffZ`` (UTC, 6 digits)."""
    if value.tzinfo is None or value.tzinfo.utcoffset(value) is None:
        raise CanonicalError(f"naive datetime {value!r}: datetimes must be timezone-aware")
    utc = value.astimezone(UTC).replace(tzinfo=None)
    return utc.isoformat(timespec="microseconds") + "Z"


def parse_iso_utc(text: str) -> datetime:
    """Inverse of `iso_utc` (returns an aware UTC datetime)."""
    parsed = datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        raise CanonicalError(f"timestamp {text!r} has no timezone")
    return parsed.astimezone(UTC)


def _decimal_str(value: Decimal, path: str) -> str:
    if not value.is_finite():
        raise CanonicalError(f"non-finite Decimal at {path}")
    return str(value)


def _float_error(path: str) -> CanonicalError:
    return CanonicalError(
        f"float at {path}: floats are not allowed in canonical data "
        "(use integer cents, integer basis points or a decimal string)"
    )


def to_canonical_value(value: Any, path: str = "$") -> Any:
    """Reduce ``value`` to str/int/bool/None/list/dict following the canonical rules."""
    kind = type(value)
    if kind is str or kind is int or kind is bool or value is None:
        return value
    if kind is dict:
        out: dict[str, Any] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise CanonicalError(f"non-string key {key!r} at {path}")
            out[key] = to_canonical_value(item, f"{path}.{key}")
        return out
    if kind is list or kind is tuple:
        return [to_canonical_value(item, f"{path}[{i}]") for i, item in enumerate(value)]
    if isinstance(value, float):
        raise _float_error(path)
    if isinstance(value, datetime):
        return iso_utc(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, Decimal):
        return _decimal_str(value, path)
    if isinstance(value, (str, int)):  # subclasses (str/int enums...): their plain value
        return str.__str__(value) if isinstance(value, str) else int(value)
    if isinstance(value, dict):
        return to_canonical_value(dict(value), path)
    if isinstance(value, (list, tuple)):
        return to_canonical_value(list(value), path)
    raise CanonicalError(f"value of type {kind.__name__} at {path} has no canonical form")


def canonical_bytes(value: Any) -> bytes:
    """Canonical JSON bytes of ``value`` (see module docstring)."""
    return orjson.dumps(to_canonical_value(value), option=_SORT)


# Tags written by CanonicalTranscoder for the built-in types.
TAG_UUID = "uuid"
TAG_DATETIME = "datetime"
TAG_DATE = "date"
TAG_DECIMAL = "decimal"
# A user dict whose keys are exactly {"_type_", "_data_"} is wrapped so it is not
# mistaken for a tagged value on decoding.
TAG_ESCAPED_DICT = "escaped_dict"
_TAG_KEYS = frozenset(("_type_", "_data_"))


def _tag(name: str, data: Any) -> dict[str, Any]:
    return {"_type_": name, "_data_": data}


class CanonicalTranscoder(JSONTranscoder):
    """Deterministic orjson transcoder for event state.

    A `JSONTranscoder` subclass so that applications can still ``register()`` transcodings
    for their own value types (and so that ``Application.register_transcodings`` runs);
    UUID, datetime, date and Decimal are handled here and cannot be overridden, so the
    library's ``UUIDAsHex``/``DatetimeAsISO``/``DecimalAsStr`` registrations are harmless
    (their tags are still accepted when decoding).
    """

    def __init__(self) -> None:
        super().__init__()
        self._builtin_decoders: dict[str, Callable[[Any], Any]] = {
            TAG_UUID: UUID,
            TAG_DATETIME: parse_iso_utc,
            TAG_DATE: date.fromisoformat,
            TAG_DECIMAL: Decimal,
        }

    def register(self, transcoding: Transcoding) -> None:
        if transcoding.name in (TAG_UUID, TAG_DATETIME, TAG_DATE, TAG_DECIMAL, TAG_ESCAPED_DICT):
            raise ValueError(f"transcoding name {transcoding.name!r} is reserved")
        super().register(transcoding)

    def encode(self, obj: Any) -> bytes:
        return orjson.dumps(self._enc(obj, "$"), option=_SORT)

    def decode(self, data: bytes) -> Any:
        return self._dec(orjson.loads(data))

    def _enc(self, value: Any, path: str) -> Any:
        kind = type(value)
        if kind is str or kind is int or kind is bool or value is None:
            return value
        # Containers: plain leaves are copied inline (no call, no path string for them).
        if kind is dict:
            out: dict[str, Any] = {}
            for key, item in value.items():
                if type(key) is not str and not isinstance(key, str):
                    raise CanonicalError(f"non-string key {key!r} at {path}")
                t = type(item)
                if t is str or t is int or t is bool or item is None:
                    out[key] = item
                else:
                    out[key] = self._enc(item, f"{path}.{key}")
            if len(out) == 2 and out.keys() == _TAG_KEYS:
                return _tag(TAG_ESCAPED_DICT, out)
            return out
        if kind is list or kind is tuple:
            items: list[Any] = []
            for i, item in enumerate(value):
                t = type(item)
                if t is str or t is int or t is bool or item is None:
                    items.append(item)
                else:
                    items.append(self._enc(item, f"{path}[{i}]"))
            return items
        if kind is float:
            raise _float_error(path)
        if kind is UUID:
            return _tag(TAG_UUID, str(value))
        if kind is datetime:
            return _tag(TAG_DATETIME, iso_utc(value))
        if kind is date:
            return _tag(TAG_DATE, value.isoformat())
        if kind is Decimal:
            return _tag(TAG_DECIMAL, _decimal_str(value, path))
        transcoding = self.types.get(kind)
        if transcoding is not None:
            return _tag(transcoding.name, self._enc(transcoding.encode(value), path))
        # Subclasses of the built-in types, after exact registered types.
        if isinstance(value, float):
            raise _float_error(path)
        if isinstance(value, (str, int, dict, list, tuple, UUID, datetime, date, Decimal)):
            return self._enc(_plain(value), path)
        raise TranscodingNotRegisteredError(
            f"Object of type {kind} is not serializable. Please define "
            "and register a custom transcoding for this type."
        )

    def _dec(self, value: Any) -> Any:
        if type(value) is list:
            return [self._dec(item) for item in value]
        if type(value) is not dict:
            return value
        if len(value) == 2 and value.keys() == _TAG_KEYS:
            name = value["_type_"]
            data = value["_data_"]
            if name == TAG_ESCAPED_DICT:
                return {key: self._dec(item) for key, item in data.items()}
            builtin = self._builtin_decoders.get(name)
            if builtin is not None:
                return builtin(data)
            transcoding = self.names.get(name)
            if transcoding is None:
                raise TranscodingNotRegisteredError(
                    f"Data serialized with name '{name}' is not deserializable. "
                    "Please register a custom transcoding for this type."
                )
            return transcoding.decode(self._dec(data))
        return {key: self._dec(item) for key, item in value.items()}


def _plain(value: Any) -> Any:
    """The plain built-in value of a subclass instance (e.g. a str enum -> str)."""
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, str):
        return str.__str__(value)  # str(enum member) would give "Class.NAME"
    if isinstance(value, dict):
        return dict(value)
    if isinstance(value, (list, tuple)):
        return list(value)
    if isinstance(value, datetime):
        return datetime.fromisoformat(value.isoformat())
    if isinstance(value, date):
        return date.fromisoformat(value.isoformat())
    if isinstance(value, UUID):
        return UUID(str(value))
    if isinstance(value, Decimal):
        return Decimal(str(value))
    raise CanonicalError(f"unexpected type {type(value).__name__}")  # pragma: no cover
