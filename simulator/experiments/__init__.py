"""Experiments: many runs of a scenario (replications, sweeps, precision targets), on executors."""
