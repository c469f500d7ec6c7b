"""The tickets as this service knows them: a copy of each ticket's unit, status, number,
title, requester and assignee, kept from ``ticket.*`` events (never the tickets schema)."""
