"""Benchmarks: data-loading throughput per storage back-end (`vsr.bench.data`)."""
