"""Depth parametrizations and the weight decay's scaling, against the papers' rules.

``paper_rules`` writes Tensor Programs V's Table 3 (muP), Tensor Programs VI's Depth-muP
and Dey et al. 2025's Table 1 (CompleteP) again, entry by entry, as per-parameter
multipliers of the lr, the weight decay and Adam's eps; ``naive.train`` steps with them as
torch.optim's per-group lr, weight_decay and eps would. The kernels must match to 1e-10
in float64, and one step of each weight-decay convention must equal its formula.
"""

import naive
import numpy as np
import pytest
from problems import make_problem, make_residual

from initbench.engine.residual import initial_extras
from initbench.engine.training import batch_order, train
from initbench.parametrizations import optimizer_scales
from initbench.settings import TrainSettings

TIGHT = dict(rtol=1e-10, atol=1e-12)


def paper_rules(s, sizes):
    """{lr, decay, eps: (n_layers, 2) weights and biases; extra_*: (gates, norms)}.

    muP (TP5 Table 3, no multipliers), m = width / base: under SGD input weights and
    hidden biases m, hidden weights 1, readout 1/m, LayerNorm m; under Adam input weights
    and every bias and LayerNorm 1, hidden and readout weights 1/m. Depth-muP (TP6): the
    blocks' parameters at lr L^-1/2 under Adam, 1 under SGD. CompleteP (Dey et al.
    Table 1, alpha = 1): lr times L^0, the blocks' eps times m^-1 L^-1. width_invariant:
    decay 1 / (the width part of the lr multiplier)."""
    n_layers = len(sizes) - 1
    lr, eps = np.ones((n_layers, 2)), np.ones((n_layers, 2))
    extra_lr, extra_eps = np.ones(2), np.ones(2)
    if s.parametrization != "sp":
        m = sizes[1] / s.base_width
        if s.optimizer == "sgd":
            lr[0, 0], lr[:-1, 1], lr[-1, 0], extra_lr[1] = m, m, 1 / m, m
        else:
            lr[1:, 0] = 1 / m
    decay = 1 / lr if s.weight_decay_scaling == "width_invariant" else np.ones_like(lr)
    extra_decay = 1 / extra_lr if s.weight_decay_scaling == "width_invariant" else np.ones(2)
    blocks = (n_layers - 2) // s.block_size
    if s.parametrization == "depth_mup" and s.optimizer != "sgd":
        lr[1:-1] *= blocks**-0.5
        extra_lr[1] *= blocks**-0.5
    if s.parametrization == "completep":
        eps[1:-1] = extra_eps[1] = 1 / (m * blocks)
    return dict(lr=lr, decay=decay, eps=eps, extra_lr=extra_lr, extra_decay=extra_decay,
                extra_eps=extra_eps)  # fmt: skip


def reference(W, b, X, y, s, seed, extras=None):
    sizes = [X.shape[1], *(w.shape[0] for w in W)]
    rules = paper_rules(s, sizes)
    order = batch_order(seed, X.shape[0], min(s.batch_size, X.shape[0]), s.steps)
    residual = None
    if s.architecture == "residual":
        norm = s.norm == "layernorm"
        residual = {"block_size": s.block_size, "gates": extras["gates"],
                    "norm_gains": extras["norm_gains"] if norm else None,
                    "norm_biases": extras["norm_biases"] if norm else None,
                    "train_gates": s.branch_scaling == "gate", "extra_scale": rules["extra_lr"],
                    "extra_decay_scale": rules["extra_decay"],
                    "extra_eps_scale": rules["extra_eps"]}  # fmt: skip
    return naive.train(
        W, b, X, y, "tanh", "softmax_ce", 0.0, s.lr, s.momentum, order, s.batch_size, s.steps,
        weight_decay=s.weight_decay, optimizer=s.optimizer, eps=s.eps, lr_scale=rules["lr"],
        decay_scale=rules["decay"], eps_scale=rules["eps"], residual=residual,
    )  # fmt: skip


RESIDUAL = dict(architecture="residual", branch_scaling="depth_power")
CASES = {
    "depth-power-any-alpha": dict(
        RESIDUAL, lr=0.05, momentum=0.9, branch_exponent=0.75, branch_scale=1.5
    ),
    "depth-mup-sgd-layernorm": dict(
        RESIDUAL,
        parametrization="depth_mup",
        branch_exponent=0.5,
        lr=0.05,
        norm="layernorm",
        block_size=1,
    ),
    "depth-mup-adam-layernorm": dict(
        RESIDUAL,
        parametrization="depth_mup",
        branch_exponent=0.5,
        optimizer="adam",
        lr=0.01,
        norm="layernorm",
        eps=1e-3,
        weight_decay=0.05,
        weight_decay_scaling="width_invariant",
    ),
    "completep-adamw-layernorm": dict(
        RESIDUAL,
        parametrization="completep",
        optimizer="adamw",
        lr=0.01,
        eps=1e-3,
        weight_decay=0.1,
        norm="layernorm",
        weight_decay_scaling="width_invariant",
    ),
    "completep-adam-l2": dict(
        RESIDUAL,
        parametrization="completep",
        optimizer="adam",
        lr=0.01,
        eps=1e-2,
        weight_decay=0.05,
        block_size=1,
        weight_decay_scaling="width_invariant",
    ),
    "mup-sgd-width-invariant-layernorm": dict(
        architecture="residual",
        parametrization="mup",
        lr=0.05,
        momentum=0.5,
        weight_decay=0.02,
        norm="layernorm",
        branch_scaling="gate",
        weight_decay_scaling="width_invariant",
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_residual_training_matches_the_papers_rules(case):
    """N steps of each depth rule (branch multiplier, lr, eps, decay) equal the reference's N."""
    values = CASES[case]
    base = {} if values.get("parametrization", "sp") == "sp" else {"base_width": 3}
    s = TrainSettings(steps=15, batch_size=4, **values, **base)
    W, b, X, y, _ = make_residual("softmax_ce", blocks=2, block_size=s.block_size, width=6, n=20)
    sizes = [X.shape[1], *(w.shape[0] for w in W)]
    extras = {"gates": initial_extras(s, sizes, np.float64)[:2], "norm_gains": np.ones((2, 6)),
              "norm_biases": np.zeros((2, 6))}  # fmt: skip
    res = train(W, b, X, y, activation="tanh", loss="softmax_ce", seed=1, settings=s)
    ref_W, ref_b, ref_extras = reference(W, b, X, y, s, seed=1, extras=extras)
    assert res.status == "completed"
    for got, ref in zip(res.weights + res.biases, ref_W + ref_b):
        np.testing.assert_allclose(got, ref, **TIGHT)
    for name in ("gates", "norm_gains", "norm_biases") if s.norm == "layernorm" else ("gates",):
        np.testing.assert_allclose(res.extras[name], ref_extras[name], **TIGHT)


@pytest.mark.parametrize(
    "values",
    [dict(optimizer="adamw", weight_decay=0.1), dict(optimizer="adam", weight_decay=0.05),
     dict(lr=0.05, momentum=0.9, weight_decay=0.01)],
)  # fmt: skip
@pytest.mark.parametrize("parametrization", ["mup", "ntk"])
def test_plain_width_invariant_decay_matches_reference(values, parametrization):
    W, b, X, y = make_problem("softmax_ce", sizes=(4, 6, 6), n=20)
    s = TrainSettings(steps=15, batch_size=4, parametrization=parametrization, base_width=3,
                      weight_decay_scaling="width_invariant", **values)  # fmt: skip
    res = train(W, b, X, y, activation="tanh", loss="softmax_ce", seed=2, settings=s)
    if parametrization == "ntk":  # paper_rules writes muP's; ntk's are TP5's NTK: 1/r, r^-1/2
        sizes = [4, 6, 6, 3]
        layers, _ = optimizer_scales(s, sizes)
        lr = np.array([[1.0, 1.0], [0.5, 1.0], [0.5, 1.0]]) if s.optimizer == "sgd" else (
            np.array([[1.0, 1.0], [2**-0.5, 1.0], [2**-0.5, 1.0]]))  # fmt: skip
        np.testing.assert_allclose(layers[:, :, 0], lr, rtol=1e-15)
        np.testing.assert_allclose(layers[:, :, 1], 1 / lr, rtol=1e-15)
        return
    ref_W, ref_b = reference(W, b, X, y, s, seed=2)
    for got, ref in zip(res.weights + res.biases, ref_W + ref_b):
        np.testing.assert_allclose(got, ref, **TIGHT)


@pytest.mark.parametrize(
    ("parametrization", "optimizer"),
    [("mup", "sgd"), ("mup", "adam"), ("depth_mup", "sgd"), ("depth_mup", "adam"),
     ("completep", "adam"), ("completep", "adamw")],  # completep is Adam's: Dey et al. Table 1
)  # fmt: skip
@pytest.mark.parametrize("convention", ["layer_lr", "width_invariant"])
def test_optimizer_scales_are_the_papers_tables(parametrization, optimizer, convention):
    for width, blocks, block_size in ((8, 2, 2), (32, 5, 1), (64, 4, 2)):
        alpha = {"mup": 1.0, "depth_mup": 0.5, "completep": 1.0}[parametrization]
        s = TrainSettings(architecture="residual", branch_scaling="depth_power",
                          branch_exponent=alpha, parametrization=parametrization, base_width=4,
                          optimizer=optimizer, block_size=block_size,
                          weight_decay_scaling=convention)  # fmt: skip
        sizes = [5, *[width] * (1 + blocks * block_size), 3]
        layers, extras = optimizer_scales(s, sizes)
        rules = paper_rules(s, sizes)
        for index, name in enumerate(("lr", "decay", "eps")):
            np.testing.assert_allclose(layers[:, :, index], rules[name], rtol=1e-14)
            np.testing.assert_allclose(extras[:, index], rules[f"extra_{name}"], rtol=1e-14)


def one_step(s, W, b, X, y):
    return train(W, b, X, y, activation="tanh", loss="softmax_ce", settings=s)


@pytest.mark.parametrize("optimizer", ["adamw", "sgd"])
@pytest.mark.parametrize("convention", ["layer_lr", "width_invariant"])
def test_one_step_of_weight_decay_is_its_formula(optimizer, convention):
    """Full batch, one step, muP at 3x its base width, by hand in NumPy: AdamW
    W1 = W0 (1 - lr m lambda_l) - lr m g / (|g| + eps), SGD W1 = W0 - lr m (g + lambda_l W0),
    with lambda_l = lambda (layer_lr) or lambda / m (width_invariant), m the layer's lr
    multiplier (Table 3: Adam input 1, hidden and readout 1/3; SGD input 3, hidden 1,
    readout 1/3; biases Adam 1, SGD 3 but the readout's 1)."""
    W, b, X, y = make_problem("softmax_ce", sizes=(4, 12, 12), n=9)
    lr, decay, eps = 0.1, 0.3, 1e-8
    s = TrainSettings(steps=1, batch_size=9, log_points=2, parametrization="mup", base_width=4,
                      optimizer=optimizer, lr=lr, weight_decay=decay,
                      weight_decay_scaling=convention)  # fmt: skip
    _, dW, db = naive.loss_and_grads(W, b, X, y, "tanh", "softmax_ce", 0.0)
    m_w = [1.0, 1 / 3, 1 / 3] if optimizer == "adamw" else [3.0, 1.0, 1 / 3]
    m_b = [1.0, 1.0, 1.0] if optimizer == "adamw" else [3.0, 3.0, 1.0]
    res = one_step(s, W, b, X, y)
    without = one_step(TrainSettings.of(s, weight_decay=0.0), W, b, X, y)
    for got, bare, p, g, m in zip(res.weights + res.biases, without.weights + without.biases,
                                  W + b, dW + db, m_w + m_b):  # fmt: skip
        lam = decay if convention == "layer_lr" else decay / m
        if optimizer == "adamw":
            expected = p * (1 - lr * m * lam) - lr * m * g / (np.abs(g) + eps)
            # the decay's share of the step: lr m lambda_l W0; width_invariant: lr lambda W0
            shrink = lr * m * decay if convention == "layer_lr" else lr * decay
            np.testing.assert_allclose(bare - got, shrink * p, rtol=1e-9, atol=1e-14)
        else:
            expected = p - lr * m * (g + lam * p)
        np.testing.assert_allclose(got, expected, **TIGHT)


def test_depth_power_scales_branches_by_blocks_to_the_minus_alpha():
    sizes = [3, *[4] * 9, 2]  # 8 blocks of 1, or 4 of 2
    for block_size, blocks in ((1, 8), (2, 4)):
        for alpha in (0.0, 0.5, 1.0, 1.5):
            s = TrainSettings(
                architecture="residual",
                branch_scaling="depth_power",
                branch_exponent=alpha,
                branch_scale=2.0,
                block_size=block_size,
            )
            gates = initial_extras(s, sizes, np.float64)[:blocks]
            np.testing.assert_allclose(gates, 2.0 / blocks**alpha, rtol=1e-15)
    old = TrainSettings(architecture="residual", branch_scaling="inv_sqrt_blocks", branch_scale=2.0)
    assert initial_extras(old, sizes, np.float64)[0] == 2.0 / np.sqrt(4)  # as before, bit for bit


def test_sp_and_layer_lr_leave_every_multiplier_at_one():
    """The defaults step exactly as before the new rules: every multiplier is 1.0."""
    for s in (TrainSettings(), TrainSettings(architecture="residual", norm="layernorm",
                                             branch_scaling="gate")):  # fmt: skip
        layers, extras = optimizer_scales(s, [4, 6, 6, 6, 3])
        assert (layers == 1.0).all() and (extras == 1.0).all()


@pytest.mark.parametrize(
    ("values", "key"),
    [
        (dict(branch_exponent=0.5), "branch_exponent"),
        (dict(architecture="residual", branch_exponent=0.5), "branch_exponent"),
        (dict(architecture="residual", branch_scaling="gate", branch_exponent=0.5),
         "branch_exponent"),
        (dict(architecture="residual", branch_scaling="depth_power", branch_exponent=-1.0),
         "branch_exponent"),
        (dict(parametrization="completep", base_width=4, optimizer="adam"), "architecture"),
        (dict(parametrization="depth_mup", base_width=4, architecture="residual"),
         "branch_scaling"),
        (dict(parametrization="depth_mup", base_width=4, **RESIDUAL), "branch_scaling"),
        (dict(parametrization="completep", base_width=4, optimizer="adam", **RESIDUAL,
              branch_exponent=0.5), "branch_scaling"),
        (dict(parametrization="completep", base_width=4, **RESIDUAL), "optimizer"),
        (dict(parametrization="completep", base_width=4, optimizer="adamw", weight_decay=0.1,
              **RESIDUAL), "weight_decay_scaling"),
        (dict(parametrization="completep", optimizer="adam", **RESIDUAL), "base_width"),
        (dict(weight_decay_scaling="coupled"), "weight_decay_scaling"),
    ],
)  # fmt: skip
def test_nonsense_depth_settings_name_their_key(values, key):
    with pytest.raises(ValueError, match=rf"^{key}"):
        TrainSettings(**values)


def torch_groups(s, params, sizes):
    """torch.optim param groups written from the tables (TP5 Table 3 for Adam and SGD,
    Dey et al. Table 1 for CompleteP), as the mup package and nanoGPT-mup build them:
    {params, lr, weight_decay, eps}. ``params``: per layer (W, b), then the norms."""
    m = sizes[1] / s.base_width
    blocks = (len(sizes) - 3) // s.block_size
    invariant = s.weight_decay_scaling == "width_invariant"
    groups = []
    for layer, (w, b) in enumerate(params["layers"]):
        inside = 0 < layer < len(sizes) - 2
        eps = s.eps / (m * blocks) if s.parametrization == "completep" and inside else s.eps
        if s.optimizer == "sgd":  # MuSGD: input weights and hidden biases m, readout 1 / m
            lr_w = m if layer == 0 else 1 / m if layer == len(sizes) - 2 else 1.0
            lr_b = 1.0 if layer == len(sizes) - 2 else m
        else:  # MuAdam: matrix-like 1 / m (hidden and readout), vector-like 1
            lr_w, lr_b = (1.0 if layer == 0 else 1 / m), 1.0
        for p, lr in ((w, lr_w), (b, lr_b)):
            wd = s.weight_decay / lr if invariant else s.weight_decay
            groups.append({"params": [p], "lr": s.lr * lr, "weight_decay": wd, "eps": eps})
    for p in params["norms"]:  # pre-LN: lr m_L^(alpha - 1) = 1, eps of the residual blocks
        eps = s.eps / (m * blocks) if s.parametrization == "completep" else s.eps
        groups.append({"params": [p], "lr": s.lr, "weight_decay": s.weight_decay, "eps": eps})
    return groups


def torch_train(W, b, X, y, s, seed, gates=None):
    """The net in torch autograd (float64), stepped by torch.optim with torch_groups."""
    import torch

    t = lambda a: torch.tensor(np.asarray(a), dtype=torch.float64, requires_grad=True)  # noqa: E731
    layers = [(t(w), t(v)) for w, v in zip(W, b)]
    width, blocks = W[0].shape[0], len(W) - 2
    norms = [t(np.ones((blocks, width))), t(np.zeros((blocks, width)))] if gates is not None else []
    sizes = [X.shape[1], *(w.shape[0] for w in W)]
    groups = torch_groups(s, {"layers": layers, "norms": norms}, sizes)
    kind = {"sgd": torch.optim.SGD, "adam": torch.optim.Adam, "adamw": torch.optim.AdamW}
    extra = {"momentum": s.momentum} if s.optimizer == "sgd" else {"betas": (s.beta1, s.beta2)}
    if s.optimizer == "sgd":
        for g in groups:
            g.pop("eps")
    opt = kind[s.optimizer](groups, lr=s.lr, **extra)
    order = batch_order(seed, X.shape[0], s.batch_size, s.steps)
    Xt, yt = torch.tensor(X), torch.tensor(y)
    for step in range(s.steps):
        rows = torch.tensor(order[step])
        h = Xt[rows] @ layers[0][0].T + layers[0][1]
        if gates is not None:  # pre-LN residual blocks of one layer, branches times gates[j]
            for j in range(blocks):
                p = torch.nn.functional.layer_norm(h, (width,), norms[0][j], norms[1][j], 1e-5)
                h = h + gates[j] * (torch.tanh(p) @ layers[1 + j][0].T + layers[1 + j][1])
        else:
            for w, v in layers[1:-1]:
                h = torch.tanh(h) @ w.T + v
        out = torch.tanh(h) @ layers[-1][0].T + layers[-1][1]
        opt.zero_grad()
        torch.nn.functional.cross_entropy(out, yt[rows]).backward()
        opt.step()
    return [w.detach().numpy() for w, _ in layers] + [v.detach().numpy() for _, v in layers]


TORCH_CASES = {
    "completep-adamw": dict(RESIDUAL, parametrization="completep", optimizer="adamw", lr=0.01,
                            eps=1e-3, weight_decay=0.1, norm="layernorm", block_size=1,
                            weight_decay_scaling="width_invariant"),
    "mup-adamw-width-invariant": dict(parametrization="mup", optimizer="adamw", lr=0.01,
                                      weight_decay=0.1, weight_decay_scaling="width_invariant"),
    "mup-adamw-layer-lr": dict(parametrization="mup", optimizer="adamw", lr=0.01, weight_decay=0.1),
    "mup-sgd-width-invariant": dict(parametrization="mup", lr=0.05, momentum=0.5,
                                    weight_decay=0.02, weight_decay_scaling="width_invariant"),
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(TORCH_CASES))
def test_matches_torch_param_groups(case):
    """torch.optim with the tables' per-group lr, weight_decay and eps, on torch autograd's
    gradients: the kernels equal it to 1e-10 (float64)."""
    pytest.importorskip("torch", reason="optional reference: pip install torch (CPU)")
    s = TrainSettings(steps=12, batch_size=4, base_width=3, **TORCH_CASES[case])
    residual = s.architecture == "residual"
    if residual:
        W, b, X, y, _ = make_residual("softmax_ce", blocks=3, block_size=1, width=6, n=20)
    else:
        W, b, X, y = make_problem("softmax_ce", sizes=(4, 6, 6), n=20)
    sizes = [X.shape[1], *(w.shape[0] for w in W)]
    gates = initial_extras(s, sizes, np.float64)[:3] if residual else None
    res = train(W, b, X, y, activation="tanh", loss="softmax_ce", seed=4, settings=s)
    for got, ref in zip(res.weights + res.biases, torch_train(W, b, X, y, s, 4, gates)):
        np.testing.assert_allclose(got, ref, **TIGHT)


def test_a_sweep_gives_one_cell_where_the_new_settings_do_not_apply():
    """branch_exponent without depth_power, weight_decay_scaling without weight decay: one
    cell each (the planner's rule for unused settings); a depth study plans its cells."""
    from initbench.plan import plan

    study = {"datasets": ["digits"], "activations": ["relu"], "inits": ["he_normal"],
             "depths": [6], "widths": [8], "architecture": "residual", "optimizer": "adamw",
             "base_width": 4,
             "sweep": {"branch_scaling": ["fixed", "depth_power"], "branch_exponent": [0.5, 1.0],
                       "weight_decay": [0.0, 0.1],
                       "weight_decay_scaling": ["layer_lr", "width_invariant"]}}  # fmt: skip
    config = {"datasets": {"digits": {}}, "inits": {"he_normal": {"scheme": "he_normal"}},
              "studies": {"sweep": study}}  # fmt: skip
    cells = plan(config).cells.values()
    # (fixed, depth_power 0.5, depth_power 1) x (no decay, decay x 2 conventions)
    assert len(cells) == 3 * 3
    depth = dict(study, parametrization="completep", weight_decay=0.1,
                 weight_decay_scaling="width_invariant",
                 sweep={"branch_scaling": ["depth_power"], "lr": [0.01, 0.02]})  # fmt: skip
    config["studies"] = {"completep": depth}
    assert {c.training.parametrization for c in plan(config).cells.values()} == {"completep"}
