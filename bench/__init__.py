"""tearline's benchmarks: speed and memory as ratios against a baseline in the same run."""
