"""Local fake servers for the test suite and benchmarks."""
