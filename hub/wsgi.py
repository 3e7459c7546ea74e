"""WSGI entry point for gunicorn: ``gunicorn hub.wsgi:app``."""

import gc

from hub import create_app
from hub.schema import require_current

app = create_app()
require_current(app.extensions["curbside"].db)  # never serve on a schema behind the code

# Tuning the cyclic garbage collector for a request server (measured: docs/benchmarks.md).
# Everything built at start-up (SQLAlchemy, Authlib, Jinja, keys) lives as long as the
# process, so it is frozen out of every future collection; and a larger first generation
# lets the short-lived objects of a request die by reference counting before a collection
# runs, instead of one collection every 700 allocations.
gc.collect()
gc.freeze()
gc.set_threshold(50_000, 20, 100)
