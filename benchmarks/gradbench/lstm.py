"""GradBench ``lstm``: the loss of a stacked, diagonal LSTM predicting the next character of a
text, and its gradient with respect to the main and extra parameters (flattened, in that order).

Layout (rows of the input matrices): ``main[2 i]`` holds layer ``i``'s weights for the forget,
input, output and change gates (``b`` each), ``main[2 i + 1]`` their biases; ``extra`` holds the
input weights, output weights and output biases; ``state[2 i]`` / ``state[2 i + 1]`` are layer
``i``'s hidden and cell states. The state is copied, then updated in place row by row.
"""

import numpy as np

import chainrule as cr

from . import prepared


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def lstm_objective(main, extra, state, seq):
    n_layers = main.shape[0] // 2
    b = main.shape[1] // 4
    c = seq.shape[0]
    st = state.copy()
    total = 0.0
    for t in range(c - 1):
        x = seq[t] * extra[0]
        for i in range(n_layers):
            w = main[2 * i]
            bias = main[2 * i + 1]
            h = st[2 * i]
            forget = sigmoid(x * w[:b] + bias[:b])
            ingate = sigmoid(h * w[b:2 * b] + bias[b:2 * b])
            outgate = sigmoid(x * w[2 * b:3 * b] + bias[2 * b:3 * b])
            change = np.tanh(h * w[3 * b:] + bias[3 * b:])
            cell = st[2 * i + 1] * forget + ingate * change
            hidden = outgate * np.tanh(cell)
            st[2 * i + 1] = cell
            st[2 * i] = hidden
            x = hidden
        ypred = x * extra[1] + extra[2]
        lse = np.log(np.sum(np.exp(ypred)) + 2.0)
        total = total + np.sum(seq[t + 1] * (ypred - lse))
    return -total / ((c - 1) * b)


_objective = cr.jit(lstm_objective)
_gradient = cr.grad(lstm_objective, argnums=(0, 1))


def _args(inp):
    main, extra, state = (np.asarray(inp[key], dtype=np.float64)
                          for key in ("main_params", "extra_params", "state"))
    # The reference reads the flattened sequence with a stride of the hidden size ``b``, which
    # can be narrower than the rows it was given (``c`` rows of ``b`` values are used).
    b, c = main.shape[1] // 4, len(inp["sequence"])
    flat = np.concatenate([np.asarray(row, dtype=np.float64) for row in inp["sequence"]])
    return main, extra, state, flat[: c * b].reshape(c, b)


def _post_jacobian(g):
    return np.concatenate([g[0].ravel(), g[1].ravel()]).tolist()


FUNCTIONS = {
    "objective": prepared(_objective, _args, float),
    "jacobian": prepared(_gradient, _args, _post_jacobian),
}
