"""Benchmark harness behind `fastnn bench` and the scripts in bench/: timing with warm-up and
medians, explicit FLOP/byte formulas, % of the measured machine peak, ratios against anchors
(NumPy/OpenBLAS, PyTorch, CuPy) measured in the same run."""
