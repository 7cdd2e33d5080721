"""Pinecone's metadata filter language, validated and evaluated over columns in NumPy.

Semantics (the subset Pinecone documents, MongoDB-style):

- ``{"field": value}`` is shorthand for ``{"field": {"$eq": value}}``; several fields in one
  dict, or several operators on one field, must all hold (AND).
- ``$eq`` / ``$ne``: string, number or boolean. ``$in`` / ``$nin``: a list of strings or
  numbers. ``$gt $gte $lt $lte``: a number (compared only with numeric values).
  ``$exists``: a boolean. ``$and`` / ``$or``: a non-empty list of filters.
- A list-of-strings field (genres) matches ``$eq``/``$in`` when ANY element matches;
  ``$ne``/``$nin`` are the negations, so they match when NO element matches.
- A record that lacks the field never matches ``$eq $in $gt $gte $lt $lte`` and always matches
  ``$ne $nin`` (the negation of a test it cannot pass).
- Types never coerce: ``1`` does not equal ``"1"`` or ``true``; ``1`` equals ``1.0``.

Anything else raises ``FilterError`` naming the offending part, as does a filter nesting
``$and`` / ``$or`` deeper than ``limits.MAX_FILTER_DEPTH`` or a number no 64-bit float holds.
"""

from __future__ import annotations

import math
import numbers
import sys
from typing import Any

import numpy as np

from .errors import FilterError, MetadataError
from .limits import MAX_FILTER_DEPTH, MAX_METADATA_BYTES, MAX_SAFE_INTEGER, metadata_bytes

COMPARISON_OPS = ("$eq", "$ne", "$gt", "$gte", "$lt", "$lte", "$in", "$nin", "$exists")
LOGICAL_OPS = ("$and", "$or")


def _is_number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _is_scalar(value: Any) -> bool:
    return isinstance(value, (str, bool)) or _is_number(value)


def _finite(value: Any) -> bool:
    """A number a 64-bit float holds (Pinecone compares metadata numbers as float64)."""
    try:
        return math.isfinite(float(value))
    except OverflowError:  # an int such as 10**400
        return False


def validate_filter(flt: Any, where: str = "filter", depth: int = 0) -> None:
    """Raise ``FilterError`` unless ``flt`` is a valid filter (None means no filter).

    ``depth`` counts the ``$and`` / ``$or`` levels above ``flt``; more than
    ``MAX_FILTER_DEPTH`` is refused before anything recurses further.
    """
    if flt is None:
        return
    if not isinstance(flt, dict):
        raise FilterError(
            f"{where} must be a dict such as {{'genres': {{'$in': ['Drama']}}}}, got {type(flt).__name__}"
        )
    if not flt:
        raise FilterError(f"{where} is an empty dict; pass filter=None to match everything")
    for key, value in flt.items():
        if not isinstance(key, str):
            raise FilterError(f"{where} has a non-string key {key!r}")
        if key in LOGICAL_OPS:
            if depth >= MAX_FILTER_DEPTH:
                at = where if len(where) <= 80 else f"{where[:30]}...{where[-30:]}"
                raise FilterError(
                    f"the filter nests $and/$or more than {MAX_FILTER_DEPTH} levels deep (at {at}), the limit "
                    "(vectorstore.limits.MAX_FILTER_DEPTH); flatten it: an $and of $ands is one $and, "
                    "an $or of $ors one $or"
                )
            if not isinstance(value, list) or not value:
                raise FilterError(f"{where}.{key} must be a non-empty list of filters, got {_short(value)}")
            for index, part in enumerate(value):
                validate_filter(part, f"{where}.{key}[{index}]", depth + 1)
        elif key.startswith("$"):
            raise FilterError(
                f"{where} uses unknown top-level operator {key!r}; top level takes field names, "
                f"$and or $or (comparison operators: {', '.join(COMPARISON_OPS)})"
            )
        elif isinstance(value, dict):
            _validate_field_ops(value, f"{where}.{key}")
        elif not _is_scalar(value):
            raise FilterError(
                f"{where}.{key} = {_short(value)}: shorthand equality takes a string, number or boolean; "
                "use {'$in': [...]} to match one of several values"
            )
        elif _is_number(value) and not _finite(value):
            raise FilterError(f"{where}.{key} = {_short(value)} is not a finite 64-bit number")


def _validate_field_ops(ops: dict, where: str) -> None:
    if not ops:
        raise FilterError(f"{where} is an empty operator dict")
    for op, operand in ops.items():
        if op not in COMPARISON_OPS:
            hint = " (logical operators go at the top level or inside $and/$or)" if op in LOGICAL_OPS else ""
            raise FilterError(
                f"{where} uses unknown operator {op!r}{hint}; valid: {', '.join(COMPARISON_OPS)}"
            )
        at = f"{where}.{op}"
        if op in ("$eq", "$ne"):
            if not _is_scalar(operand):
                raise FilterError(f"{at} takes a string, number or boolean, got {_short(operand)}")
        elif op in ("$gt", "$gte", "$lt", "$lte"):
            if not _is_number(operand):
                raise FilterError(f"{at} takes a number, got {_short(operand)}")
        elif op in ("$in", "$nin"):
            if not isinstance(operand, list) or not operand:
                raise FilterError(f"{at} takes a non-empty list of strings or numbers, got {_short(operand)}")
            if all(type(item) is int for item in operand):
                # Plain ints (ids: the candidate generator's $nin of up to 1,000 seen movies) in one
                # pass; only the extremes can overflow a float64.
                for extreme in (min(operand), max(operand)):
                    if not _finite(extreme):
                        raise FilterError(f"{at} holds {_short(extreme)}, not a finite 64-bit number")
                continue
            for item in operand:
                if not (isinstance(item, str) or _is_number(item)):
                    raise FilterError(f"{at} takes strings or numbers, got {_short(item)} in {_short(operand)}")
        elif op == "$exists" and not isinstance(operand, bool):
            raise FilterError(f"{at} takes true or false, got {_short(operand)}")
        numbers_in = operand if isinstance(operand, list) else [operand]
        for item in numbers_in:
            if _is_number(item) and not _finite(item):
                raise FilterError(f"{at} holds {_short(item)}, not a finite 64-bit number")


def _short(value: Any, limit: int = 60) -> str:
    """``repr(value)`` cut to ``limit`` characters, for messages about huge inputs."""
    try:
        text = repr(value)
    except ValueError:  # an int past Python's digit limit
        return f"an integer of more than {sys.get_int_max_str_digits()} digits"
    except RecursionError:
        return f"a {type(value).__name__} nested too deeply to print"
    return text if len(text) <= limit else f"{text[: limit - 20]}... ({len(text)} characters)"


class MetadataColumns:
    """Column view of the records' metadata, built once per field on first use.

    For each field: which rows have it, its numeric values (NaN elsewhere), its string
    values, its booleans, and an inverted index value -> rows covering strings AND the
    elements of list fields (which is what makes "any element matches" a lookup).
    """

    def __init__(self, metadata: list[dict[str, Any]]):
        self.metadata = metadata
        self.n = len(metadata)
        self._fields: dict[str, dict[str, Any]] = {}

    def field(self, name: str) -> dict[str, Any]:
        column = self._fields.get(name)
        if column is None:
            column = self._build(name)
            self._fields[name] = column
        return column

    def _build(self, name: str) -> dict[str, Any]:
        present = np.zeros(self.n, dtype=bool)
        numeric = np.full(self.n, np.nan)
        booleans = np.full(self.n, -1, dtype=np.int8)
        postings: dict[str, list[int]] = {}
        for row, meta in enumerate(self.metadata):
            if name not in meta:
                continue
            value = meta[name]
            present[row] = True
            if isinstance(value, bool):
                booleans[row] = int(value)
            elif isinstance(value, str):
                postings.setdefault(value, []).append(row)
            elif isinstance(value, list):
                for element in set(value):
                    postings.setdefault(element, []).append(row)
            else:
                numeric[row] = float(value)
        index = {value: np.asarray(rows, dtype=np.int64) for value, rows in postings.items()}
        return {"present": present, "numeric": numeric, "booleans": booleans, "strings": index}


def _eq_mask(columns: MetadataColumns, field: str, operand: Any) -> np.ndarray:
    column = columns.field(field)
    if isinstance(operand, bool):
        return column["booleans"] == int(operand)
    if isinstance(operand, str):
        mask = np.zeros(columns.n, dtype=bool)
        rows = column["strings"].get(operand)
        if rows is not None:
            mask[rows] = True
        return mask
    return column["numeric"] == float(operand)


def _field_mask(columns: MetadataColumns, field: str, op: str, operand: Any) -> np.ndarray:
    if op == "$eq":
        return _eq_mask(columns, field, operand)
    if op == "$ne":
        return ~_eq_mask(columns, field, operand)
    if op in ("$in", "$nin"):
        mask = np.zeros(columns.n, dtype=bool)
        # Numbers in one pass: a $nin of ~1,000 seen movie ids (the candidate generator's exclusion)
        # cost ~3 ms as 1,000 separate comparisons, a tenth of that with np.isin.
        numbers = [float(item) for item in operand if not isinstance(item, (bool, str))]
        if numbers:
            mask |= np.isin(columns.field(field)["numeric"], numbers)
        for item in operand:
            if isinstance(item, (bool, str)):
                mask |= _eq_mask(columns, field, item)
        return mask if op == "$in" else ~mask
    if op == "$exists":
        present = columns.field(field)["present"]
        return present.copy() if operand else ~present
    numeric = columns.field(field)["numeric"]
    with np.errstate(invalid="ignore"):
        if op == "$gt":
            return numeric > operand
        if op == "$gte":
            return numeric >= operand
        if op == "$lt":
            return numeric < operand
        return numeric <= operand


def filter_mask(flt: dict | None, columns: MetadataColumns) -> np.ndarray:
    """Boolean mask of the rows of ``columns`` that ``flt`` admits (validates first)."""
    validate_filter(flt)
    return _mask(flt, columns)


def _mask(flt: dict | None, columns: MetadataColumns) -> np.ndarray:
    mask = np.ones(columns.n, dtype=bool)
    if flt is None:
        return mask
    for key, value in flt.items():
        if key == "$and":
            for part in value:
                mask &= _mask(part, columns)
        elif key == "$or":
            either = np.zeros(columns.n, dtype=bool)
            for part in value:
                either |= _mask(part, columns)
            mask &= either
        elif isinstance(value, dict):
            for op, operand in value.items():
                mask &= _field_mask(columns, key, op, operand)
        else:
            mask &= _eq_mask(columns, key, value)
    return mask


def clean_metadata(metadata: dict | None, record_id: str = "?") -> dict[str, Any]:
    """Metadata as both backends store it: JSON scalars and lists of strings, nulls dropped.

    NumPy scalars become Python numbers; NaN / None / pandas NA are dropped as missing values
    (Pinecone takes no nulls). Refused with ``MetadataError``: other types (nested dicts, lists
    of numbers), infinite numbers, integers beyond ``±limits.MAX_SAFE_INTEGER`` (Pinecone keeps
    numbers as float64), text that is not valid UTF-8, and metadata over
    ``limits.MAX_METADATA_BYTES`` as compact JSON.
    """
    if metadata is None:
        return {}
    if not isinstance(metadata, dict):
        raise MetadataError(f"metadata of record {record_id!r} must be a dict, got {type(metadata).__name__}")
    clean: dict[str, Any] = {}
    for key, value in metadata.items():
        if not isinstance(key, str) or not key or key.startswith("$"):
            raise MetadataError(
                f"record {record_id!r}: metadata key {_short(key)} must be a non-empty string not starting with '$'"
            )
        # The common types first: this runs once per field of every record upserted.
        if isinstance(value, str):
            clean[key] = value
        elif isinstance(value, (bool, np.bool_)):
            clean[key] = bool(value)
        elif isinstance(value, numbers.Integral):
            number = int(value)
            if not -MAX_SAFE_INTEGER <= number <= MAX_SAFE_INTEGER:
                raise MetadataError(
                    f"record {record_id!r}: metadata {key!r} = {_short(number)} is beyond ±2**53, the integers a "
                    "64-bit float (how Pinecone stores numbers) holds exactly; store it as a string"
                )
            clean[key] = number
        elif isinstance(value, numbers.Real):
            try:
                number = float(value)
            except OverflowError:
                number = math.inf
            if number != number:  # NaN: a missing value, dropped like None
                continue
            if not math.isfinite(number):
                raise MetadataError(
                    f"record {record_id!r}: metadata {key!r} = {_short(value)}: Pinecone stores only finite "
                    "numbers; leave the field out or store a finite value (NaN and None are dropped as missing)"
                )
            clean[key] = number
        elif isinstance(value, (list, tuple, np.ndarray)):
            items = list(value)
            if not all(isinstance(item, str) for item in items):
                raise MetadataError(
                    f"record {record_id!r}: metadata {key!r} must be a list of strings, got {_short(value)}"
                )
            clean[key] = [str(item) for item in items]
        elif value is None or _is_missing(value):
            continue
        else:
            raise MetadataError(
                f"record {record_id!r}: metadata {key!r} has type {type(value).__name__}; "
                "use a string, number, boolean or list of strings"
            )
    if clean:
        try:
            size = metadata_bytes(clean)
        except UnicodeEncodeError:  # a lone surrogate somewhere: say where
            for key, value in clean.items():
                _check_utf8(key, record_id, "a metadata key")
                for text in value if isinstance(value, list) else [value]:
                    if isinstance(text, str):
                        _check_utf8(text, record_id, f"metadata {key!r}")
            raise
        if size > MAX_METADATA_BYTES:
            largest = max(clean, key=lambda k: metadata_bytes({k: clean[k]}))
            raise MetadataError(
                f"record {record_id!r} has {size:,} bytes of metadata (compact JSON); Pinecone's limit is "
                f"{MAX_METADATA_BYTES:,} (40 KB, vectorstore.limits.MAX_METADATA_BYTES) per record. "
                f"Shorten the largest field, {largest!r} ({metadata_bytes({largest: clean[largest]}):,} bytes), "
                "or keep long text outside the index and look it up by id"
            )
    return clean


def _check_utf8(text: str, record_id: str, what: str) -> str:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as error:
        raise MetadataError(
            f"record {record_id!r}: {what} holds {text[error.start : error.end]!r} at position {error.start}, "
            "which is not valid UTF-8 (a lone surrogate); both backends store UTF-8 text"
        ) from None
    return text


def _is_missing(value: Any) -> bool:
    """pandas NA / NaT: missing values, dropped like None (NaN is handled with the numbers)."""
    try:
        import pandas as pd

        return value is pd.NA or value is pd.NaT
    except ImportError:  # pragma: no cover
        return False
