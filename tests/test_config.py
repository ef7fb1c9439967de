"""Bad configs stop Snakemake before any job, with one line naming the key and value."""

import copy
import functools
import hashlib
from pathlib import Path

import pytest
import yaml
from conftest import ROOT, snakemake

from initbench.config import ConfigError
from initbench.findings import CLAIMS
from initbench.plan import plan

QUICK = yaml.safe_load((ROOT / "config" / "quick.yaml").read_text())


def _set(path, value):
    def mutate(config):
        *parents, last = path
        node = config
        for key in parents:
            node = node[key]
        node[last] = value

    return mutate


def _drop(path):
    def mutate(config):
        *parents, last = path
        node = config
        for key in parents:
            node = node[key]
        del node[last]

    return mutate


# (what is wrong, mutation, text the message must contain)
BAD_CONFIGS = [
    ("unknown activation", _set(("studies", "overview", "activations"), ["relu", "tahn"]),
     "studies.overview.activations[1]: unknown activation 'tahn' (did you mean 'tanh'?)"),
    ("unknown init label", _set(("studies", "overview", "inits"), ["he_norml"]),
     "studies.overview.inits[0]: unknown init 'he_norml' (did you mean 'he_normal'?)"),
    ("unknown init scheme", _set(("inits", "he_normal", "scheme"), "he_gaussian"),
     "inits.he_normal.scheme: unknown init scheme 'he_gaussian'"),
    ("unknown dataset", _set(("studies", "overview", "datasets"), ["circle"]),
     "studies.overview.datasets[0]: unknown dataset 'circle' (did you mean 'circles'?)"),
    ("unknown dataset generator", _set(("datasets", "circles"), {"generator": "cirles"}),
     "datasets.circles.generator: unknown dataset 'cirles' (did you mean 'circles'?)"),
    ("depth < 1", _set(("studies", "overview", "depths"), [0, 2]),
     "studies.overview.depths[0]: 0 is less than the minimum of 1"),
    ("width < 1", _set(("studies", "overview", "widths"), [-4]),
     "studies.overview.widths[0]: -4 is less than the minimum of 1"),
    ("steps <= 0", _set(("defaults", "steps"), 0), "defaults.steps must be a positive int, got 0"),
    ("lr <= 0", _set(("studies", "course", "lr"), -0.1),
     "studies.course.lr must be a positive float, got -0.1"),
    ("lr not a number", _set(("defaults", "lr"), "fast"),
     "defaults.lr must be a positive float, got 'fast'"),
    ("empty seed list", _set(("defaults", "seeds"), []), "defaults.seeds: [] should be non-empty"),
    ("duplicate grid entries", _set(("studies", "overview", "depths"), [2, 6, 2]),
     "studies.overview.depths: [2, 6, 2] has duplicate entries"),
    ("wrong type", _set(("studies", "overview", "widths"), 16),
     "studies.overview.widths: 16 is not of type 'array'"),
    ("unknown top-level key", _set(("studys",), {}), "config: unknown key 'studys'"),
    ("unknown study key", _set(("studies", "course", "learning_rate"), 0.1),
     "studies.course: unknown key 'learning_rate'"),
    ("missing grid key", _drop(("studies", "overview", "activations")),
     "studies.overview: 'activations' is a required property"),
    ("unsafe path name", _set(("inits", "../../etc"), {"scheme": "zeros"}),
     "'../../etc' is not a safe name"),
    ("slash in a name", _set(("studies", "a/b"), {"datasets": ["circles"],
     "activations": ["relu"], "inits": ["zeros"], "depths": [2], "widths": [4]}),
     "'a/b' is not a safe name"),
    ("unknown init parameter", _set(("inits", "normal_small", "sd"), 0.1),
     "unknown param 'sd' for init scheme 'normal'"),
    ("bad init parameter value", _set(("inits", "normal_small", "std"), -1.0),
     "std must be a finite number >= 0, got -1.0"),
    ("unimportable plugin", _set(("plugins",), ["no_such_module_xyz"]),
     "plugins: cannot import 'no_such_module_xyz'"),
    ("momentum >= 1", _set(("defaults", "momentum"), 1.0),
     "defaults.momentum must be in [0, 1), got 1.0"),
    ("unknown optimizer", _set(("studies", "engine", "sweep", "optimizer"), ["sgd", "lion"]),
     "studies.engine.sweep.optimizer[1] must be one of sgd, adam, adamw, got 'lion'"),
    ("adam beta outside [0, 1)", _set(("defaults", "beta2"), 1.0),
     "defaults.beta2 must be in [0, 1), got 1.0"),
    ("mup without a base width", _drop(("studies", "engine", "base_width")),
     "studies.engine: base_width: parametrization mup needs a base_width > 0"),
    ("momentum with adam", _set(("studies", "engine", "momentum"), 0.9),
     "studies.engine: momentum: adam has no momentum setting"),
    ("step schedule without its period", _set(("studies", "engine", "schedule"), "step"),
     "studies.engine: decay_every: schedule step needs decay_every > 0"),
    ("swept and given", _set(("studies", "engine", "optimizer"), "adam"),
     "studies.engine: optimizer is given and swept (sweep.optimizer); give one"),
    ("unknown swept setting", _set(("studies", "engine", "sweep", "depth"), [2]),
     "studies.engine.sweep: unknown key 'depth'"),
    ("jacobian of a one-layer net", _set(("studies", "overview", "probe"),
                                         {"split": "test", "rows": 4, "jacobian": True}),
     "studies.overview: probe.jacobian needs a plain net of two or more hidden layers of one "
     "width, got hidden [16] (plain)"),
    ("at_q_star without the Jacobian", _set(("studies", "course", "probe"),
                                             {"split": "test", "at_q_star": True}),
     "studies.course: probe.at_q_star scales the Jacobian probe's rows; set probe.jacobian"),
    ("at_q_star of an init without q*", _set(("studies", "course"), {**QUICK["studies"]["course"],
     "hidden": [[8, 8, 8]], "probe": {"split": "test", "jacobian": True, "at_q_star": True}}),
     "studies.course: probe.at_q_star with relu: at_q_star needs an init of scheme mean_field "
     "or critical (its sigma_w2 and sigma_b2 fix q*), got 'zeros'"),
    ("unknown weights", _set(("inits", "normal_small"),
                             {"scheme": "mean_field", "sigma_w2": 1.0, "weights": "uniform"}),
     "weights must be normal or orthogonal, got 'uniform'"),
    ("unknown dataset parameter", _set(("datasets", "circles"), {"feature_sd": 0.1}),
     "datasets.circles: dataset 'circles': unknown parameter 'feature_sd'; known: n_train"),
    ("seed count 0", _set(("defaults", "seeds"), 0),
     "defaults.seeds: 0 is less than the minimum of 1"),
    # Integral floats where an integer is meant are refused, everywhere (docs/training.md).
    ("seed count a float", _set(("defaults", "seeds"), 2.0),
     "defaults.seeds: 2.0 is not a list of up to 1000 distinct seeds"),
    ("seed count over the maximum", _set(("defaults", "seeds"), 1_000_000_000),
     "defaults.seeds: 1000000000 is greater than the maximum of 1000"),
    ("seed list over the maximum", _set(("studies", "course", "seeds"), list(range(1001))),
     "studies.course.seeds: 1001 entries, more than the maximum of 1000"),
    ("seed a float", _set(("studies", "course", "seeds"), [0, 1.0]),
     "studies.course.seeds[1]: 1.0 is not of type 'integer'"),
    ("hidden width a float", _set(("studies", "course", "hidden"), [[16.0, 16]]),
     "studies.course.hidden[0][0]: 16.0 is not of type 'integer'"),
    ("depth a float", _set(("studies", "overview", "depths"), [3.0]),
     "studies.overview.depths[0]: 3.0 is not of type 'integer'"),
    ("width a float", _set(("studies", "overview", "widths"), [16.0]),
     "studies.overview.widths[0]: 16.0 is not of type 'integer'"),
    ("batch size a float", _set(("studies", "overview", "batch_size"), 8.0),
     "studies.overview.batch_size must be a positive int, got 8.0"),
    ("swept steps a float", _set(("studies", "engine", "sweep", "steps"), [100, 200.0]),
     "studies.engine.sweep.steps[1] must be a positive int, got 200.0"),
    ("probe rows a float", _set(("studies", "glorot", "probe"), {"split": "test", "rows": 4.0}),
     "studies.glorot.probe.rows: 4.0 is not of type 'integer'"),
    ("lrs entry <= 0", _set(("studies", "leaky_relu", "lrs"), [0.1, 0.0]),
     "studies.leaky_relu.lrs[1] must be a positive float, got 0.0"),
    ("one logged step", _set(("defaults", "log_points"), 1),
     "defaults.log_points must be an integer >= 2"),
    ("feature_rms 0", _set(("datasets", "circles"), {"feature_rms": 0}),
     "datasets.circles: dataset 'circles': feature_rms must be a finite float > 0, got 0"),
    ("feature_rms < 0", _set(("datasets", "circles"), {"feature_rms": -1}),
     "datasets.circles: dataset 'circles': feature_rms must be a finite float > 0, got -1"),
    ("feature_rms a word", _set(("datasets", "circles"), {"feature_rms": "large"}),
     "datasets.circles: dataset 'circles': feature_rms must be a finite float > 0, got 'large'"),
    # Tiers: a config without a tiers: list has its tier alone.
    ("override for an undeclared tier",
     _set(("studies", "course", "tiers"), {"paper": {"seeds": 3}}),
     "studies.course.tiers: unknown tier 'paper'; known: quick"),
    ("tier not among the tiers", _set(("tiers",), ["default", "paper"]),
     "tier: unknown tier 'quick'; known: default, paper"),
    ("only an undeclared tier", _set(("studies", "course", "only"), ["quik"]),
     "studies.course.only[0]: unknown tier 'quik' (did you mean 'quick'?); known: quick"),
    ("override of an unknown key", _set(("studies", "course", "tiers"), {"quick": {"sedes": 3}}),
     "studies.course.tiers.quick: unknown key 'sedes'"),
    ("defaults override of an unknown key", _set(("defaults", "tiers"), {"quick": {"stepz": 3}}),
     "defaults.tiers.quick: unknown key 'stepz'"),
    ("bad value in an override", _set(("studies", "course", "tiers"), {"quick": {"depths": [2.0]}}),
     "studies.course.tiers.quick.depths[0]: 2.0 is not of type 'integer'"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("what", "mutate", "message"), BAD_CONFIGS, ids=[b[0] for b in BAD_CONFIGS]
)
def test_plan_rejects_bad_config_with_one_line(what, mutate, message):
    config = copy.deepcopy(QUICK)
    mutate(config)
    with pytest.raises(ConfigError) as error:
        plan(config)
    assert message in str(error.value)
    assert "\n" not in str(error.value)


def _digest(folder):
    return {p.relative_to(folder): hashlib.sha1(p.read_bytes()).hexdigest()
            for p in sorted(Path(folder).rglob("*")) if p.is_file()}  # fmt: skip


# Snakemake calls the same plan() while reading the Snakefile; each run costs seconds, so
# the end-to-end check covers one bad input of each family.
THROUGH_SNAKEMAKE = ["unknown activation", "depth < 1", "lr not a number", "duplicate grid entries",
                     "unknown top-level key", "unsafe path name",
                     "mup without a base width"]  # fmt: skip


@pytest.mark.parametrize(
    ("what", "mutate", "message"),
    [b for b in BAD_CONFIGS if b[0] in THROUGH_SNAKEMAKE],
    ids=THROUGH_SNAKEMAKE,
)
def test_snakemake_stops_before_any_job(workflow_dir, what, mutate, message):
    config = copy.deepcopy(QUICK)
    mutate(config)
    (workflow_dir / "bad.yaml").write_text(yaml.safe_dump(config))
    for folder in ("results", "report"):  # stand-ins for work already done
        (workflow_dir / folder / "kept.txt").write_text("computed earlier\n")
    before = {f: _digest(workflow_dir / f) for f in ("results", "report")}
    proc = snakemake(workflow_dir, "--cores", "1", "--configfile", "bad.yaml")
    assert proc.returncode != 0
    errors = [line for line in proc.output.splitlines() if "initbench config error" in line]
    assert len(errors) == 1 and message in errors[0], proc.output
    assert "Job stats" not in proc.output and not (workflow_dir / "logs").exists()
    assert {f: _digest(workflow_dir / f) for f in ("results", "report")} == before


def test_malformed_yaml_stops_before_any_job(workflow_dir):
    (workflow_dir / "bad.yaml").write_text("studies: [overview\n  depths: {2, \n")
    proc = snakemake(workflow_dir, "--cores", "1", "--configfile", "bad.yaml")
    assert proc.returncode != 0
    assert "not valid JSON or YAML" in proc.output
    assert not (workflow_dir / "logs").exists()


def test_default_and_quick_configs_are_valid():
    for name in ("config.yaml", "quick.yaml"):
        grid = plan(yaml.safe_load((ROOT / "config" / name).read_text()))
        assert grid.cells and all(grid.studies.values())


STUDY = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
TIERS = STUDY["tiers"]


@functools.cache
def _planned(tier):
    """The plan of config/config.yaml in ``tier``, and the config it was made from."""
    config = copy.deepcopy(STUDY)
    config["tier"] = tier
    return plan(config), config


@pytest.mark.parametrize("claim", CLAIMS, ids=[c.key for c in CLAIMS])
def test_every_tier_plans_each_claims_studies(claim):
    """A claim's studies are planned, with cells, in every tier of the one study config;
    a study a tier leaves out is left out by its own ``only:``, never by an omission."""
    for tier in TIERS:
        grid, _ = _planned(tier)
        planned = [s for s in claim.studies if s in grid.studies]
        assert all(grid.studies[s] for s in planned), (tier, claim.key)
        for study in set(claim.studies) - set(planned):
            assert tier not in STUDY["studies"][study]["only"], (tier, study)
        assert planned == list(claim.studies) or (claim.partial and planned), (tier, claim.key)


def test_a_float32_study_says_why():
    """A study runs in float32 only where its statistics need no more digits (its float64
    comparison is in docs/performance.md): its description says so, in every tier."""
    for tier in TIERS:
        grid, config = _planned(tier)
        for study, names in grid.studies.items():
            if any(grid.cells[name].dtype == "float32" for name in names):
                assert "float32" in config["studies"][study]["description"], (tier, study)


def test_the_paper_tier_is_the_same_config_with_its_overrides():
    """tier: paper replaces a study's keys by its paper override and the defaults' by
    theirs; the default tier plans the study's own; only: keeps a study to its tiers."""
    default, paper = _planned("default")[0], _planned("paper")[0]
    _, resolved = _planned("paper")
    assert resolved["defaults"]["steps"] == STUDY["defaults"]["tiers"]["paper"]["steps"]
    assert "tiers" not in resolved["defaults"]
    assert all("tiers" not in s and "only" not in s for s in resolved["studies"].values())
    course = STUDY["studies"]["course"]
    assert {default.cells[c].seeds for c in default.studies["course"]} == {tuple(course["seeds"])}
    assert {paper.cells[c].seeds for c in paper.studies["course"]} == {
        tuple(course["tiers"]["paper"]["seeds"])
    }
    only_paper = [s for s, spec in STUDY["studies"].items() if spec.get("only") == ["paper"]]
    assert only_paper and all(s in paper.studies and s not in default.studies for s in only_paper)


def test_a_tier_override_and_only_reach_the_cells():
    """On a small config: an override replaces the study's and the defaults' keys in its
    tier alone, and a study ``only:`` one tier is planned in that tier alone."""
    config = copy.deepcopy(QUICK)
    config["tiers"] = ["quick", "long"]
    config["defaults"]["tiers"] = {"long": {"steps": 40}}
    config["studies"]["overview"]["tiers"] = {"long": {"depths": [3], "seeds": 4}}
    config["studies"]["course"]["only"] = ["long"]
    quick = plan(copy.deepcopy(config))
    config["tier"] = "long"
    long = plan(config)
    assert "course" not in quick.studies and long.studies["course"]
    overview = [long.cells[c] for c in long.studies["overview"]]
    assert {(c.depth, c.seeds, c.training.steps) for c in overview} == {(3, (0, 1, 2, 3), 40)}
    short = [quick.cells[c] for c in quick.studies["overview"]]
    assert {c.depth for c in short} == set(QUICK["studies"]["overview"]["depths"])
    assert {c.training.steps for c in short} == {QUICK["defaults"]["steps"]}
    assert sorted(plan(config).cells) == sorted(long.cells)  # planning it again: the same


def test_yaml_python_tags_are_refused(workflow_dir):
    marker = workflow_dir / "executed"
    (workflow_dir / "evil.yaml").write_text(
        (ROOT / "config" / "quick.yaml").read_text()
        + f'payload: !!python/object/apply:os.system ["touch {marker}"]\n'
    )
    proc = snakemake(workflow_dir, "-n", "--cores", "1", "--configfile", "evil.yaml")
    assert proc.returncode != 0
    assert not marker.exists()


def test_config_file_check_refuses_templates_and_tags(tmp_path):
    from initbench.config import check_config_files

    templated = tmp_path / "templated.yaml"
    templated.write_text("__use_yte__: true\nthreads: 1\n")
    with pytest.raises(ConfigError, match="__use_yte__"):
        check_config_files([templated])
    tagged = tmp_path / "tagged.yaml"
    tagged.write_text("threads: !!python/name:os.system\n")
    with pytest.raises(ConfigError, match="not plain YAML"):
        check_config_files([tagged])
    check_config_files([ROOT / "config" / "quick.yaml"])  # plain YAML passes


def test_seeds_as_a_count_and_the_jacobian_probe_reach_the_cells():
    config = copy.deepcopy(QUICK)
    config["studies"]["course"]["seeds"] = 4
    config["studies"]["course"]["hidden"] = [[8, 8, 8]]
    config["studies"]["course"]["probe"] = {"split": "test", "rows": 2, "jacobian": True}
    cells = [plan(config).cells[n] for n in plan(config).studies["course"]]
    assert {c.seeds for c in cells} == {(0, 1, 2, 3)}
    assert all(c.probe_jacobian and c.probe_rows == 2 for c in cells)
    keys = {c.key for c in cells}
    del config["studies"]["course"]["probe"]["jacobian"]  # off: the cells' keys change
    assert not keys & {c.key for c in plan(config).cells.values()}


def test_at_q_star_reaches_the_cells_and_cells_without_it_keep_their_keys():
    config = copy.deepcopy(QUICK)
    study = config["studies"]["course"]
    study.update(inits=["mean_field"], activations=["tanh"], hidden=[[8, 8, 8]])
    study["probe"] = {"split": "test", "rows": 2, "jacobian": True}
    before = plan(config).cells
    study["probe"]["at_q_star"] = False  # spelled out at its default: the same cells
    assert plan(config).cells.keys() == before.keys()
    study["probe"]["at_q_star"] = True
    after = [plan(config).cells[n] for n in plan(config).studies["course"]]
    assert all(c.probe_at_q_star for c in after) and not {c.name for c in after} & set(before)
    assert not any(c.probe_at_q_star for c in before.values())


def test_inverse_depth_lr_scaling():
    config = copy.deepcopy(QUICK)
    config["studies"]["overview"]["lr_scaling"] = "inverse_depth"
    grid = plan(config)
    lrs = {grid.cells[c].depth: grid.cells[c].training.lr for c in grid.studies["overview"]}
    base = config["defaults"]["lr"]
    assert lrs == {d: base / d for d in config["studies"]["overview"]["depths"]}
    course = {grid.cells[c].training.lr for c in grid.studies["course"]}
    assert course == {config["studies"]["course"]["lr"]}


def test_weight_decay_reaches_the_cells_and_its_default_keeps_their_keys():
    """A training setting added later: set, it reaches the cell and its key; at its
    default (0), every cell keeps the name it had before the setting existed."""
    before = plan(copy.deepcopy(QUICK))
    config = copy.deepcopy(QUICK)
    config["defaults"]["weight_decay"] = 0.0
    assert sorted(plan(config).cells) == sorted(before.cells)
    config["studies"]["overview"]["weight_decay"] = 1e-4
    grid = plan(config)
    decayed = [grid.cells[c] for c in grid.studies["overview"]]
    assert {c.training.weight_decay for c in decayed} == {1e-4}
    assert not set(grid.studies["overview"]) & set(before.cells)
    config["studies"]["overview"]["weight_decay"] = -1.0
    with pytest.raises(ConfigError, match="weight_decay must be a finite number >= 0, got -1.0"):
        plan(config)


def test_a_built_in_scheme_name_needs_no_label():
    """A study may list a built-in scheme by name: it gets the scheme's defaults."""
    config = copy.deepcopy(QUICK)
    assert "lecun_uniform" not in config["inits"]
    config["studies"]["overview"]["inits"] = ["lecun_uniform"]
    cells = [plan(config).cells[c] for c in plan(config).studies["overview"]]
    assert cells and all(c.init == c.scheme == "lecun_uniform" for c in cells)
    assert all(c.init_params == {} for c in cells)
    config["studies"]["overview"]["inits"] = ["lecun_unifrom"]
    with pytest.raises(ConfigError) as error:
        plan(config)
    message = str(error.value)
    assert "did you mean 'lecun_uniform'" in message
    assert "define it under inits: as lecun_unifrom: {scheme:" in message


def test_batches_keep_their_cells_when_cells_are_added():
    """A cell's training job depends on the cell alone: adding cells never moves another."""
    grid = plan(QUICK)
    assert sorted(n for names in grid.batches.values() for n in names) == sorted(grid.cells)
    for batch, names in grid.batches.items():
        cells = [grid.cells[n] for n in names]
        assert {(c.activation, c.dtype) for c in cells} == {tuple(batch.split("-")[:2])}
    config = copy.deepcopy(QUICK)
    config["studies"]["overview"]["inits"].append("lecun_uniform")
    bigger = plan(config)
    where = {n: b for b, names in bigger.batches.items() for n in names}
    for batch, names in grid.batches.items():
        assert all(where[n] == batch for n in names)
    assert len(plan({**QUICK, "batches_per_activation": 1}).batches) == len(
        {(c.activation, c.dtype) for c in grid.cells.values()}
    )


def test_more_cores_split_the_same_cells_into_more_jobs():
    """On more than 5 cores each activation's cells go to one job per core (the study's
    wall time is then bounded by its longest job); a config's own count always wins."""
    unset = {key: value for key, value in QUICK.items() if key != "batches_per_activation"}
    few, many = plan(unset, cores=2), plan(unset, cores=64)
    assert len(few.batches) == len(plan(unset, cores=5).batches)
    assert len(many.batches) > len(few.batches)
    assert sorted(n for names in many.batches.values() for n in names) == sorted(few.cells)
    fixed = {**QUICK, "batches_per_activation": 3}
    assert plan(fixed, cores=64).batches == plan(fixed, cores=2).batches


def test_the_plan_checks_the_inits_without_evaluating_an_activation(monkeypatch):
    """The plan builds every init on a tiny net before any job starts; evaluating an
    activation there would compile it (0.6 s a built-in, cold), before the first job.
    LSUV's parameters are checked all the same."""
    from initbench.engine import activations

    def evaluated(*args, **kwargs):
        raise AssertionError("the plan evaluated an activation")

    monkeypatch.setattr(activations, "call_specialised", evaluated)
    assert any(cell.init == "lsuv" for cell in plan(QUICK).cells.values())
    config = copy.deepcopy(QUICK)
    config["inits"]["lsuv"]["max_iter"] = 0
    with pytest.raises(ConfigError, match="inits.lsuv with .*max_iter must be an integer >= 1"):
        plan(config)


def test_no_training_job_of_the_quick_study_holds_a_third_of_its_work():
    """On its 2 cores the quick study's training waits on its longest job: with 5 jobs per
    activation its three 15,000-step cells hashed into one, 58% of the work (its
    ``batches_per_activation`` says why 7)."""
    from initbench.cell import cell_work

    grid = plan(QUICK, cores=2)
    work = [sum(cell_work(grid.cells[name]) for name in names) for names in grid.batches.values()]
    assert max(work) < sum(work) / 3


def test_device_cuda_without_a_gpu_stops_before_any_job(workflow_dir):
    """``device: cuda`` never falls back to the CPU silently: no GPU, one line, no job."""
    from initbench.engine.many import cuda_unavailable_reason

    reason = cuda_unavailable_reason()
    if reason is None:
        pytest.skip("a CUDA GPU is usable here, so the run would not stop")
    proc = snakemake(workflow_dir, "--profile", "profiles/gpu", "--cores", "1",
                     "--configfile", "config/quick.yaml")  # fmt: skip
    assert proc.returncode != 0
    errors = [line for line in proc.output.splitlines() if "initbench config error" in line]
    assert len(errors) == 1 and "device: cuda, but" in errors[0], proc.output
    assert "Job stats" not in proc.output and not (workflow_dir / "logs").exists()


def test_job_priorities_rank_training_jobs_by_estimated_work():
    """Snakemake's priorities: small integers (its ILP scheduler lost priorities of 1e11),
    the highest for the job with the most estimated work."""
    from initbench.cell import cell_work
    from initbench.plan import job_priorities

    grid = plan(QUICK, cores=2)
    ranks = job_priorities(grid)
    assert sorted(ranks.values()) == list(range(1, len(grid.batches) + 1))
    work = {b: sum(cell_work(grid.cells[n]) for n in names) for b, names in grid.batches.items()}
    assert max(work, key=work.get) == max(ranks, key=ranks.get)
    assert min(work, key=work.get) == min(ranks, key=ranks.get)


def test_a_dataset_no_study_trains_on_is_planned_without_error(workflow_dir):
    """A dataset no study uses is checked with the config, then never made: the findings
    read only the datasets their studies trained on."""
    config = copy.deepcopy(QUICK)
    config["datasets"]["unused"] = {"generator": "moons"}
    (workflow_dir / "extra.yaml").write_text(yaml.safe_dump(config))
    proc = snakemake(workflow_dir, "-n", "--cores", "1", "--configfile", "extra.yaml")
    assert proc.returncode == 0, proc.output
    assert "results/data/unused.npz" not in proc.output
    assert "results/data/circles.npz" in proc.output


def test_snakemake_config_tier_plans_the_paper_tier(workflow_dir):
    """``--config tier=paper`` on top of the default profile's config/config.yaml plans
    the paper tier (its own findings file); an unknown tier stops before any job."""
    proc = snakemake(workflow_dir, "-n", "--cores", "1", "--config", "tier=paper")
    assert proc.returncode == 0, proc.output
    assert "results/findings-paper.json" in proc.output
    proc = snakemake(workflow_dir, "-n", "--cores", "1", "--config", "tier=papr")
    assert proc.returncode != 0
    errors = [line for line in proc.output.splitlines() if "initbench config error" in line]
    assert len(errors) == 1 and "tier: unknown tier 'papr' (did you mean 'paper'?)" in errors[0]


def test_a_tier_makes_only_the_datasets_its_cells_train_on():
    """A dataset label no cell of the tier uses is checked but never made (the paper
    tier's 40,000-row MNIST-1D costs the default tier nothing)."""
    (default, _), (paper, _) = _planned("default"), _planned("paper")
    for grid in (default, paper):
        assert set(grid.datasets) == {cell.dataset for cell in grid.cells.values()}
    assert "mnist1d_40k" in paper.datasets and "mnist1d_40k" not in default.datasets
