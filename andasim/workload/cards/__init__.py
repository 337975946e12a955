"""Bundled model cards (YAML package data), read by `andasim.workload.card.load_card`."""
