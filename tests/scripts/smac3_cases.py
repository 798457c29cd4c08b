"""SMAC3's runner contract on MPI ranks, used by tests/test_smac3_runner_mpi.py.

usage: smac3_cases.py CASE OUT_DIR
"""

import json
import os
import sys
import time

from ConfigSpace import Configuration, ConfigurationSpace
from mpi4py import MPI
from smac import AlgorithmConfigurationFacade, Callback, HyperparameterOptimizationFacade, Scenario
from smac.runhistory import TrialInfo

from mpil2l import SMAC3Runner

HERE = os.path.dirname(os.path.abspath(__file__))


def status_target(config, seed, budget=None):
    mode = config["mode"]
    if mode == "raise":
        raise ValueError("no good")
    if mode == "nan":
        return float("nan")
    if mode == "none":
        return None
    if mode == "hang":
        time.sleep(60)
    if mode == "memory":
        blob = bytearray(400 * 2**20)
        blob[::4096] = b"x" * len(blob[::4096])
        return 0.0
    if mode == "info":
        return 2.5, {"note": "with info"}
    if mode == "wrong_count":
        return [1.0, 2.0]
    return float(seed) + 0.5


def two_objectives(config):
    if config["mode"] == "missing":
        return {"error": 1.0}
    return {"error": 0.25, "time": 3.0}


def trial_row(info, value):
    return {
        "config": dict(info.config),
        "instance": info.instance,
        "seed": info.seed,
        "status": value.status.name,
        "cost": value.cost,
        "time": value.time,
        "cpu_time": value.cpu_time,
        "start": value.starttime,
        "end": value.endtime,
        "info": {
            k: v
            for k, v in value.additional_info.items()
            if k in ("error", "note", "traceback", "rank")
        },
    }


def history_rows(smac):
    rows = []
    for key, value in smac.runhistory.items():
        info = TrialInfo(
            smac.runhistory.get_config(key.config_id), key.instance, key.seed, key.budget
        )
        rows.append(trial_row(info, value))
    return rows


def submit_all(runner, trials):
    """Submits like SMAC's loop (submit_trial waits for a free worker), collects every result."""
    rows, available = [], []
    for trial in trials:
        available.append(runner.count_available_workers())
        runner.submit_trial(trial)
        rows += [trial_row(*pair) for pair in runner.iter_results()]
    while runner.is_running():
        runner.wait()
        rows += [trial_row(*pair) for pair in runner.iter_results()]
    return rows, available


def statuses(out, report):
    space = ConfigurationSpace(
        {"mode": ["ok", "info", "raise", "nan", "none", "hang", "memory", "wrong_count"]}
    )
    scenario = Scenario(
        space,
        output_directory=os.path.join(out, "smac"),
        crash_cost=1e6,
        trial_walltime_limit=1.0,
        trial_memory_limit=150,
    )
    with SMAC3Runner(scenario, status_target) as runner:
        if runner is not None:
            report["workers"] = runner.count_available_workers()
            configs = {mode: Configuration(space, {"mode": mode}) for mode in space["mode"].choices}
            trials = [TrialInfo(configs[mode], seed=7) for mode in configs]
            rows, available = submit_all(runner, trials)
            report["rows"] = sorted(rows, key=lambda r: r["config"]["mode"])
            report["available"] = available
            status, cost, runtime, cpu_time, info = runner.run(configs["ok"], seed=3)
            report["run"] = [status.name, cost]
            report["run_wrapper"] = runner.run_wrapper(TrialInfo(configs["raise"], seed=1))[
                1
            ].status.name
    multi = Scenario(
        ConfigurationSpace({"mode": ["ok", "missing"]}),
        objectives=["error", "time"],
        output_directory=os.path.join(out, "smac-multi"),
        crash_cost=[9.0, 99.0],
    )
    with SMAC3Runner(multi, two_objectives) as runner:
        if runner is not None:
            space = multi.configspace
            trials = [TrialInfo(Configuration(space, {"mode": m})) for m in ("ok", "missing")]
            rows, _ = submit_all(runner, trials)
            report["multi"] = sorted(rows, key=lambda r: r["config"]["mode"])


def quadratic(config, seed=0):
    time.sleep(0.2)
    return (config["x"] - 1.0) ** 2 + (config["y"] + 2.0) ** 2


def per_instance(config, instance, seed):
    time.sleep(0.1)
    return abs(config["x"] - float(instance.split("-")[1]))


def facades(out, report):
    space = ConfigurationSpace({"x": (-5.0, 5.0), "y": (-5.0, 5.0)}, seed=0)
    hpo = Scenario(
        space, deterministic=True, n_trials=12, seed=1, output_directory=os.path.join(out, "hpo")
    )
    with SMAC3Runner(hpo, quadratic) as runner:
        if runner is not None:
            design = HyperparameterOptimizationFacade.get_initial_design(hpo, n_configs=6)
            maximizer = HyperparameterOptimizationFacade.get_acquisition_maximizer(
                hpo, challengers=1000
            )
            smac = HyperparameterOptimizationFacade(
                hpo,
                runner,
                initial_design=design,
                acquisition_maximizer=maximizer,
                overwrite=True,
                logging_level=40,
            )
            workers = runner.count_available_workers()
            incumbent = smac.optimize()
            report["hpo"] = {
                "workers": workers,
                "incumbent_cost": smac.runhistory.get_cost(incumbent),
                "trials": history_rows(smac),
            }
    ac_space = ConfigurationSpace({"x": (0.0, 4.0)}, seed=0)
    instances = ["inst-1", "inst-2", "inst-3"]
    ac = Scenario(
        ac_space,
        n_trials=12,
        seed=1,
        instances=instances,
        output_directory=os.path.join(out, "ac"),
        instance_features={name: [float(i)] for i, name in enumerate(instances)},
    )
    with SMAC3Runner(ac, per_instance) as runner:
        if runner is not None:
            smac = AlgorithmConfigurationFacade(ac, runner, overwrite=True, logging_level=40)
            smac.optimize()
            report["ac"] = {"trials": history_rows(smac)}


def refused(out, report):
    """A scenario asking for SMAC's Dask workers is refused on every rank."""
    scenario = Scenario(
        ConfigurationSpace({"x": (0.0, 1.0)}),
        n_workers=2,
        output_directory=os.path.join(out, "smac"),
    )
    limited = Scenario(
        ConfigurationSpace({"x": (0.0, 1.0)}),
        trial_walltime_limit=5.0,
        output_directory=os.path.join(out, "smac"),
    )
    for name, args in (
        ("refused", (scenario, quadratic)),
        ("unkillable", (limited, quadratic, None, None, "none")),
    ):
        try:
            SMAC3Runner(*args)
            message = None
        except ValueError as exc:
            message = str(exc)
        report[name] = MPI.COMM_WORLD.allgather(message)


class FailWhenAllBusy(Callback):
    """Stands for SMAC failing on rank 0 in mid-run: raises once every worker has a trial."""

    def __init__(self, runner):
        self.runner = runner

    def on_iteration_start(self, smbo):
        if self.runner.count_available_workers() == 0:
            raise RuntimeError("SMAC failed on rank 0")


def slow(config):
    time.sleep(30)
    return config["x"]


def rank0_fails(out, report):
    """An exception on rank 0 inside the block ends every rank, busy workers included."""
    scenario = Scenario(
        ConfigurationSpace({"x": (0.0, 1.0)}, seed=0),
        n_trials=50,
        deterministic=True,
        output_directory=os.path.join(out, "smac"),
    )
    with SMAC3Runner(scenario, slow) as runner:
        if runner is not None:
            HyperparameterOptimizationFacade(
                scenario,
                runner,
                overwrite=True,
                logging_level=40,
                callbacks=[FailWhenAllBusy(runner)],
            ).optimize()


CASES = {"statuses": [statuses], "all": [statuses, facades, refused], "rank0_fails": [rank0_fails]}

if __name__ == "__main__":
    case, out = sys.argv[1:]
    report = {}
    for function in CASES[case]:
        function(out, report)
    if MPI.COMM_WORLD.Get_rank() == 0:
        json.dump(report, open(os.path.join(out, "report.json"), "w"))
