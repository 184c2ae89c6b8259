"""Reference agent workloads: deterministic stand-ins for real agents, used by the demo,
the benchmarks and the end-to-end tests."""
