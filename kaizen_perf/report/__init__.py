"""The self-contained HTML run report (``kaizen-perf report``)."""
