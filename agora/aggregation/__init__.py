"""Aggregation: turning a jury's verdicts into one decision."""
