"""andasim workload layer: what is computed (see docs/architecture.md and docs/workload.md).

- `gemm`: the GeMM unit the engine simulates; `precision`: per-module mantissa profiles;
- `card`: model cards (public configs -> GeMM lists, parameter counts, MAC shares);
- `trace`: the versioned trace file format and its strict loader;
- `paper_profiles`: the Anda paper's published Fig. 14 widths and the shape-only traces carrying them;
- `corpus`, `hf_models`, `recorder`, `stats`: real text, offline model loading (optional torch),
  the activation recorder and the statistics `andasim trace info` prints.
"""
