"""Run the hub under gunicorn from the ``hub serve`` command."""

from __future__ import annotations

import os
import sys
from typing import Any

from gunicorn.app.base import BaseApplication

from hub.ops import metrics as ops_metrics
from hub.ops.logging import gunicorn_logconfig
from hub.settings import Settings

# The access log names the path, never the query string: /authorize carries login_hint and
# id_token_hint (a doctor's email and identity), the callbacks carry codes and states.
# deploy/gunicorn.conf.py uses the same.
ACCESS_LOG_FORMAT = '%(h)s "%(m)s %(U)s" %(s)s %(b)s %(M)sms'


class _Gunicorn(BaseApplication):  # type: ignore[misc]
    def __init__(self, options: dict[str, Any]) -> None:
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for k, v in self.options.items():
            self.cfg.set(k, v)

    def load(self) -> Any:
        from hub.wsgi import app

        return app


def die_with_master(server: Any, worker: Any) -> None:
    """gunicorn's post_fork hook (``hub serve`` and deploy/gunicorn.conf.py): a worker dies
    with its master. One whose master was killed (``kill -9``, the OOM killer) would notice
    within a second but then drain for ``graceful_timeout`` while still holding the
    listening socket, so a supervisor's immediate restart failed with "Address already in
    use" for ~22 s. Linux sends the signal set with PR_SET_PDEATHSIG when the parent dies
    (prctl(2)); SIGKILL frees the port at once. A normal stop (SIGTERM/SIGQUIT to the
    master) still drains workers gracefully: the master outlives them.
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


def observability_options(settings: Settings) -> dict[str, Any]:
    """gunicorn settings for metrics and logs (deploy/gunicorn.conf.py sets the same): dead
    workers leave the multiprocess metrics, the master serves CURBSIDE_METRICS_BIND, and
    JSON logs replace gunicorn's text ones (the hub writes the access records itself then,
    with the request id and route gunicorn does not know)."""
    options: dict[str, Any] = {"child_exit": ops_metrics.child_exit,
                               "when_ready": lambda server: ops_metrics.serve_metrics(settings)}
    if settings.log_format == "json":
        options.update(accesslog=None, logconfig_dict=gunicorn_logconfig(settings))
    else:
        options.update(accesslog="-", access_log_format=ACCESS_LOG_FORMAT)
    return options


def run_gunicorn(bind: str, *, workers: int, worker_class: str = "gthread", threads: int = 8) -> None:
    settings = Settings.from_env()
    ours = ops_metrics.MULTIPROC_ENV not in os.environ
    directory = ops_metrics.prepare_multiprocess_dir()  # before any worker starts
    # No control socket: the hub does not use it, and a second gunicorn on the machine (a
    # demo, another instance) would log a clash over its default path.
    try:
        _Gunicorn({"bind": bind, "workers": workers, "worker_class": worker_class, "threads": threads,
                   "keepalive": 5, "control_socket_disable": True, "post_fork": die_with_master,
                   **observability_options(settings)}).run()
    finally:
        if ours:
            ops_metrics.remove_multiprocess_dir(directory)
