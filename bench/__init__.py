"""Benchmarks (not tests): run each as `python bench/NAME.py [--quick]`; see bench/README.md."""
