"""The nightly planning stages, one module each, in the order ``plan_night`` runs them:

1. :mod:`.allocate` — pickup points to forward warehouses, short stock shared out;
2. :mod:`.jobs` — what each vehicle visit hands over (zones grouped so one vehicle carries them);
3. :mod:`.subproblems` — one routing problem per forward warehouse (arrays for the solvers);
4. :mod:`.last_mile` — solve them on the executor, collect trips and unserved lines;
5. :mod:`.cold_repair` — re-solve warehouses whose trips the thermal model rejects;
6. :mod:`.trunk` — trunk problems from what the last mile carries, solved and reconciled;
7. :mod:`.assemble` — the typed plan (:class:`fulfil.plan_model.Plan`) with exact times.

Every stage takes the compiled night (:class:`fulfil.night.CompiledNight`) and plain data
(:mod:`.types`), never the pydantic scenario.
"""
