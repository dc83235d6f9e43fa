"""Benchmarks: figures printed by `make bench` (`python -m bench`), never asserted in tests.

Each ``bench/bench_<name>.py`` that defines ``run() -> list[dict]`` is picked up; a row is
``{"name", "value", "unit", "note"}``.
"""
