"""``python -m kaizen_perf`` is the ``kaizen-perf`` command."""

from kaizen_perf.cli.main import entry

entry()
