"""The rollups: sums of the tickets' contributions at a coarser grain, kept in step with the
facts in the same transaction.

Each rollup keeps a time grain (day or month, office-local) and some of the dimensions; a
query reads the smallest rollup that has every dimension it filters or groups by and a
grain fine enough for its period (``figures.plan``). ``rollup_day`` keeps every dimension
and is the one that can answer anything.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

from reports.readmodel.projection import DIMENSIONS, Key

Grain = Literal["day", "month"]


@dataclass(frozen=True)
class Rollup:
    table: str
    grain: Grain
    dimensions: tuple[str, ...]

    def key(self, key: Key) -> tuple[object, ...]:
        """The finest key (day and every dimension) cut down to this rollup's."""
        day = key[0]
        bucket = day.replace(day=1) if self.grain == "month" else day
        values = dict(zip(DIMENSIONS, key[1:], strict=True))
        return (bucket, *(values[d] for d in self.dimensions))


# Smallest first: the order in which queries consider them. A day rollup per dimension
# answers, at any grain, every query that filters or groups by at most that one dimension
# (a leader's usual question); the wider ones answer the rest.
ROLLUPS: Final = (
    Rollup("rollup_day_channel", "day", ("channel",)),
    Rollup("rollup_day_priority", "day", ("priority",)),
    Rollup("rollup_day_category", "day", ("category_id",)),
    Rollup("rollup_day_agent", "day", ("assignee_id",)),
    Rollup("rollup_day_unit", "day", ("unit_id",)),
    Rollup("rollup_month_agent", "month", ("assignee_id", "unit_id")),
    Rollup("rollup_month", "month", ("unit_id", "category_id", "priority", "channel")),
    Rollup("rollup_day", "day", DIMENSIONS),
)
