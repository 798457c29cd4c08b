"""What an optimization is made of, independent of MPI and files: the trajectory and its
individuals (`trajectory`), the packed history of finished generations (`history`) and the
flattening of an individual into a vector (`conversion`)."""
