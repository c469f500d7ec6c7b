"""Duration histograms: medians and 90th percentiles of many tickets without sorting them.

An exact percentile sorts every duration of the period: half a million of them for a year
of a city's tickets, about half a second. Above ``exact_percentile_limit`` tickets the
figures read instead a histogram kept by the projection (``duration_histogram``: per month,
per value of one dimension, per bucket) and interpolate within the bucket. Buckets grow by
a quarter from one minute on, so an estimate is within an eighth of the true value; the
response says which way it was computed.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Final, Literal

Metric = Literal["first_response", "resolution"]
# Measure-name prefixes in the projection's contributions (not rollup columns).
PREFIXES: Final[dict[Metric, str]] = {"first_response": "hfr_", "resolution": "hres_"}

FIRST_BOUND: Final = 60.0  # seconds: bucket 0 is [0, 60)
RATIO: Final = 1.25
BUCKETS: Final = 64  # the last one is open-ended (beyond ~3.4 years of working time)


def bucket_of(seconds: float) -> int:
    if seconds < FIRST_BOUND:
        return 0
    return min(BUCKETS - 1, 1 + math.floor(math.log(seconds / FIRST_BOUND) / math.log(RATIO)))


def bounds(bucket: int) -> tuple[float, float]:
    """The durations a bucket holds: [low, high)."""
    if bucket == 0:
        return 0.0, FIRST_BOUND
    low = FIRST_BOUND * RATIO ** (bucket - 1)
    return low, low * RATIO


# The same function in SQL, for durations read from the facts (a period's partial months);
# in float8 (a numeric division and logarithm took five times as long).
BUCKET_SQL: Final = (
    "CASE WHEN {v} < {first} THEN 0 ELSE least({last},"
    " 1 + floor(ln({v}::float8 / {first}::float8) / ln({ratio}::float8))::int) END"
)


def bucket_sql(column: str) -> str:
    return BUCKET_SQL.format(v=column, first=FIRST_BOUND, last=BUCKETS - 1, ratio=RATIO)


def _value_at(histogram: Mapping[int, int], rank: int) -> float:
    """The estimated value of the ``rank``-th smallest duration (from 0): a bucket's n
    values are taken as spread evenly over [low, high)."""
    seen = 0
    for bucket in sorted(histogram):
        count = histogram[bucket]
        if count and rank < seen + count:
            low, high = bounds(bucket)
            return low + (high - low) * (rank - seen + 0.5) / count
        seen += count
    return bounds(max(histogram))[1]  # pragma: no cover (rank < total always)


def percentile(histogram: Mapping[int, int], q: float) -> float | None:
    """The q-quantile as ``percentile_cont`` defines it: position q * (n - 1), between the
    two durations around it, each estimated within its bucket."""
    total = sum(histogram.values())
    if total == 0:
        return None
    position = q * (total - 1)
    below = math.floor(position)
    low = _value_at(histogram, below)
    if position == below:
        return low
    high = _value_at(histogram, below + 1)
    return low + (high - low) * (position - below)
