"""Synthetic tables for the seed's gradient claims (relu_vanishing, exploding, leaky_relu):
gradient norms at init set layer by layer, so that log10 ||dL/dz_1|| / ||dL/dz_L|| is a
chosen number per seed."""

import numpy as np
from findings_tables import Tables


def offsets(n, spread):
    """n per-seed offsets with mean 0 and standard deviation ``spread``."""
    z = np.linspace(-1.0, 1.0, n)
    return spread * z / (z.std(ddof=1) if n > 1 else 1.0)


def gradient_at_init(decades):
    """layer(...) override: ||dL/dz_1|| = 10^decades(seed) x ||dL/dz_L|| at step 0
    (decades None: exactly 0, a net born dead)."""

    def layer(step, lay, depth, seed):
        if step or lay != 1:
            return {}
        value = decades(seed)
        return {"grad_z_norm": 0.0 if value is None else 10.0**value}

    return layer


def vanishing_tables(sigmoid=-3.0, tanh=-2.0, relu=0.0, spread=0.2, seeds=6, depth=50):
    """Critical-init decades per activation (mean, with ``spread`` over seeds), and a
    one-init arm (Xavier) where sigmoid and ReLU vanish."""
    t = Tables()
    noise = offsets(seeds, spread)
    arms = [
        ("vanishing_sigmoid", "sigmoid", "sigmoid_critical", "mean_field", sigmoid),
        ("vanishing_critical", "tanh", "critical_gaussian", "critical", tanh),
        ("vanishing_critical", "relu", "critical_gaussian", "critical", relu),
        ("vanishing", "sigmoid", "xavier_normal", None, -30.0),
        ("vanishing", "relu", "xavier_normal", None, -7.0),
    ]
    for study, activation, init, scheme, mean in arms:
        for d in (10, depth):
            t.cell(
                study,
                activation=activation,
                init=init,
                scheme=scheme,
                hidden=(4,) * (d - 1),
                steps=1,
                seeds=range(seeds),
                layer=gradient_at_init(lambda seed, m=mean * d / depth: m + noise[seed]),
            )
    return t


def exploding_tables(
    grows=2.5, gap=-0.7, relu_diverges=True, spread=0.05, large_diverges_in=(), seeds=5
):
    """Sigmoid randn x 10 at depth 10 with ``grows`` decades at init; at depth 5 its best
    accuracy is Xavier's plus ``gap`` (seed noise ``spread``); ReLU randn x 10 at depth 10
    diverges (or not). ``large_diverges_in``: seeds whose sigmoid randn x 10 runs diverge
    at every lr (NaN accuracy)."""
    t = Tables()
    noise = offsets(seeds, spread)
    for init in ("normal_large", "xavier_normal"):
        decades = grows if init == "normal_large" else -5.0
        t.cell(
            "exploding_deep",
            activation="sigmoid",
            init=init,
            scheme="normal" if init == "normal_large" else None,
            hidden=(4,) * 9,
            lr=0.01,
            seeds=range(seeds),
            layer=gradient_at_init(lambda seed, m=decades: m + noise[seed]),
        )
        for lr in (0.01, 0.2):
            best = 0.95 + (gap if init == "normal_large" else 0.0)
            accuracy = best if lr == 0.2 else best - 0.1
            jitter = init == "normal_large"  # the paired gap's seed noise
            for seed in range(seeds):
                diverged = jitter and seed in large_diverges_in
                t.cell(
                    "exploding",
                    activation="sigmoid",
                    init=init,
                    hidden=(4,) * 4,
                    lr=lr,
                    seeds=[seed],
                    status="diverged" if diverged else "completed",
                    accuracy=np.nan if diverged else accuracy + jitter * noise[seed],
                    settings={"seed_cell": seed},
                )
    t.cell(
        "exploding_deep",
        activation="relu",
        init="normal_large",
        hidden=(4,) * 9,
        lr=0.01,
        seeds=range(seeds),
        status="diverged" if relu_diverges else "completed",
        layer=gradient_at_init(lambda seed: 14.0),
    )
    return t


def leaky_tables(leaky=-0.5, spread=0.2, relu_dead=15, seeds=20, depth=20):
    """ReLU nets born dead in the first ``relu_dead`` seeds (else -1.5 decades); Leaky's
    gradient at ``leaky`` decades (seed noise ``spread``)."""
    t = Tables()
    noise = offsets(seeds, spread)
    for d in (10, depth):
        t.cell(
            "leaky_relu",
            activation="relu",
            hidden=(4,) * (d - 1),
            steps=1,
            seeds=range(seeds),
            layer=gradient_at_init(lambda seed: None if seed < relu_dead else -1.5),
        )
        t.cell(
            "leaky_relu",
            activation="leaky_relu",
            hidden=(4,) * (d - 1),
            steps=1,
            seeds=range(seeds),
            layer=gradient_at_init(lambda seed: leaky + noise[seed]),
        )
    return t
