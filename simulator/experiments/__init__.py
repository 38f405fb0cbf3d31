"""Experiments: loading scenario files, and (elsewhere here) running many replications."""
