"""chainrule as a GradBench tool: ``python -m benchmarks.gradbench`` speaks GradBench's JSON-lines
protocol on stdin/stdout. Each eval is a module here (``hello``, ``lse``, ``llsq``, ``ode``,
``det``, ``kmeans``, ``gmm``, ``lstm``, ``ba``, ``ht``, ``particle``, ``saddle``) whose functions
are written as plain NumPy code and differentiated only through chainrule's public API.

An eval module maps each GradBench function name to ``prepare(input) -> (run, post)``: ``run()``
computes the answer (it is what gets timed, repeated per the input's ``min_runs`` /
``min_seconds``) and ``post(result)`` turns it into JSON.
"""

from functools import partial


def prepared(fn, args_of, post):
    """``prepare`` for a function of the arguments ``args_of(input)`` (computed once, before
    timing) whose result ``post`` turns into JSON."""

    def prepare(inp):
        return partial(fn, *args_of(inp)), post

    return prepare
