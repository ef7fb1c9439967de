"""Init schemes: sample statistics against the torch/Keras formulas, registry and errors."""

import dataclasses
import math

import numpy as np
import pytest

from initbench import inits, theory
from initbench.engine.activations import get_activation
from initbench.inits import INITS, init_params

FAN_IN, FAN_OUT = 300, 400
LEAKY_05 = dataclasses.replace(get_activation("leaky_relu"), alpha=0.5)


def draw(scheme, activation="relu", sizes=(FAN_IN, FAN_OUT), **params):
    Ws, bs = init_params(scheme, list(sizes), activation=activation, seed=1, **params)
    return Ws[0], bs[0]


def assert_moments(x, std, kurtosis):
    """Mean 0 and std ``std`` within 5 standard errors (SE of s uses the kurtosis)."""
    n = x.size
    assert abs(x.mean()) < 5 * std / math.sqrt(n)
    assert x.std() == pytest.approx(std, rel=5 * math.sqrt((kurtosis - 1) / (4 * n)))


# (scheme, activation, params, std of W, uniform bound or None)
U, N = math.sqrt(3.0), None
CASES = [
    ("uniform", "relu", {}, 0.01 / U, 0.01),
    ("uniform", "relu", {"eps": 0.3}, 0.3 / U, 0.3),
    ("normal", "relu", {}, 0.01, N),
    ("normal", "relu", {"std": 10}, 10.0, N),
    ("xavier_uniform", "tanh", {}, math.sqrt(2 / 700), math.sqrt(6 / 700)),
    (
        "xavier_uniform",
        "tanh",
        {"gain": 5 / 3},
        5 / 3 * math.sqrt(2 / 700),
        5 / 3 * (6 / 700) ** 0.5,
    ),
    ("xavier_normal", "tanh", {}, math.sqrt(2 / 700), N),
    ("xavier_normal", "tanh", {"gain": 2.0}, 2 * math.sqrt(2 / 700), N),
    ("he_uniform", "relu", {}, math.sqrt(2 / 300), math.sqrt(6 / 300)),
    ("he_uniform", "relu", {"mode": "fan_out"}, math.sqrt(2 / 400), math.sqrt(6 / 400)),
    ("he_normal", "relu", {}, math.sqrt(2 / 300), N),
    ("he_normal", "tanh", {}, math.sqrt(2 / 300), N),  # He's gain is relu's, whatever phi
    ("he_normal", "relu", {"mode": "fan_out", "gain": 1.0}, math.sqrt(1 / 400), N),
    ("he_normal", "leaky_relu", {}, math.sqrt(2 / (1 + 0.01**2) / 300), N),
    ("he_normal", LEAKY_05, {}, math.sqrt(2 / 1.25 / 300), N),
    ("he_uniform", LEAKY_05, {}, math.sqrt(2 / 1.25 / 300), math.sqrt(6 / 1.25 / 300)),
    ("lecun_uniform", "selu", {}, math.sqrt(1 / 300), math.sqrt(3 / 300)),
    ("lecun_normal", "selu", {}, math.sqrt(1 / 300), N),
    ("torch_default", "relu", {}, 1 / math.sqrt(900), 1 / math.sqrt(300)),
    ("mean_field", "tanh", {"sigma_w2": 1.5}, math.sqrt(1.5 / 300), N),
    ("mean_field", "tanh", {"sigma_w2": 1.5, "sigma_b2": 0.05}, math.sqrt(1.5 / 300), N),
    ("critical", "relu", {"sigma_b2": 0.0}, math.sqrt(2 / 300), N),  # He
    ("critical", "relu", {}, math.sqrt(2 / 300), N),
    ("critical", "tanh", {}, math.sqrt(1.7609546 / 300), N),
    ("glorot_standard", "tanh", {}, 1 / math.sqrt(900), 1 / math.sqrt(300)),
    ("glorot_standard", "sigmoid", {}, 1 / math.sqrt(900), 1 / math.sqrt(300)),
]
BIAS_VAR = {"torch_default": 1 / 900, "critical": 0.05}  # default bias variance of a scheme


@pytest.mark.parametrize("scheme, activation, params, std, bound", CASES)
def test_weight_statistics(scheme, activation, params, std, bound):
    W, b = draw(scheme, activation, **params)
    assert W.shape == (FAN_OUT, FAN_IN) and b.shape == (FAN_OUT,)
    assert_moments(W, std, kurtosis=3.0 if bound is None else 1.8)
    if bound is not None:
        assert np.abs(W).max() <= bound
        assert np.abs(W).max() > bound * (1 - 1e-3)  # the full range is used
    bias_var = params.get("sigma_b2", BIAS_VAR.get(scheme, 0.0))
    if bias_var == 0:
        assert not b.any()
    else:
        assert_moments(b, math.sqrt(bias_var), kurtosis=3.0 if bound is None else 1.8)


def test_biases_of_torch_default_and_mean_field():
    _, b = draw("torch_default", sizes=(FAN_IN, 4000))
    assert np.abs(b).max() <= 1 / math.sqrt(FAN_IN)
    assert_moments(b, 1 / math.sqrt(3 * FAN_IN), kurtosis=1.8)
    _, b = draw("mean_field", "tanh", sizes=(FAN_IN, 4000), sigma_w2=1.0, sigma_b2=0.3)
    assert_moments(b, math.sqrt(0.3), kurtosis=3.0)


@pytest.mark.parametrize("scale, mode, fan", [(1.0, "fan_in", 300), (2.0, "fan_out", 400)])
def test_truncated_normal(scale, mode, fan):
    W, _ = draw("truncated_normal", scale=scale, mode=mode)
    untruncated = math.sqrt(scale / fan) / 0.87962566103423978
    assert np.abs(W).max() <= 2 * untruncated
    assert np.abs(W).max() > 1.99 * untruncated
    assert_moments(W, math.sqrt(scale / fan), kurtosis=3.0)  # truncation lowers the kurtosis


@pytest.mark.parametrize("gain", [1.0, 1.5])
@pytest.mark.parametrize("sizes", [(FAN_IN, FAN_OUT), (FAN_OUT, FAN_IN), (50, 50)])
def test_orthogonal(sizes, gain):
    W, b = draw("orthogonal", sizes=sizes, gain=gain)
    fan_out, fan_in = W.shape
    gram = W @ W.T if fan_out <= fan_in else W.T @ W  # rows, else columns, orthonormal
    np.testing.assert_allclose(gram, gain**2 * np.eye(min(W.shape)), atol=1e-12)
    assert not b.any()


@pytest.mark.parametrize("activation, gain2", [("relu", 2.0), ("tanh", 2.0), (LEAKY_05, 1.6)])
def test_orthogonal_he_gain_is_hes_per_activation(activation, gain2):
    W, _ = draw("orthogonal", activation, sizes=(50, 50), gain="he")
    np.testing.assert_allclose(W @ W.T, gain2 * np.eye(50), atol=1e-12)
    with pytest.raises(ValueError, match="gain must be .* or 'he', got 'msra'"):
        draw("orthogonal", sizes=(50, 50), gain="msra")


def test_orthogonal_sign_fix_makes_r_positive():
    rng = np.random.default_rng(0)
    A = rng.standard_normal((6, 4))
    W = inits.orthogonal(np.random.default_rng(0), 6, 4, activation=None)
    np.testing.assert_allclose(W.T @ A, np.triu(W.T @ A), atol=1e-12)  # R = Q^T A
    assert (np.diag(W.T @ A) > 0).all()


def test_zeros_and_constant_are_symmetric():
    Ws, bs = init_params("zeros", [5, 7, 3])
    assert all(not W.any() for W in Ws) and all(not b.any() for b in bs)
    for value in (0.5, -0.3):
        Ws, bs = init_params("constant", [5, 7, 3], value=value)
        assert all(np.all(w == value) for w in Ws) and all(not b.any() for b in bs)
    assert INITS["constant"].params == {"value": 0.5}


def test_critical_is_mean_field_at_the_critical_sigma_w2():
    sw2 = theory.critical_sigma_w2("tanh", 0.05)
    assert INITS["critical"].params == {"sigma_b2": 0.05, "weights": "normal"}
    a = init_params("critical", [20, 30, 30, 4], activation="tanh", seed=5)
    b = init_params(
        "mean_field", [20, 30, 30, 4], activation="tanh", seed=5, sigma_w2=sw2, sigma_b2=0.05
    )
    for x, y in zip(a[0] + a[1], b[0] + b[1], strict=True):
        np.testing.assert_array_equal(x, y)


# Every built-in activation under the default critical init: its sigma_w2, or why none.
CRITICAL_DEFAULT = {
    "linear": 1.0, "relu": 2.0, "leaky_relu": 2 / (1 + 0.01**2), "tanh": 1.7610, "elu": 1.5337,
    "selu": 0.9018, "sigmoid": "above 100", "softplus": "only as q", "gelu": "jumps across 1",
    "silu": "jumps across 1",
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(CRITICAL_DEFAULT))
def test_critical_default_for_every_builtin_activation(name):
    expected = CRITICAL_DEFAULT[name]
    if isinstance(expected, str):
        with pytest.raises(ValueError, match=f"'critical'.*'{name}' at sigma_b2=0.05.*{expected}"):
            init_params("critical", [4, 4], activation=name)
        return
    Ws, bs = init_params("critical", [FAN_IN, FAN_OUT, FAN_OUT], activation=name, seed=2)
    sw2 = float(np.mean([W.var() * W.shape[1] for W in Ws]))
    assert sw2 == pytest.approx(expected, rel=0.02)  # sample variance of 240,000 draws
    assert theory.chi1(name, theory.critical_point(name, 0.05)[0], 0.05) == pytest.approx(
        1, abs=1e-6
    )
    assert np.concatenate(bs).var() == pytest.approx(0.05, rel=0.25)  # 5 SE of 800 draws


def test_critical_at_zero_bias_is_he_for_relu_and_an_error_for_tanh():
    np.testing.assert_array_equal(
        init_params("critical", [5, 6], sigma_b2=0.0, seed=1)[0][0],
        init_params("mean_field", [5, 6], sigma_w2=2.0, seed=1)[0][0],
    )
    with pytest.raises(ValueError, match="'tanh' at sigma_b2=0.0 is degenerate.*pass sigma_b2 > 0"):
        init_params("critical", [5, 6], activation="tanh", sigma_b2=0.0)


def lsuv_variances(Ws, bs, X, activation):
    A, out = X[: inits.LSUV_MAX_ROWS], []
    for i, (W, b) in enumerate(zip(Ws, bs, strict=True)):
        Z = A @ W.T + b
        out.append(Z.var())
        A = get_activation(activation)(Z)[0] if i < len(Ws) - 1 else Z
    return np.array(out)


@pytest.mark.parametrize("activation", ["relu", "tanh", "sigmoid", "selu"])
def test_lsuv_unit_variance(activation):
    X = 3.0 * np.random.default_rng(7).standard_normal((700, 20)) + 1.0
    sizes = [20, 64, 64, 32, 64, 10]
    Ws, bs = init_params("lsuv", sizes, activation=activation, X=X)
    assert np.abs(lsuv_variances(Ws, bs, X, activation) - 1).max() < 0.1
    Ws, bs = init_params("lsuv", sizes, activation=activation, X=X, tol=0.01)
    assert np.abs(lsuv_variances(Ws, bs, X, activation) - 1).max() < 0.01
    for W in Ws:  # scaled orthogonal matrices
        gram = W @ W.T if W.shape[0] <= W.shape[1] else W.T @ W
        np.testing.assert_allclose(gram, gram[0, 0] * np.eye(len(gram)), atol=1e-10)


def test_lsuv_uses_the_first_512_rows_and_needs_x():
    X = np.random.default_rng(0).standard_normal((600, 8))
    Y = X.copy()
    Y[inits.LSUV_MAX_ROWS :] = 1e6
    a, b = init_params("lsuv", [8, 16, 2], X=X), init_params("lsuv", [8, 16, 2], X=Y)
    for x, y in zip(a[0], b[0], strict=True):
        np.testing.assert_array_equal(x, y)
    with pytest.raises(ValueError, match="'lsuv'.*X is required"):
        init_params("lsuv", [8, 16, 2])
    with pytest.raises(ValueError, match="X must have shape"):
        init_params("lsuv", [8, 16, 2], X=X[:, :3])
    with pytest.raises(ValueError, match="max_iter"):
        init_params("lsuv", [8, 16, 2], X=X, max_iter=0)


def scheme_kwargs(name):
    residual = {"architecture": "residual", "block_size": 2}
    return {"mean_field": {"sigma_w2": 2.0}, "fixup": residual}.get(name, {})


@pytest.mark.parametrize("scheme", sorted(INITS))
def test_determinism_dtype_and_layout(scheme):
    residual = scheme_kwargs(scheme).get("architecture") == "residual"
    sizes = [6, 9, 9, 9, 2] if residual else [6, 9, 5, 2]
    X = np.random.default_rng(0).standard_normal((40, 6))
    kw = {"activation": "tanh", "X": X, **scheme_kwargs(scheme)}
    Ws, bs = init_params(scheme, sizes, seed=3, **kw)
    Ws2, bs2 = init_params(scheme, sizes, seed=3, **kw)
    Ws3, _ = init_params(scheme, sizes, seed=4, **kw)
    Wf, bf = init_params(scheme, sizes, seed=3, dtype="float32", **kw)
    assert [W.shape for W in Ws] == [(o, i) for i, o in zip(sizes, sizes[1:])]
    assert [b.shape for b in bs] == [(o,) for o in sizes[1:]]
    for W, W2, W32 in zip(Ws + bs, Ws2 + bs2, Wf + bf, strict=True):
        np.testing.assert_array_equal(W, W2)
        assert W.dtype == np.float64 and W32.dtype == np.float32
        assert W.flags.c_contiguous and W32.flags.c_contiguous
        np.testing.assert_array_equal(W32, W.astype(np.float32))
    if scheme not in ("zeros", "constant"):
        assert not np.array_equal(Ws[0], Ws3[0])


@pytest.mark.parametrize(
    "scheme, params, match",
    [
        ("xavier_unifrom", {}, "unknown init scheme 'xavier_unifrom' .*'xavier_uniform'"),
        ("normal", {"gain": 1.0}, "unknown param 'gain' for init scheme 'normal'"),
        ("lecun_normal", {"gain": 1.0}, "unknown param 'gain' for init scheme 'lecun_normal'"),
        ("normal", {"std": -1.0}, "'normal': std must be"),
        ("uniform", {"eps": float("nan")}, "'uniform': eps must be"),
        ("xavier_normal", {"gain": "big"}, "gain must be"),
        ("he_normal", {"mode": "fan_sideways"}, "mode must be"),
        ("truncated_normal", {"scale": -2.0}, "scale must be"),
        ("mean_field", {}, "'mean_field' needs param 'sigma_w2'"),
        ("mean_field", {"sigma_w2": 1.0, "sigma_b2": -0.1}, "sigma_b2 must be"),
        ("critical", {"sigma_b2": -1.0}, "sigma_b2 must be"),
        ("constant", {"value": float("inf")}, "value must be"),
        ("lsuv", {"tol": -0.1, "X": np.ones((4, 3))}, "tol must be"),
    ],
)
def test_errors_name_the_scheme_and_param(scheme, params, match):
    with pytest.raises(ValueError, match=match):
        init_params(scheme, [3, 4, 2], **params)


def test_other_bad_arguments():
    with pytest.raises(ValueError, match="dtype"):
        init_params("normal", [3, 4], dtype="int32")
    with pytest.raises(ValueError, match="sizes"):
        init_params("normal", [3])
    with pytest.raises(ValueError, match="sizes"):
        init_params("normal", [3, 0, 2])
    with pytest.raises(ValueError, match="unknown activation 'tahn'"):
        init_params("normal", [3, 4], activation="tahn")


def test_registering_a_scheme_is_one_decorated_function():
    try:

        @inits.layer_init("test_ones")
        def ones(rng, fan_out, fan_in, *, activation, scale=1.0, bias=0.0):
            return np.full((fan_out, fan_in), scale), np.full(fan_out, bias)

        @inits.network_init("test_net")
        def net(rng, sizes, *, activation, X):
            return [np.eye(o, i) for i, o in zip(sizes[:-1], sizes[1:], strict=True)], [
                np.zeros(o) for o in sizes[1:]
            ]

        assert INITS["test_ones"].params == {"scale": 1.0, "bias": 0.0}
        assert INITS["test_ones"].per_layer and not INITS["test_net"].per_layer
        Ws, bs = init_params("test_ones", [2, 3], scale=2.0, bias=1.0, dtype="float32")
        assert (Ws[0] == 2).all() and (bs[0] == 1).all() and Ws[0].dtype == np.float32
        with pytest.raises(ValueError, match="unknown param 'gain' for init scheme 'test_ones'"):
            init_params("test_ones", [2, 3], gain=1.0)
        Ws, _ = init_params("test_net", [3, 3, 2])
        np.testing.assert_array_equal(Ws[1], np.eye(2, 3))
    finally:
        INITS.pop("test_ones", None)
        INITS.pop("test_net", None)


def test_matches_torch_statistics():
    torch = pytest.importorskip("torch", reason="torch is an optional reference")
    t = torch.empty(FAN_OUT, FAN_IN, dtype=torch.float64)
    torch.manual_seed(0)
    ours = {
        "xavier_uniform": draw("xavier_uniform")[0],
        "kaiming_normal_": draw("he_normal")[0],
        "kaiming_uniform_": draw("he_uniform", LEAKY_05)[0],
    }
    theirs = {
        "xavier_uniform": torch.nn.init.xavier_uniform_(t.clone()),
        "kaiming_normal_": torch.nn.init.kaiming_normal_(t.clone(), nonlinearity="relu"),
        "kaiming_uniform_": torch.nn.init.kaiming_uniform_(t.clone(), a=0.5),
    }
    for key, W in ours.items():
        ref = theirs[key].numpy()
        assert W.std() == pytest.approx(ref.std(), rel=0.02)
        if "uniform" in key:
            assert np.abs(W).max() == pytest.approx(np.abs(ref).max(), rel=0.002)
    lin = torch.nn.Linear(FAN_IN, FAN_OUT)
    W, b = draw("torch_default")
    assert W.std() == pytest.approx(lin.weight.detach().numpy().std(), rel=0.02)
    assert np.abs(lin.bias.detach().numpy()).max() <= 1 / math.sqrt(FAN_IN)


def test_fixup_zeroes_each_branch_end_and_rescales_the_rest():
    """Zhang et al. 2019: with L branches of m layers, the branches' last layers and the
    readout are 0 and their other layers are He's draw times L^(-1/(2m-2))."""
    blocks, m = 4, 2
    sizes = [5, *[64] * (1 + blocks * m), 3]
    Ws, _ = init_params("fixup", sizes, seed=0, architecture="residual", block_size=m)
    he, _ = init_params("he_normal", sizes, seed=0)
    for j in range(blocks):
        first, last = 1 + j * m, j * m + m
        np.testing.assert_allclose(Ws[first], he[first] * blocks ** (-1 / (2 * m - 2)))
        assert not Ws[last].any()
    np.testing.assert_array_equal(Ws[0], he[0])
    assert not Ws[-1].any()
    with pytest.raises(ValueError, match="'fixup': it needs architecture residual"):
        init_params("fixup", sizes, seed=0)
    with pytest.raises(ValueError, match="'fixup': it needs architecture residual"):
        init_params("fixup", [5, 8, 8, 3], architecture="residual", block_size=1)
    with pytest.raises(ValueError, match="'lsuv': it draws plain nets only"):
        init_params("lsuv", sizes, X=np.ones((4, 5)), architecture="residual")


@pytest.mark.parametrize("parametrization", ["sp", "mup"])
def test_zero_readout_zeroes_the_output_layer_alone(parametrization):
    """The mup package's MLP example: the readout starts at zero in SP and muP alike; the
    other layers are drawn as without it, from the same seed."""
    sizes, kw = [5, 128, 128, 3], dict(seed=4, parametrization=parametrization, base_width=64)
    Ws, bs = init_params("he_normal", sizes, **kw)
    Wz, bz = init_params("he_normal", sizes, readout="zero", **kw)
    assert not Wz[-1].any() and not bz[-1].any() and Ws[-1].any()
    for a, b in zip(Ws[:-1] + bs[:-1], Wz[:-1] + bz[:-1], strict=True):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="readout must be one of drawn, zero, got 'none'"):
        init_params("he_normal", sizes, readout="none")
