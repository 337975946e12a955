"""andasim search layer (see ARCHITECTURE.md)."""
