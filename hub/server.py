"""Run the hub under gunicorn from the ``hub serve`` command."""

from __future__ import annotations

from typing import Any

from gunicorn.app.base import BaseApplication

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


def run_gunicorn(bind: str, *, workers: int, worker_class: str = "gthread", threads: int = 8) -> None:
    # No control socket: the hub does not use it, and a second gunicorn on the machine (a
    # demo, another instance) would log a clash over its default path.
    _Gunicorn({"bind": bind, "workers": workers, "worker_class": worker_class, "threads": threads,
               "accesslog": "-",
               "access_log_format": ACCESS_LOG_FORMAT, "keepalive": 5, "control_socket_disable": True}).run()
