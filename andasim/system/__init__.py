"""andasim system layer (see ARCHITECTURE.md)."""
