"""RL Arena benchmarks: `python -m bench` (or `make bench`); figures are written up in bench/RESULTS.md."""
