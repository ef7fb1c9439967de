"""Residual nets (engine/residual.py) against the NumPy reference and finite differences.

naive.residual_forward writes the net from its definition and naive.residual_loss_and_grads
its gradients by the chain rule; the kernels must match both, and central finite
differences of the reference's loss, in float64, for every built-in activation and loss.
"""

import naive
import numpy as np
import pytest
from problems import LOSS_OUTPUTS, make_residual

import initbench as ib
from initbench.engine.activations import ACTIVATIONS, get_activation
from initbench.engine.many import train_many
from initbench.engine.residual import extras_by_name, initial_extras
from initbench.engine.training import batch_order, loss_and_grads, train
from initbench.parametrizations import extra_lr_scales, lr_scales
from initbench.settings import TrainSettings

TIGHT = dict(rtol=1e-10, atol=1e-12)
EXTRAS = ("gates", "norm_gains", "norm_biases")


def kernel_grads(W, b, X, y, activation, loss, norm, block_size, extras):
    return loss_and_grads(
        W,
        b,
        X,
        y,
        activation=activation,
        loss=loss,
        architecture="residual",
        norm=norm,
        block_size=block_size,
        branch_scaling="gate",
        extras=extras,
    )


def reference_loss(W, b, X, y, activation, loss, norm, block_size, extras):
    alpha = get_activation(activation).alpha
    norms = (extras["norm_gains"], extras["norm_biases"]) if norm == "layernorm" else ()
    return naive.residual_loss(
        W, b, X, y, activation, loss, alpha, block_size, extras["gates"], *norms
    )


@pytest.mark.parametrize("loss", sorted(LOSS_OUTPUTS))
@pytest.mark.parametrize("activation", sorted(ACTIVATIONS))
def test_gradients_match_reference_and_finite_differences(activation, loss):
    """Every gradient (weights, biases, gates, norm gains and biases) of a LayerNorm residual
    net with 2-layer branches, against the reference's chain rule and central differences."""
    W, b, X, y, extras = make_residual(loss)
    args = (X, y, activation, loss, "layernorm", 2, extras)
    value, dW, db, d_extras = kernel_grads(W, b, *args)
    alpha = get_activation(activation).alpha
    ref_value, ref_dW, ref_db, ref_extras = naive.residual_loss_and_grads(
        W,
        b,
        X,
        y,
        activation,
        loss,
        alpha,
        2,
        extras["gates"],
        extras["norm_gains"],
        extras["norm_biases"],
    )
    assert value == pytest.approx(ref_value, rel=1e-12)
    assert value == pytest.approx(reference_loss(W, b, *args), rel=1e-12)
    for got, ref in zip(
        dW + db + [d_extras[k] for k in EXTRAS], ref_dW + ref_db + [ref_extras[k] for k in EXTRAS]
    ):
        np.testing.assert_allclose(got, ref, rtol=1e-9, atol=1e-12)

    params = W + b + [extras[k] for k in EXTRAS]
    grads = dW + db + [d_extras[k] for k in EXTRAS]
    rel = naive.finite_difference_mismatch(params, grads, lambda: reference_loss(W, b, *args))
    assert rel < 1e-6


@pytest.mark.parametrize(("norm", "block_size"), [("none", 1), ("none", 2), ("layernorm", 1)])
def test_other_blocks_match_reference(norm, block_size):
    W, b, X, y, extras = make_residual("softmax_ce", blocks=3, block_size=block_size)
    value, dW, db, d_extras = kernel_grads(
        W, b, X, y, "tanh", "softmax_ce", norm, block_size, extras
    )
    norms = (extras["norm_gains"], extras["norm_biases"]) if norm == "layernorm" else ()
    ref_value, ref_dW, ref_db, ref_extras = naive.residual_loss_and_grads(
        W, b, X, y, "tanh", "softmax_ce", 0.0, block_size, extras["gates"], *norms
    )
    assert value == pytest.approx(ref_value, rel=1e-12)
    for got, ref in zip(dW + db + [d_extras["gates"]], ref_dW + ref_db + [ref_extras["gates"]]):
        np.testing.assert_allclose(got, ref, rtol=1e-9, atol=1e-12)
    if norm == "none":  # the norms' parameters are not used: no gradient
        assert not d_extras["norm_gains"].any() and not d_extras["norm_biases"].any()


def test_a_residual_net_with_no_branch_is_its_input_and_readout():
    """Gates at 0: out = W_out phi(W_in x + b_in) + b_out, whatever the blocks hold."""
    W, b, X, y, extras = make_residual("mse")
    extras["gates"][:] = 0
    out_ref = naive.activation("relu", X @ W[0].T + b[0], 0.0)[0] @ W[-1].T + b[-1]
    got = naive.residual_forward(W, b, X, "relu", 0.0, 2, extras["gates"])
    np.testing.assert_allclose(got, out_ref, rtol=1e-14)
    value = kernel_grads(W, b, X, y, "relu", "mse", "none", 2, extras)[0]
    assert value == pytest.approx(naive.loss("mse", out_ref, y)[0], rel=1e-12)


CASES = {
    "sgd-fixed": dict(lr=0.05, momentum=0.9),
    "sgd-inv-sqrt-layernorm": dict(
        lr=0.05, branch_scaling="inv_sqrt_blocks", norm="layernorm", weight_decay=0.01
    ),
    "adam-gate-layernorm": dict(
        optimizer="adam",
        lr=0.01,
        branch_scaling="gate",
        norm="layernorm",
        schedule="cosine",
        warmup_steps=3,
    ),
    "adamw-gate-block1": dict(
        optimizer="adamw", lr=0.01, branch_scaling="gate", block_size=1, weight_decay=0.1
    ),
    "sgd-mup-layernorm": dict(lr=0.05, norm="layernorm", parametrization="mup", base_width=2),
    "adam-layernorm-final": dict(
        optimizer="adam", lr=0.01, norm="layernorm", final_norm="layernorm", weight_decay=0.01
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_training_matches_reference(case):
    """N steps of a residual net (gates, norms, optimizers, parametrizations) equal the
    reference's N, extras included."""
    settings = TrainSettings(architecture="residual", steps=20, batch_size=4, **CASES[case])
    W, b, X, y, _ = make_residual("softmax_ce", blocks=2, block_size=settings.block_size, n=20)
    res = train(W, b, X, y, activation="tanh", loss="softmax_ce", seed=1, settings=settings)
    assert res.status == "completed"
    sizes = [X.shape[1], *(w.shape[0] for w in W)]
    start = {"gate": 0.0, "fixed": 1.0, "inv_sqrt_blocks": 1 / np.sqrt(2)}[settings.branch_scaling]
    norm = settings.norm == "layernorm"
    final = settings.final_norm == "layernorm"
    ref_W, ref_b, ref_extras = naive.train(
        W,
        b,
        X,
        y,
        "tanh",
        "softmax_ce",
        0.0,
        settings.lr,
        settings.momentum,
        batch_order(1, 20, 4, 20),
        4,
        20,
        weight_decay=settings.weight_decay,
        optimizer=settings.optimizer,
        lr_scale=lr_scales(
            settings.parametrization, settings.optimizer, sizes, settings.base_width
        ),
        residual={
            "block_size": settings.block_size,
            "gates": np.full(2, start),
            "norm_gains": np.ones((2, 5)) if norm else None,
            "norm_biases": np.zeros((2, 5)) if norm else None,
            "final_gain": np.ones(5) if final else None,
            "final_bias": np.zeros(5) if final else None,
            "train_gates": settings.branch_scaling == "gate",
            "extra_scale": extra_lr_scales(
                settings.parametrization, settings.optimizer, sizes, settings.base_width
            ),
        },
        schedule=settings.schedule,
        warmup_steps=settings.warmup_steps,
    )
    for got, ref in zip(res.weights + res.biases, ref_W + ref_b):
        np.testing.assert_allclose(got, ref, **TIGHT)
    np.testing.assert_allclose(res.extras["gates"], ref_extras["gates"], **TIGHT)
    for name in ("norm_gains", "norm_biases") * norm + ("final_gain", "final_bias") * final:
        np.testing.assert_allclose(res.extras[name], ref_extras[name], **TIGHT)
    if final:  # the final norm trained away from its gain 1 and bias 0
        assert (res.extras["final_gain"] != 1).all() and (res.extras["final_bias"] != 0).all()
    if settings.branch_scaling == "gate":
        assert (res.extras["gates"] != 0).all()  # the gates trained from 0


def test_block_metrics_are_logged_per_block():
    """branch_ratio, gate and norm gain stats sit on each block's last dense layer, and
    agree with the net they describe at step 0."""
    W, b, X, y, _ = make_residual("softmax_ce", blocks=2, block_size=2, n=20)
    res = train(
        W,
        b,
        X,
        y,
        activation="tanh",
        loss="softmax_ce",
        architecture="residual",
        norm="layernorm",
        branch_scale=0.5,
        steps=3,
        batch_size=20,
        log_points=3,
    )
    first = res.layers[res.layers.step == 0].set_index("layer")
    block_rows = [3, 5]  # 1-based: the last dense layer of blocks 0 and 1
    assert first.loc[block_rows, "gate"].tolist() == [0.5, 0.5]
    assert first.loc[block_rows, "norm_gain_mean"].tolist() == [1.0, 1.0]
    assert first.drop(block_rows)[["gate", "branch_ratio", "norm_gain_mean"]].isna().all().all()
    # block 0: ||0.5 branch|| / ||h_0|| from the reference's own pieces
    h0 = X @ W[0].T + b[0]
    p = (h0 - h0.mean(1, keepdims=True)) / np.sqrt(h0.var(1, keepdims=True) + 1e-5)
    branch = np.tanh(np.tanh(p) @ W[1].T + b[1]) @ W[2].T + b[2]
    expected = 0.5 * np.linalg.norm(branch) / np.linalg.norm(h0)
    assert first.loc[3, "branch_ratio"] == pytest.approx(expected, rel=1e-10)
    plain = train(
        W[:2] + W[-1:], b[:2] + b[-1:], X, y, activation="tanh", loss="softmax_ce", steps=2
    )
    assert plain.layers[["branch_ratio", "gate"]].isna().all().all() and plain.extras == {}


def test_train_many_residual_equals_train():
    W, b, X, y, _ = make_residual("softmax_ce", n=20)
    kw = dict(
        activation="relu",
        loss="softmax_ce",
        architecture="residual",
        norm="layernorm",
        branch_scaling="gate",
        optimizer="adam",
        lr=0.01,
        steps=8,
        batch_size=4,
    )
    got = train_many([(W, b), (W, b)], X, y, seeds=[0, 1], threads=2, **kw)
    for seed, res in enumerate(got):
        alone = train(W, b, X, y, seed=seed, **kw)
        for a, c in zip(
            res.weights + [res.extras["gates"]], alone.weights + [alone.extras["gates"]]
        ):
            np.testing.assert_array_equal(a, c)


@pytest.mark.parametrize(
    ("hidden", "values", "message"),
    [
        ((5, 5, 4), dict(), r"share one width, got \[5, 5, 4\]"),
        ((5, 5), dict(), "block_size 2: a residual net's 3 weight layers"),
        ((5, 5, 5, 5), dict(), "block_size 2: a residual net's 5 weight layers"),
        ((5, 5, 5), dict(block_size=3), "block_size: a branch has 1 or 2 dense layers"),
        ((5, 5, 5), dict(branch_scaling="gate", branch_scale=0.5), "^branch_scale: a gate"),
    ],
)
def test_bad_residual_shapes_name_their_key(hidden, values, message):
    rng = np.random.default_rng(0)
    sizes = [3, *hidden, 2]
    W = [rng.normal(size=(o, i)) for i, o in zip(sizes, sizes[1:])]
    b = [np.zeros(o) for o in sizes[1:]]
    X, y = rng.normal(size=(6, 3)), np.arange(6) % 2
    with pytest.raises(ValueError, match=message):
        train(W, b, X, y, activation="relu", loss="softmax_ce", architecture="residual", **values)


@pytest.mark.parametrize("key", ["block_size", "norm", "branch_scaling", "branch_scale"])
def test_residual_settings_on_a_plain_net_name_their_key(key):
    value = {"block_size": 1, "norm": "layernorm", "branch_scaling": "gate", "branch_scale": 2.0}
    with pytest.raises(ValueError, match=rf"^{key}: applies to architecture residual only"):
        TrainSettings(**{key: value[key]})


def test_extras_can_be_given_and_are_checked():
    W, b, X, y, extras = make_residual("softmax_ce")
    kw = dict(activation="tanh", loss="softmax_ce", architecture="residual", norm="layernorm")
    with pytest.raises(ValueError, match=r"extras\['gates'\] has shape \(3,\); expected \(2,\)"):
        loss_and_grads(W, b, X, y, extras={"gates": np.ones(3)}, **kw)
    with pytest.raises(ValueError, match="unknown extra 'gate'"):
        loss_and_grads(W, b, X, y, extras={"gate": np.ones(2)}, **kw)
    with pytest.raises(ValueError, match="extras apply to architecture residual only"):
        ib.train(
            W[:1] + W[-1:],
            b[:1] + b[-1:],
            X,
            y,
            activation="tanh",
            loss="softmax_ce",
            extras={"gates": np.ones(2)},
        )


FINAL = ("final_gain", "final_bias")


def with_final_norm(loss, seed=0):
    """make_residual's net with a random final norm (gain and bias) in its extras."""
    W, b, X, y, extras = make_residual(loss, seed=seed)
    rng = np.random.default_rng(seed + 1)
    width = extras["norm_gains"].shape[1]
    extras.update(final_gain=rng.normal(1, 0.3, width), final_bias=rng.normal(0, 0.3, width))
    return W, b, X, y, extras


@pytest.mark.parametrize("loss", sorted(LOSS_OUTPUTS))
@pytest.mark.parametrize("activation", ["relu", "tanh"])
def test_final_norm_gradients_match_reference_and_finite_differences(activation, loss):
    """A pre-LN net with a final LayerNorm (final_norm): its loss and every gradient, the
    final gain's and bias' included, against the reference's chain rule and central
    differences in float64."""
    W, b, X, y, extras = with_final_norm(loss)
    value, dW, db, d_extras = loss_and_grads(
        W, b, X, y, activation=activation, loss=loss, architecture="residual", norm="layernorm",
        final_norm="layernorm", branch_scaling="gate", extras=extras,
    )  # fmt: skip
    alpha = get_activation(activation).alpha
    norms = (extras["norm_gains"], extras["norm_biases"])
    final = (extras["final_gain"], extras["final_bias"])
    ref_value, ref_dW, ref_db, ref_extras = naive.residual_loss_and_grads(
        W, b, X, y, activation, loss, alpha, 2, extras["gates"], *norms, final=final
    )
    assert value == pytest.approx(ref_value, rel=1e-12)
    names = EXTRAS + FINAL
    for got, ref in zip(dW + db + [d_extras[k] for k in names],
                        ref_dW + ref_db + [ref_extras[k] for k in names]):  # fmt: skip
        np.testing.assert_allclose(got, ref, rtol=1e-9, atol=1e-12)
    assert np.abs(d_extras["final_gain"]).max() > 1e-6  # the final norm is on the path

    def reference():
        return naive.residual_loss(
            W, b, X, y, activation, loss, alpha, 2, extras["gates"], *norms, final=final
        )

    params = W + b + [extras[k] for k in names]
    grads = dW + db + [d_extras[k] for k in names]
    assert naive.finite_difference_mismatch(params, grads, reference) < 1e-6


def test_final_norm_matches_torch_layer_norm():
    """The same net in torch autograd (float64, torch.nn.functional.layer_norm before the
    readout): loss and every gradient."""
    torch = pytest.importorskip("torch", reason="optional reference: pip install torch (CPU)")
    W, b, X, y, extras = with_final_norm("softmax_ce")
    value, dW, db, d_extras = loss_and_grads(
        W, b, X, y, activation="tanh", loss="softmax_ce", architecture="residual",
        norm="layernorm", final_norm="layernorm", branch_scaling="gate", extras=extras,
    )  # fmt: skip
    t = lambda a: torch.tensor(np.asarray(a), dtype=torch.float64, requires_grad=True)  # noqa: E731
    Wt, bt = [t(w) for w in W], [t(v) for v in b]
    ext = {k: t(v) for k, v in extras.items()}
    width = W[0].shape[0]
    h = torch.tensor(X) @ Wt[0].T + bt[0]
    for j in range(2):
        p = torch.nn.functional.layer_norm(
            h, (width,), ext["norm_gains"][j], ext["norm_biases"][j], 1e-5
        )
        a = torch.tanh(torch.tanh(p) @ Wt[1 + 2 * j].T + bt[1 + 2 * j]) @ Wt[2 + 2 * j].T
        h = h + ext["gates"][j] * (a + bt[2 + 2 * j])
    top = torch.nn.functional.layer_norm(h, (width,), ext["final_gain"], ext["final_bias"], 1e-5)
    out = torch.tanh(top) @ Wt[-1].T + bt[-1]
    loss = torch.nn.functional.cross_entropy(out, torch.tensor(y))
    loss.backward()
    assert value == pytest.approx(loss.item(), rel=1e-12)
    for got, ref in zip(dW + db + [d_extras[k] for k in EXTRAS + FINAL],
                        Wt + bt + [ext[k] for k in EXTRAS + FINAL]):  # fmt: skip
        np.testing.assert_allclose(got, ref.grad.numpy(), rtol=1e-9, atol=1e-12)


def test_without_a_final_norm_the_extras_are_as_before():
    """final_norm none (the default) adds no extras, so every earlier run keeps its
    numbers; layernorm appends a gain 1 and a bias 0 of the width; it needs the blocks' norm."""
    W, b, X, y, _ = make_residual("softmax_ce")
    kw = dict(activation="tanh", loss="softmax_ce", architecture="residual", norm="layernorm")
    before = loss_and_grads(W, b, X, y, **kw)
    same = loss_and_grads(W, b, X, y, final_norm="none", **kw)
    assert set(before[3]) == set(EXTRAS) and before[0] == same[0]
    settings = TrainSettings(architecture="residual", norm="layernorm", final_norm="layernorm")
    sizes = [X.shape[1], *(w.shape[0] for w in W)]
    final = extras_by_name(initial_extras(settings, sizes, np.float64), 2, 5)
    assert set(final) == set(EXTRAS + FINAL)
    np.testing.assert_array_equal(final["final_gain"], np.ones(5))
    np.testing.assert_array_equal(final["final_bias"], np.zeros(5))
    with pytest.raises(ValueError, match="^final_norm: a final norm ends a pre-norm net"):
        TrainSettings(architecture="residual", final_norm="layernorm")
    with pytest.raises(ValueError, match="^final_norm: applies to architecture residual only"):
        TrainSettings(final_norm="layernorm")
