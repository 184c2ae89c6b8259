"""The parity suite: Kaizen's autonomy components against their ADR-011..017 targets.

Run with ``kaizen-perf bench --suite benchmarks/parity`` (one environment) or
``kaizen-perf check --suite benchmarks/parity --base-python OLD --head-python NEW``
(a Kaizen upgrade). Every row of the targets table is in
``baselines/parity-targets.toml``; docs/parity.md explains each measurement.
"""
