"""A deliberately plain, record-at-a-time evaluator of Pinecone metadata filters.

It is the oracle for the property tests of the vectorised local store and the judge inside
the Pinecone stand-in, so the two backends are checked against an independent reading of
the rules in recsys_utils/vectorstore/filters.py (written separately, on purpose).
"""

from __future__ import annotations

from typing import Any


def _same(stored: Any, wanted: Any) -> bool:
    # Booleans are their own type; ints and floats compare as numbers; no other coercion.
    if isinstance(stored, bool) or isinstance(wanted, bool):
        return isinstance(stored, bool) and isinstance(wanted, bool) and stored == wanted
    if isinstance(stored, str) or isinstance(wanted, str):
        return isinstance(stored, str) and isinstance(wanted, str) and stored == wanted
    return float(stored) == float(wanted)


def _equals(record: dict, field: str, wanted: Any) -> bool:
    if field not in record:
        return False
    stored = record[field]
    if isinstance(stored, list):
        return any(_same(element, wanted) for element in stored)
    return _same(stored, wanted)


def _compare(record: dict, field: str, op: str, bound: float) -> bool:
    stored = record.get(field)
    if stored is None or isinstance(stored, (bool, str, list)):
        return False
    # Pinecone compares numbers as 64-bit floats: 2**53 + 1 is not above 2**53 there.
    stored, bound = float(stored), float(bound)
    return {"$gt": stored > bound, "$gte": stored >= bound, "$lt": stored < bound, "$lte": stored <= bound}[
        op
    ]


def matches(record: dict, flt: dict | None) -> bool:
    if flt is None:
        return True
    for key, value in flt.items():
        if key == "$and":
            if not all(matches(record, part) for part in value):
                return False
        elif key == "$or":
            if not any(matches(record, part) for part in value):
                return False
        elif isinstance(value, dict):
            for op, operand in value.items():
                if op == "$eq":
                    ok = _equals(record, key, operand)
                elif op == "$ne":
                    ok = not _equals(record, key, operand)
                elif op == "$in":
                    ok = any(_equals(record, key, item) for item in operand)
                elif op == "$nin":
                    ok = not any(_equals(record, key, item) for item in operand)
                elif op == "$exists":
                    ok = (key in record) == operand
                else:
                    ok = _compare(record, key, op, operand)
                if not ok:
                    return False
        elif not _equals(record, key, value):
            return False
    return True
