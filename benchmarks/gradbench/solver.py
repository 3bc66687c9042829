"""Gradient descent with an adaptive step, used by the nested-AD evals (``particle``, ``saddle``):
the step ``eta`` starts at 1e-5, doubles after 10 accepted steps in a row and halves when a
step does not decrease ``f``; it stops when the gradient or the step is shorter than 1e-5.
Written as plain code with the function and its gradient as arguments, so chainrule compiles
it together with the nested derivatives it calls.
"""

import numpy as np


def argmin(f, grad, x):
    fx = f(x)
    gx = grad(f, x)
    eta = 1e-5
    i = 0
    while np.sqrt(np.sum(gx * gx)) > 1e-5:
        if i == 10:
            eta = 2.0 * eta
            i = 0
        else:
            x_new = x - eta * gx
            if np.sqrt(np.sum((x - x_new) ** 2)) <= 1e-5:
                break
            f_new = f(x_new)
            if f_new < fx:
                x = x_new
                fx = f_new
                gx = grad(f, x_new)
                i = i + 1
            else:
                eta = eta / 2.0
                i = 0
    return x


def argmax(f, grad, x):
    return argmin(lambda z: -f(z), grad, x)


def maximum(f, grad, x):
    return f(argmax(f, grad, x))
