"""The reports service: a read model of every ticket, built from events, and the figures
leaders, administrators and units ask for."""
