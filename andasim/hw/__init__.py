"""andasim hw layer (see ARCHITECTURE.md)."""
