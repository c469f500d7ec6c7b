"""Command line of the operator tools (placeholder until the backup module lands)."""


def main() -> None:
    raise SystemExit("not built yet")
