"""The input layer: everything a scenario file means, before any model runs.

The schema (`schema`), the lease-length rules (`leases`) and, around them, loading, overrides,
profiles, the sweep and `expect:` specs and the warnings. Nothing here imports the model, results or
experiments; they import this package. This file defines nothing, so that importing one module of
the package costs only that module.
"""
