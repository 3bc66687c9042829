"""Benchmarks of chainrule: plain NumPy workloads, hand-written adjoints, peers, the harness."""
