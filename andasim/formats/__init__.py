"""andasim formats layer (see ARCHITECTURE.md)."""
