"""gunicorn settings for the hub: ``gunicorn -c deploy/gunicorn.conf.py hub.wsgi:app``.

gthread workers keep connections alive and overlap database waits; one worker per core
with 8 threads measured best on this hardware (4 and 16 cost 6-11 % and up to 5 % more
server CPU per sign-in; docs/benchmarks.md).
"""

import multiprocessing
import os

from hub.server import ACCESS_LOG_FORMAT

bind = os.environ.get("CURBSIDE_BIND", "0.0.0.0:5000")
workers = int(os.environ.get("CURBSIDE_WORKERS", multiprocessing.cpu_count()))
worker_class = "gthread"
threads = int(os.environ.get("CURBSIDE_THREADS", 8))
keepalive = 30
timeout = 30
graceful_timeout = 20
accesslog = "-"
access_log_format = ACCESS_LOG_FORMAT  # paths only: query strings hold personal data
forwarded_allow_ips = os.environ.get("CURBSIDE_FORWARDED_ALLOW_IPS", "127.0.0.1")
control_socket_disable = True  # unused by the hub; one less socket to secure
