"""Metrics (Prometheus), structured logs and the per-request context they share."""
