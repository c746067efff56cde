"""Performance benchmarks of babelrag against plain baselines; see bench/README.md."""
