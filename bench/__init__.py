"""Benchmarks for the quality bars of SPEC §6: each module runs Cardinal and its baseline in the same run.

Run all with ``make bench`` (``python -m bench.run_all``) or one with ``python -m bench.<name>``; every
module accepts ``--quick``, prints a table and one ``BENCH_JSON {...}`` line, and exits 0 when its bars
pass. Results and commands are recorded in ``bench/README.md``.
"""
