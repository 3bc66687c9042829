"""Bundled example programs (plain NumPy code) and a demo that differentiates them.

``chainrule.examples.programs`` holds the programs; ``chainrule demo`` (or
``python -m chainrule.examples.demo``) differentiates them and checks the results against
central finite differences.
"""
