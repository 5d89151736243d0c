"""The plan store: scenarios (versions), plan runs, events and re-plans in a SQL database.

SQLite in the server's data directory by default (nothing to install), PostgreSQL by URL,
both through SQLAlchemy.  The schema is built by numbered migrations
(:mod:`fulfil.store.migrations`); :func:`open_store` brings any database up to the newest.
"""

from fulfil.store.session import Store, open_store

__all__ = ["Store", "open_store"]
