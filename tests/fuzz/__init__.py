"""Differential fuzzing of chainrule against plain Python (see docs/fuzzing.md)."""
