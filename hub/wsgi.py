"""WSGI entry point for gunicorn: ``gunicorn hub.wsgi:app``."""

import gc

from hub.ops.startup import serving_app

# Never serve on a schema behind the code, an unwritable instance folder or signing keys the
# key-encryption keys cannot decrypt: each is one line and a stop (hub/ops/startup.py).
app = serving_app()

# Tuning the cyclic garbage collector for a request server (measured: docs/benchmarks.md).
# Everything built at start-up (SQLAlchemy, Authlib, Jinja, keys) lives as long as the
# process, so it is frozen out of every future collection; and a larger first generation
# lets the short-lived objects of a request die by reference counting before a collection
# runs, instead of one collection every 700 allocations.
gc.collect()
gc.freeze()
gc.set_threshold(50_000, 20, 100)
