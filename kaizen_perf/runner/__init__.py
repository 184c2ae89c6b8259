"""``kaizen-perf run`` and ``attach``: monitor an agent's process tree with no code changes."""
