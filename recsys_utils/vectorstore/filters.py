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

Anything else raises ``FilterError`` naming the offending part.
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

COMPARISON_OPS = ("$eq", "$ne", "$gt", "$gte", "$lt", "$lte", "$in", "$nin", "$exists")
LOGICAL_OPS = ("$and", "$or")


class FilterError(ValueError):
    """The metadata filter is not valid Pinecone filter syntax."""


def _is_number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _is_scalar(value: Any) -> bool:
    return isinstance(value, (str, bool)) or _is_number(value)


def validate_filter(flt: Any, where: str = "filter") -> None:
    """Raise ``FilterError`` unless ``flt`` is a valid filter (None means no filter)."""
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
            if not isinstance(value, list) or not value:
                raise FilterError(f"{where}.{key} must be a non-empty list of filters, got {value!r}")
            for index, part in enumerate(value):
                validate_filter(part, f"{where}.{key}[{index}]")
        elif key.startswith("$"):
            raise FilterError(
                f"{where} uses unknown top-level operator {key!r}; top level takes field names, "
                f"$and or $or (comparison operators: {', '.join(COMPARISON_OPS)})"
            )
        elif isinstance(value, dict):
            _validate_field_ops(value, f"{where}.{key}")
        elif not _is_scalar(value):
            raise FilterError(
                f"{where}.{key} = {value!r}: shorthand equality takes a string, number or boolean; "
                "use {'$in': [...]} to match one of several values"
            )
        elif _is_number(value) and not np.isfinite(value):
            raise FilterError(f"{where}.{key} = {value!r} is not a finite number")


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
                raise FilterError(f"{at} takes a string, number or boolean, got {operand!r}")
        elif op in ("$gt", "$gte", "$lt", "$lte"):
            if not _is_number(operand):
                raise FilterError(f"{at} takes a number, got {operand!r}")
        elif op in ("$in", "$nin"):
            if not isinstance(operand, list) or not operand:
                raise FilterError(f"{at} takes a non-empty list of strings or numbers, got {operand!r}")
            for item in operand:
                if not (isinstance(item, str) or _is_number(item)):
                    raise FilterError(f"{at} takes strings or numbers, got {item!r} in {operand!r}")
        elif op == "$exists" and not isinstance(operand, bool):
            raise FilterError(f"{at} takes true or false, got {operand!r}")
        if _is_number(operand) and not np.isfinite(operand):
            raise FilterError(f"{at} = {operand!r} is not a finite number")


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
        for item in operand:
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

    NumPy scalars become Python numbers, NaN / None / pandas NA are dropped (Pinecone strips
    nulls on write), and anything else (nested dicts, lists of numbers) raises a clear error.
    """
    if metadata is None:
        return {}
    if not isinstance(metadata, dict):
        raise TypeError(f"metadata of record {record_id!r} must be a dict, got {type(metadata).__name__}")
    clean: dict[str, Any] = {}
    for key, value in metadata.items():
        if not isinstance(key, str) or not key or key.startswith("$"):
            raise ValueError(
                f"record {record_id!r}: metadata key {key!r} must be a non-empty string not starting with '$'"
            )
        if value is None or _is_missing(value):
            continue
        if isinstance(value, (bool, np.bool_)):
            clean[key] = bool(value)
        elif isinstance(value, str):
            clean[key] = value
        elif isinstance(value, numbers.Integral):
            clean[key] = int(value)
        elif isinstance(value, numbers.Real):
            clean[key] = float(value)
        elif isinstance(value, (list, tuple, np.ndarray)):
            items = list(value)
            if not all(isinstance(item, str) for item in items):
                raise TypeError(
                    f"record {record_id!r}: metadata {key!r} must be a list of strings, got {value!r}"
                )
            clean[key] = [str(item) for item in items]
        else:
            raise TypeError(
                f"record {record_id!r}: metadata {key!r} has type {type(value).__name__}; "
                "use a string, number, boolean or list of strings"
            )
    return clean


def _is_missing(value: Any) -> bool:
    if isinstance(value, float | np.floating):
        return not np.isfinite(value)
    try:
        import pandas as pd

        return value is pd.NA or value is pd.NaT
    except ImportError:  # pragma: no cover
        return False
