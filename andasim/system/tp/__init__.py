"""Multi-chip tensor parallelism with compressed all-reduce payloads."""
