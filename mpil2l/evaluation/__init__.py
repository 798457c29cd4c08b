"""Running the target once: one call turned into a `RunValue` (`call`), the evaluation process
that a crash cannot take down (`process`) and the optimizee's ``simulate`` as a target
(`simulation`). Kept free of MPI: the evaluation process imports it on its own."""
