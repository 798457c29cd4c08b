"""L2L's checkpoint-restart, as an L2L user writes it: a GA on the active-wait optimizee.

usage: l2l_aw_ga_restart.py ROOT NAME [TRAJECTORY]
Without TRAJECTORY the run starts; if the job is stopped (Slurm's SIGTERM at the wall time),
<ROOT>/<NAME>/trajectory.pickle keeps what it finished. Run the script again with that file
as TRAJECTORY (and a new NAME) to go on where it stopped.
"""

import sys

from l2l.optimizees.active_wait.optimizee_aw import AWOptimizee, AWOptimizeeParameters
from l2l.optimizers.evolution import GeneticAlgorithmOptimizer, GeneticAlgorithmParameters
from l2l.utils.experiment import Experiment


def main():
    root, name = sys.argv[1], sys.argv[2]
    experiment = Experiment(root_dir_path=root)
    if len(sys.argv) > 3:
        loaded_traj = experiment.load_trajectory(sys.argv[3])
        traj, _ = experiment.prepare_experiment(name=name, checkpoint=loaded_traj, log_stdout=True)
    else:
        traj, _ = experiment.prepare_experiment(name=name, log_stdout=True, overwrite=True)

    optimizee_parameters = AWOptimizeeParameters(difficulty=20000.0, max_difficulty=30000.0)
    optimizee = AWOptimizee(traj, optimizee_parameters)

    optimizer_parameters = GeneticAlgorithmParameters(
        seed=0, pop_size=10, cx_prob=0.7, mut_prob=0.5, n_iteration=12, ind_prob=0.5,
        tourn_size=3, mate_par=0.5, mut_par=2000.0,
    )
    optimizer = GeneticAlgorithmOptimizer(
        traj, optimizee_create_individual=optimizee.create_individual,
        optimizee_fitness_weights=(1.0,), parameters=optimizer_parameters,
        optimizee_bounding_func=optimizee.bounding_func,
    )
    experiment.run_experiment(optimizer=optimizer, optimizee=optimizee,
                              optimizer_parameters=optimizer_parameters,
                              optimizee_parameters=optimizee_parameters)
    experiment.end_experiment(optimizer)


if __name__ == "__main__":
    main()
