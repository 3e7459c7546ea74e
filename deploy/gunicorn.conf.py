"""gunicorn settings for the hub: ``gunicorn -c deploy/gunicorn.conf.py hub.wsgi:app``.

gthread workers keep connections alive and overlap database waits; one worker per core
with 8 threads measured best on this hardware (4 and 16 cost 6-11 % and up to 5 % more
server CPU per sign-in; docs/benchmarks.md).
"""

import multiprocessing
import os

from hub.ops.metrics import prepare_multiprocess_dir
from hub.server import ACCESS_LOG_FORMAT, die_with_master, observability_options
from hub.settings import Settings

bind = os.environ.get("CURBSIDE_BIND", "0.0.0.0:5000")
workers = int(os.environ.get("CURBSIDE_WORKERS", multiprocessing.cpu_count()))
worker_class = "gthread"
threads = int(os.environ.get("CURBSIDE_THREADS", 8))
keepalive = 30
timeout = 30
graceful_timeout = 20
forwarded_allow_ips = os.environ.get("CURBSIDE_FORWARDED_ALLOW_IPS", "127.0.0.1")
control_socket_disable = True  # unused by the hub; one less socket to secure

# Metrics of every worker go to files in PROMETHEUS_MULTIPROC_DIR (emptied here, or a new
# temporary directory) and are summed at each scrape; child_exit marks dead workers,
# when_ready serves CURBSIDE_METRICS_BIND from the master; CURBSIDE_LOG_FORMAT=json sets
# logconfig_dict. The access log names paths only: query strings hold personal data.
prepare_multiprocess_dir()
_observability = observability_options(Settings.from_env())
child_exit = _observability["child_exit"]
when_ready = _observability["when_ready"]
accesslog = _observability["accesslog"]
access_log_format = _observability.get("access_log_format", ACCESS_LOG_FORMAT)
logconfig_dict = _observability.get("logconfig_dict", {})


# Workers die with their master (PR_SET_PDEATHSIG), so a supervisor restarting a killed
# instance can bind the port at once; `hub serve` uses the same hook.
post_fork = die_with_master
