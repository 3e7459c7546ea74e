"""gunicorn settings for the hub: ``gunicorn -c deploy/gunicorn.conf.py hub.wsgi:app``.

gthread workers keep connections alive and overlap database waits; one worker per core
with 8 threads measured best on this hardware (4 and 16 cost 6-11 % and up to 5 % more
server CPU per sign-in; docs/benchmarks.md).
"""

import multiprocessing
import os
import sys

from hub.ops.metrics import prepare_multiprocess_dir
from hub.server import ACCESS_LOG_FORMAT, observability_options
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


def post_fork(server, worker):
    """Die with the master: a worker whose master was killed (``kill -9``, OOM killer)
    would otherwise notice within a second but then drain for ``graceful_timeout`` while
    still holding the listening socket, so a supervisor's immediate restart failed with
    "Address already in use" for ~22 s. Linux sends the signal set with PR_SET_PDEATHSIG
    when the parent dies (prctl(2)); SIGKILL frees the port at once. A normal stop
    (SIGTERM/SIGQUIT to the master) still drains workers gracefully: the master outlives them.
    """
    if not sys.platform.startswith("linux"):
        return
    import ctypes
    import signal

    pr_set_pdeathsig = 1  # <linux/prctl.h>
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(pr_set_pdeathsig, signal.SIGKILL, 0, 0, 0) != 0:
        server.log.warning("prctl(PR_SET_PDEATHSIG) failed: errno %s", ctypes.get_errno())
    if os.getppid() != worker.ppid:  # the master died before prctl took effect
        os._exit(1)
