"""The stress suite: ``make stress`` (full figures) and ``tests/test_stress_small.py`` (CI size)."""
