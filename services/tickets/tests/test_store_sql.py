"""The store's SQL is written out by hand: check it against the tables and the parameter
lists the Python side sends (no database needed; the API tests run it for real)."""

from __future__ import annotations

import re

import pytest

from tickets.tickets import store
from tickets.tickets.models import Ticket
from tickets.tickets.record import TICKET_COLUMNS

STATEMENTS = {
    name: getattr(store, name)
    for name in (
        "READ_BY_ID",
        "READ_BY_NUMBER",
        "LOCK_SLA_DUE",
        "LOCK_RESOLVED_BEFORE",
        "SNAPSHOT_PAGE",
        "DRAW_NUMBER",
        "CREATE_SQL",
        "CHANGE_SQL",
        "COMMENT_SQL",
        "ACTIVE_AGENT_NAME",
        "ACTIVE_USER",
    )
}


def names(text: str) -> list[str]:
    return [name.strip() for name in text.split(",")]


def test_the_ticket_columns_are_the_tables():
    table = [c.name for c in Ticket.__table__.columns if c.name != "search"]
    assert list(TICKET_COLUMNS) == table
    identity = {"id", "number", "created_at", "created_by_id", "created_by_name", "created_by_role"}
    assert list(store.CHANGE_COLUMNS) == [c for c in table if c not in identity]


def test_reads_select_the_ticket_columns_in_order():
    selected = store.READ_BY_ID.split("SELECT", 1)[1].split("t.xmin", 1)[0]
    assert [n.removeprefix("t.") for n in names(selected) if n] == list(TICKET_COLUMNS)


def test_create_inserts_every_column_from_its_own_placeholder():
    match = re.search(r"INSERT INTO tickets \((.*?)\)\s*VALUES \((.*?)\)", store.CREATE_SQL, re.S)
    assert match is not None
    assert names(match.group(1)) == list(TICKET_COLUMNS)
    assert names(match.group(2)) == [f"${i}" for i in range(1, len(TICKET_COLUMNS) + 1)]


def test_a_change_sets_every_mutable_column_from_its_own_placeholder():
    sets = re.findall(r"(\w+) = \$(\d+)", store.CHANGE_SQL.split("WHERE", 1)[0])
    assert [name for name, _ in sets] == list(store.CHANGE_COLUMNS)
    assert [int(n) for _, n in sets] == list(range(3, 3 + len(store.CHANGE_COLUMNS)))


@pytest.mark.parametrize("name", list(STATEMENTS))
def test_placeholders_are_numbered_without_gaps(name: str):
    used = {int(n) for n in re.findall(r"\$(\d+)", STATEMENTS[name])}
    assert used == set(range(1, max(used) + 1))
