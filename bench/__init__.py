"""`make bench`: the benchmark suite (docs/performance.md).

One command starts a local stack (a fresh PostgreSQL database, a NATS server of its own, each
service under test as a separate `python -m services.<name>` process), runs every scenario
against it, measures each figure beside a raw-PostgreSQL baseline doing the same work in the
same run, and writes `bench/results/<stamp>.json`, a summary table and a plot.

A scenario is a module in `bench/scenarios/` exposing `SCENARIO` (see `bench.scenario`);
`bench.scenarios.ALL` lists them, so another service's benchmarks plug in as one more module.
"""
