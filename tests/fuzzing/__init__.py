"""Fuzzing harness shared by the property tests (``tests/test_fuzz_*.py``) and the long fuzz run
(``benchmarks/fuzz.py``): scenario mutations, plan mutations, output-folder checks and the
invariants every ``fulfil`` command must keep on them.

Mutations draw their choices through a :class:`fuzzing.harness.Chooser`, so the same code is
driven by Hypothesis in the unit suite (which can then shrink a failure) and by a seeded
``random.Random`` in the benchmark.
"""
