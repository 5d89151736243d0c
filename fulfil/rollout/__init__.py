"""Rollout simulator for planners: where to open, in which order, and what it will cost.

A region (``region.toml`` + GeoJSON boundary + CSV tables, :mod:`.region`) is sited phase
by phase — pilot → surrounding → full coverage (:mod:`.phasing`) — with pickup points by
capacitated covering and forward warehouses by capacitated facility location
(:mod:`.siting`).  Each phase is then simulated for N days of demand (:mod:`.demand`):
every day becomes a nightly scenario planned by ``fulfil.pipeline.plan_night`` and verified
by ``fulfil.checker.check_plan`` (:mod:`.simulate`).  Variants are compared day by day
under common random numbers with paired tests (:mod:`.compare`); :mod:`.outputs` writes
tables, maps, GeoJSON layers and charts; :mod:`.command` is ``fulfil rollout``.

This package module stays light (the CLI imports :mod:`.command` at start-up).
"""
