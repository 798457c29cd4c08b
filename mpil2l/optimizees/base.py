"""The optimizee contract: what an optimizer tunes and the workers evaluate."""


class Optimizee:
    """Base class of optimizees, the inner loop of learning to learn.

    An optimizee creates individuals (dicts of parameter name to float or numpy array), keeps
    them inside its valid domain, and evaluates one individual per `simulate` call. Rank 0
    calls `create_individual` and `bounding_func` through the optimizer; the workers receive a
    pickled copy of the optimizee and call `simulate`, so an optimizee must be picklable and
    `simulate` must not rely on state changed on rank 0 after the experiment started.

    Args:
        traj: the run's trajectory. Subclasses may add their own settings to it with
            ``traj.f_add_parameter``; the base class adds nothing.

    Example:
        >>> from mpil2l.model.trajectory import Individual, Trajectory
        >>> class Parabola(Optimizee):
        ...     def create_individual(self):
        ...         return {"x": 3.0}
        ...     def simulate(self, traj):
        ...         return ((traj.individual.x - 1.0) ** 2,)
        >>> traj = Trajectory()
        >>> optimizee = Parabola(traj)
        >>> traj.individual = Individual(0, 0, {"individual.x": 2.0})
        >>> optimizee.simulate(traj)
        (1.0,)
    """

    def __init__(self, traj):
        pass

    def create_individual(self):
        """Creates one new individual.

        Returns:
            A dict of parameter name to float or numpy array. Every call must return the same
            keys and shapes.
        """
        raise NotImplementedError(f"{type(self).__name__} must implement create_individual()")

    def bounding_func(self, individual):
        """Brings an individual back into the valid domain; the default keeps it unchanged.

        Args:
            individual: a dict as returned by `create_individual`.

        Returns:
            The bounded individual (a dict with the same keys and shapes).
        """
        return individual

    def simulate(self, traj):
        """Evaluates the individual ``traj.individual``.

        Args:
            traj: a trajectory whose ``individual`` holds the parameters
                (``traj.individual.<name>``) and the ``generation`` and ``ind_idx`` of the
                individual to evaluate.

        Returns:
            A tuple of floats, one per fitness weight of the optimizer.
        """
        raise NotImplementedError(f"{type(self).__name__} must implement simulate(traj)")
