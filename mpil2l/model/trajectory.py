"""The trajectory: parameters of a run, the individuals of every generation, and results.

Names and signatures follow L2L's `Trajectory`, `Individual` and `ParameterGroup`, so L2L
optimizers and optimizees run unchanged. Unlike L2L, reading a name that was never added
raises `AttributeError` instead of silently creating an empty entry.
"""

from .history import GENERATION_RESULTS, INDIVIDUALS, GenerationHistory

INDIVIDUAL_PREFIX = "individual."


class ParameterGroup:
    """A named set of parameters, read as attributes or items.

    Example:
        >>> g = ParameterGroup()
        >>> g.f_add_parameter("pop_size", 20)
        >>> g.pop_size, g["pop_size"]
        (20, 20)
    """

    def __init__(self):
        self.params = {}

    def f_add_parameter(self, key, val, comment=""):
        """Adds (or replaces) parameter `key` with value `val`. `comment` is accepted for L2L
        scripts and ignored."""
        self.params[key] = val

    def _lookup(self, name):
        return self.params[name]

    def __getattr__(self, name):
        if name.startswith("__") or name == "params":
            raise AttributeError(name)
        try:
            return self._lookup(name)
        except KeyError:
            raise AttributeError(
                f"{type(self).__name__} has no parameter {name!r}; known: {sorted(self.params)}"
            ) from None

    def __getitem__(self, name):
        return self.__getattr__(name)

    def __contains__(self, name):
        try:
            self._lookup(name)
        except KeyError:
            return False
        return True

    def keys(self):
        return self.params.keys()

    def items(self):
        return self.params.items()

    def __repr__(self):
        return f"{type(self).__name__}({self.params!r})"


class Individual(ParameterGroup):
    """One candidate parameter set of a generation.

    Parameters are stored under their full names (``'individual.x'``) and read under the
    short ones (``ind.x``), as in L2L.

    Args:
        generation: the generation this individual belongs to.
        ind_idx: its index inside the generation.
        params: a dict of parameter name to value.
        attempt: which evaluation attempt of this individual this is (0 the first; a
            failed evaluation is retried).

    Example:
        >>> ind = Individual(0, 3, {"individual.x": 1.5})
        >>> ind.x, ind.ind_idx
        (1.5, 3)
    """

    def __init__(self, generation=0, ind_idx=0, params=None, attempt=0):
        super().__init__()
        self.generation = generation
        self.ind_idx = ind_idx
        self.attempt = attempt
        if params:
            self.params.update(params)

    def _lookup(self, name):
        try:
            return self.params[INDIVIDUAL_PREFIX + name]
        except KeyError:
            return self.params[name]

    def as_dict(self):
        """The parameters with the ``individual.`` prefix removed (what `create_individual`
        returns)."""
        n = len(INDIVIDUAL_PREFIX)
        return {
            (k[n:] if k.startswith(INDIVIDUAL_PREFIX) else k): v for k, v in self.params.items()
        }

    def __repr__(self):
        return (
            f"Individual(generation={self.generation}, ind_idx={self.ind_idx}, "
            f"params={self.params!r})"
        )


class ParameterDict:
    """The trajectory's parameters (``traj.par``): plain parameters and parameter groups, read
    as attributes, as items, or with dotted names (``traj.par['group.key']``)."""

    def __init__(self, traj):
        self._traj = traj
        self._data = {}

    def __getattr__(self, name):
        if name.startswith("_"):
            raise AttributeError(name)
        if name == "ind_idx":
            # L2L optimizers set traj.v_idx to an individual's ind_idx and read this to get its
            # position among the current results.
            positions = [idx for idx, _ in self._traj.current_results]
            return positions.index(self._traj.v_idx)
        try:
            value = self._data[name.split(".", 1)[0]]
        except KeyError:
            raise AttributeError(
                f"trajectory has no parameter {name!r}; known: {sorted(self._data)}"
            ) from None
        if "." in name:
            value = value[name.split(".", 1)[1]]
        return value

    def __getitem__(self, name):
        return self.__getattr__(name)

    def __setitem__(self, name, value):
        self._data[name] = value

    def __contains__(self, name):
        try:
            self.__getattr__(name)
        except (AttributeError, KeyError):
            return False
        return True

    def get(self, name, default=None):
        return self[name] if name in self else default

    def keys(self):
        return self._data.keys()

    def items(self):
        return self._data.items()

    def __repr__(self):
        return f"ParameterDict({self._data!r})"


class ResultGroup:
    """Named results, possibly nested in groups (``traj.results``)."""

    def __init__(self):
        self._data = {}

    def f_add_result_group(self, name, comment=""):
        self._data[name] = ResultGroup()

    def f_add_result(self, key, val, comment=""):
        group, _, rest = str(key).partition(".")
        if rest:
            self._group(group).f_add_result(rest, val)
        else:
            self._data[key] = val

    def f_add_result_to_group(self, group_name, key, val, comment=""):
        self._group(group_name).f_add_result(key, val)

    def _group(self, name):
        group = self._data.get(name)
        if not isinstance(group, ResultGroup):
            raise KeyError(f"no result group {name!r}; known: {sorted(self._data)}")
        return group

    def __getattr__(self, name):
        if name.startswith("_"):
            raise AttributeError(name)
        try:
            return self._data[name]
        except KeyError:
            raise AttributeError(f"no result {name!r}; known: {sorted(self._data)}") from None

    def __getitem__(self, key):
        return self._data[key]

    def __contains__(self, key):
        return key in self._data

    def __iter__(self):
        return iter(self._data)

    def __len__(self):
        return len(self._data)

    def get(self, key, default=None):
        return self._data.get(key, default)

    def keys(self):
        return self._data.keys()

    def values(self):
        return self._data.values()

    def items(self):
        return self._data.items()

    def __repr__(self):
        return f"ResultGroup({self._data!r})"


class Trajectory:
    """Everything about one optimization run that rank 0 owns.

    * ``traj.par`` (or ``traj.parameters``): parameters added with `f_add_parameter` and
      parameter groups; they are also readable as ``traj.<name>``.
    * ``traj.individuals[g]``: the list of `Individual` of generation ``g``, added by
      `f_expand`.
    * ``traj.individual``: the individual being evaluated (on a worker, inside
      ``optimizee.simulate(traj)``).
    * ``traj.results``: a `ResultGroup`; ``traj.results.all_results[g]`` holds the
      ``[(ind_idx, fitness), ...]`` of every evaluated generation, and
      ``traj.results.attempts[g]`` one dict per evaluation attempt (generation, ind_idx,
      attempt, rank, status, fitness, start, end, runtime, error).
    * The three per-generation tables (``traj.individuals``, and the data of
      ``traj.results.all_results`` and ``.attempts``) read as dicts keyed by generation. In a
      run with a results log, finished generations are packed into the log (with each
      checkpoint, or once they hold
      ``mpil2l.experiment.checkpointing.SPILL_EVALUATIONS`` evaluations) and unpacked when
      read: read-only snapshots (see `mpil2l.model.history`).
      Assigning ``traj.individuals = {...}`` replaces the table.
    * ``traj.resume_state``: set on the trajectories mpil2l saves (``trajectory.pickle``):
      the optimizer's state at the last finished generation, so that
      ``prepare_experiment(checkpoint=traj)`` resumes the run (see `mpil2l.experiment.checkpoint`).

    Args:
        name: the trajectory's name.

    Example:
        >>> traj = Trajectory(name="demo")
        >>> traj.f_add_parameter("n_iteration", 3)
        >>> traj.f_expand({"generation": [0], "ind_idx": [0, 1], "individual.x": [0.5, 1.5]})
        >>> traj.par.n_iteration, traj.individuals[0][1].x
        (3, 1.5)
    """

    def __init__(self, name="trajectory", **_ignored):
        self._name = name
        self._parameters = ParameterDict(self)
        self.individual = Individual()
        self._generations = GenerationHistory()
        self.individuals = {}
        self.results = ResultGroup()
        self.results.f_add_result_group("all_results")
        self.results.f_add_result_group("attempts")
        self._generation_history()
        self.current_results = []
        self.v_idx = 0
        self.hall_of_fame = None

    @property
    def individuals(self):
        """``{generation: [Individual, ...]}`` (a `mpil2l.model.history.GenerationTable`)."""
        try:
            return self.__dict__["_individuals"]
        except KeyError:
            raise AttributeError("individuals") from None

    @individuals.setter
    def individuals(self, value):
        self._individuals = self._generations.table(INDIVIDUALS, value)

    def _generation_history(self):
        """The `GenerationHistory` of this trajectory, with every per-generation table one of
        its tables (a result group replaced by a plain one is taken in)."""
        history = self._generations
        if not history.owns(self.__dict__.get("_individuals")):
            self.individuals = self.__dict__.get("_individuals") or {}
        for name in GENERATION_RESULTS:
            group = self.results._data.get(name)
            if isinstance(group, ResultGroup) and not history.owns(group._data):
                group._data = history.table(name, group._data)
        return history

    def __setstate__(self, state):
        if "individuals" in state:  # pickled before the tables were a GenerationHistory
            state["_individuals"] = state.pop("individuals")
            state["_generations"] = GenerationHistory()
        self.__dict__.update(state)
        self._generation_history()

    @property
    def v_name(self):
        return self._name

    @property
    def par(self):
        return self._parameters

    parameters = par

    def f_add_parameter_group(self, name, comment=""):
        """Adds an empty parameter group `name` (``traj.par.<name>``)."""
        self._parameters[name] = ParameterGroup()

    def f_add_parameter_to_group(self, group_name, key, val):
        """Adds parameter `key` to the existing group `group_name`.

        Raises:
            KeyError: the group does not exist.
        """
        group = self._parameters._data.get(group_name)
        if not isinstance(group, ParameterGroup):
            raise KeyError(
                f"no parameter group {group_name!r}; add it with f_add_parameter_group first"
            )
        group.f_add_parameter(key, val)

    def f_add_parameter(self, key, val, comment=""):
        """Adds parameter `key`; a dotted key ``'group.name'`` adds to that group, creating it."""
        group, _, rest = key.partition(".")
        if rest:
            if not isinstance(self._parameters._data.get(group), ParameterGroup):
                self.f_add_parameter_group(group)
            self.f_add_parameter_to_group(group, rest, val)
        else:
            self._parameters[key] = val

    f_add_derived_parameter = f_add_parameter

    def f_add_result(self, key, val, comment=""):
        """Adds a result; a dotted key ``'group.name'`` adds it to an existing result group."""
        self.results.f_add_result(key, val)

    def f_expand(self, build_dict, fail_safe=True):
        """Adds a generation of individuals.

        Args:
            build_dict: ``{'generation': [g], 'ind_idx': [i0, i1, ...], 'individual.<name>':
                [value for each individual], ...}``. Value lists are indexed by ``ind_idx``.
            fail_safe: accepted for L2L scripts; the expansion is always checked.

        Raises:
            ValueError: a key is missing or a value list is shorter than needed.
        """
        try:
            generation = build_dict["generation"][0]
            indices = list(build_dict["ind_idx"])
        except (KeyError, IndexError, TypeError):
            raise ValueError(
                "f_expand needs {'generation': [g], 'ind_idx': [...], 'individual.<name>': [...]}, "
                f"got keys {sorted(build_dict)}"
            ) from None
        columns = {k: v for k, v in build_dict.items() if k not in ("generation", "ind_idx")}
        individuals = []
        for i in indices:
            try:
                params = {k: v[i] for k, v in columns.items()}
            except (IndexError, KeyError):
                raise ValueError(
                    f"f_expand: a parameter list has no value for ind_idx {i}"
                ) from None
            individuals.append(Individual(generation, i, params))
        self.individuals[generation] = individuals

    def restore(self, saved):
        """Makes this trajectory a copy of `saved`, in place (resuming a run puts the
        checkpoint's trajectory into the object that the script, the optimizer and the
        optimizee already hold). `saved` must not be used afterwards."""
        self.__dict__.clear()
        self.__dict__.update(saved.__dict__)
        self._parameters._traj = self

    def parameters_only(self):
        """A copy holding the parameters and no history: what a worker needs to evaluate an
        individual."""
        copy = Trajectory(self._name)
        copy._parameters._data = dict(self._parameters._data)
        return copy

    def __getattr__(self, name):
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self._parameters, name)

    def __getitem__(self, name):
        return self._parameters[name]

    def __repr__(self):
        return f"Trajectory(name={self._name!r}, parameters={self._parameters._data!r})"
