"""Benchmarks of chainrule: plain NumPy workloads, hand-written adjoints, peers, the harness.

Benchmarks time the Numba code, so a first call waits for Numba to finish compiling
(``CHAINRULE_NUMBA_WAIT=inf``; by default a long compile goes on in the background while calls
run on NumPy, which would mix NumPy timings in). ``benchmarks.pinn`` measures the default too.
"""

import os

os.environ.setdefault("CHAINRULE_NUMBA_WAIT", "inf")
