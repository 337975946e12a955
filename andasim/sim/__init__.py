"""andasim sim layer (see ARCHITECTURE.md)."""
