"""Operations: configuration checks, health/readiness endpoints and Prometheus metrics."""
