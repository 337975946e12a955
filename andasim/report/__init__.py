"""andasim report layer (see ARCHITECTURE.md)."""
