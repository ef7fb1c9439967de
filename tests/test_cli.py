"""`initbench run` trains one cell, writes its tables and prints a line per seed."""

import pandas as pd
import pytest

from initbench.cli import main


def test_run_writes_tables_and_summarises_each_seed(tmp_path, capsys):
    out = tmp_path / "cell.parquet"
    main(["run", "--dataset", "circles", "--activation", "relu", "--init", "he_normal",
          "--depth", "3", "--width", "8", "--seeds", "0,1", "--steps", "30",
          "--out", str(out)])  # fmt: skip
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(":")[0] for line in lines[:2]] == ["seed 0", "seed 1"]
    runs = pd.read_parquet(out)
    assert list(runs["seed"]) == [0, 1] and set(runs["loss"]) == {"sigmoid_bce"}
    curves = pd.read_parquet(tmp_path / "cell-curves.parquet")
    assert curves["step"].max() == 30
    assert (tmp_path / "cell-layers.parquet").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [(["--depth", "0"], "--depth must be >= 1"), (["--init", "he_norml"], "did you mean")],
)
def test_bad_arguments_exit_with_a_message(tmp_path, capsys, args, message):
    base = ["run", "--dataset", "circles", "--activation", "relu", "--init", "he_normal",
            "--depth", "3", "--width", "8", "--steps", "5",
            "--out", str(tmp_path / "x.parquet")]  # fmt: skip
    with pytest.raises(SystemExit) as stop:
        main(base + args)
    assert stop.value.code == 2
    assert message in capsys.readouterr().err
