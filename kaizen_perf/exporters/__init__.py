"""Exporters: the export thread (``batch``), spans, StatsD and OTLP metrics."""
