"""Result rows (a long-format CSV shared by many runs), paper-style tables, plots and multi-run benchmarks."""
