"""stop_at_test_accuracy: a run ends at the first logged step whose test accuracy reaches
it, and everything it logged until then is what the full run logs there."""

import numpy as np
import pytest
from problems import make_problem

from initbench.cell import STOPPING_RUN_STEPS, Cell, cell_work
from initbench.engine.many import train_many
from initbench.engine.training import train
from initbench.settings import TrainSettings

KW = dict(activation="tanh", loss="softmax_ce", steps=60, batch_size=8, lr=0.2, log_points=20)


def problem():
    W, b, X, y = make_problem("softmax_ce", sizes=(4, 8, 8), n=48, seed=3)
    return W, b, X, y, dict(X_test=X[::2], y_test=y[::2])


def target_and_stop(full):
    """A test accuracy the full run reaches after step 0, and the first logged step at it."""
    acc = full.history["test_accuracy"].to_numpy()
    later = acc[1:][acc[1:] > acc[0]]
    assert later.size, "the problem must train: its test accuracy must rise"
    target = later[0]
    return target, int(full.history["step"].to_numpy()[np.argmax(acc >= target)])


def test_a_stopped_run_is_the_full_run_cut_at_its_first_logged_step_at_the_target():
    W, b, X, y, test = problem()
    full = train(W, b, X, y, seed=1, **test, **KW)
    target, stop = target_and_stop(full)
    assert 0 < stop < KW["steps"]
    got = train(W, b, X, y, seed=1, stop_at_test_accuracy=target, **test, **KW)
    assert (got.status, got.diverged_step) == ("stopped", None)
    assert got.history["step"].iloc[-1] == stop
    kept = full.history["step"] <= stop
    np.testing.assert_array_equal(got.history.to_numpy(), full.history[kept].to_numpy())
    kept = full.layers["step"] <= stop
    np.testing.assert_array_equal(got.layers.to_numpy(), full.layers[kept].to_numpy())
    # the weights are those of a run whose last step is the stop: stop updates
    short = train(W, b, X, y, seed=1, **test, **{**KW, "steps": stop})
    for a, c in zip(got.weights + got.biases, short.weights + short.biases):
        np.testing.assert_array_equal(a, c)


def test_a_target_never_reached_trains_every_step():
    W, b, X, y, test = problem()
    full = train(W, b, X, y, seed=1, **test, **KW)
    never = float(full.history["test_accuracy"].max()) + 1e-9
    if never >= 1:
        pytest.skip("the problem reaches 100% test accuracy: no unreachable target below 1")
    got = train(W, b, X, y, seed=1, stop_at_test_accuracy=never, **test, **KW)
    assert got.status == "completed"
    np.testing.assert_array_equal(got.history.to_numpy(), full.history.to_numpy())


def test_train_many_stops_each_network_on_its_own():
    """A stopping net beside one that trains every step: each equals train alone."""
    W, b, X, y, test = problem()
    target, stop = target_and_stop(train(W, b, X, y, seed=0, **test, **KW))
    got = train_many([(W, b)] * 2, X, y, seeds=[0, 0], threads=2,
                     stop_at_test_accuracy=[target, 0.0], **test, **KW)  # fmt: skip
    assert [r.status for r in got] == ["stopped", "completed"]
    for result, stop_at in zip(got, (target, 0.0)):
        alone = train(W, b, X, y, seed=0, stop_at_test_accuracy=stop_at, **test, **KW)
        np.testing.assert_array_equal(result.history.to_numpy(), alone.history.to_numpy())
        for a, c in zip(result.weights, alone.weights):
            np.testing.assert_array_equal(a, c)
    assert got[0].history["step"].iloc[-1] == stop


@pytest.mark.parametrize("value", [-0.1, 1.0, 1.5, True, "0.2"])
def test_a_bad_target_names_the_setting(value):
    W, b, X, y, test = problem()
    with pytest.raises(ValueError, match="stop_at_test_accuracy"):
        train(W, b, X, y, stop_at_test_accuracy=value, **test, **KW)


def test_a_target_without_test_rows_stops_before_training():
    W, b, X, y, _ = problem()
    with pytest.raises(ValueError, match="stop_at_test_accuracy needs test rows"):
        train(W, b, X, y, stop_at_test_accuracy=0.5, **KW)
    with pytest.raises(ValueError, match="stop_at_test_accuracy needs test rows"):
        train_many([(W, b)], X, y, seeds=[0], stop_at_test_accuracy=0.5, **KW)


def test_the_cost_model_counts_a_stopping_run_at_most_its_stopping_steps():
    def work(**values):
        settings = TrainSettings.of(steps=4000, **values)
        return cell_work(Cell("digits", "relu", "he", "he_normal", (32,) * 5, training=settings))

    stopping, full = work(stop_at_test_accuracy=0.2), work()
    short = cell_work(Cell("digits", "relu", "he", "he_normal", (32,) * 5,
                           training=TrainSettings.of(steps=STOPPING_RUN_STEPS)))  # fmt: skip
    assert stopping == pytest.approx(short)  # the same logged points, STOPPING_RUN_STEPS steps
    assert stopping < full / 10
