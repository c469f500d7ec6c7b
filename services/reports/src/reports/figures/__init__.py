"""The figures: summaries, trends, breakdowns and the recap of completed work."""
