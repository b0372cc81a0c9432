"""Analytics: programme figures, reports and the synthetic city used by the benchmarks."""
