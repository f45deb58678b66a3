"""float64 numpy oracles of the recurrent cells the tests check seru's layers against."""

import numpy as np


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


def np_gru(x, p):
    """x [T, D]; p: a flax GRUCell's parameters (Cho et al. 2014, reset after the matmul)
    -> the hidden states [T, H]."""
    k = lambda n: np.asarray(p[n]["kernel"], np.float64)
    b = lambda n: np.asarray(p[n]["bias"], np.float64)
    h = np.zeros(k("hr").shape[0])
    outs = []
    for t in range(x.shape[0]):
        r = sigmoid(x[t] @ k("ir") + b("ir") + h @ k("hr"))
        z = sigmoid(x[t] @ k("iz") + b("iz") + h @ k("hz"))
        n = np.tanh(x[t] @ k("in") + b("in") + r * (h @ k("hn") + b("hn")))
        h = (1 - z) * n + z * h
        outs.append(h)
    return np.stack(outs).reshape(x.shape[0], -1)
