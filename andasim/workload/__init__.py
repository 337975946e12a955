"""andasim workload layer (see ARCHITECTURE.md)."""
