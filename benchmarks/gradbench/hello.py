"""GradBench ``hello``: the square and its derivative."""

import chainrule as cr


def square(x):
    return x * x


_double = cr.grad(square)

FUNCTIONS = {
    "square": lambda x: ((lambda: square(float(x))), float),
    "double": lambda x: ((lambda: _double(float(x))), float),
}
