"""Checks before the hub serves (and before a ``hub`` command runs) that fail with one line.

Each catches a misconfiguration that would otherwise surface only at the first sign-in, as
a 500 on every request: a folder the hub must write to that it cannot, a database it
cannot reach or whose schema is behind the code, key-encryption keys that cannot decrypt
the stored signing keys; or one that would silently give every doctor new subjects: a
pairwise-subject salt setting that contradicts the instance folder's salt file.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from hub.ops.outage import describe, outage_part

if TYPE_CHECKING:
    from flask import Flask

    from hub.settings import Settings

# gunicorn's code for "a worker failed to boot": its master stops instead of respawning.
WORKER_BOOT_ERROR = 3


class StartupError(Exception):
    """The hub must not start; the message is one line saying what to fix."""


def writable_folders(settings: Settings) -> list[tuple[Path, str]]:
    """The folders the hub will write to with these settings, and why."""
    folders: list[tuple[Path, str]] = []
    instance = settings.instance_path
    generated = [name for name, given in (("secret_key", settings.secret_key),
                                          ("key_encryption_key", settings.key_encryption_keys),
                                          ("pairwise_salt", settings.pairwise_salt))
                 if not given and not (instance / name).is_file()]
    if generated:
        folders.append((instance, "it keeps the generated " + ", ".join(generated)))
    if settings.store_url == "sql":
        folders.append((instance, "it keeps the job queue of the SQL store"))
    url = settings.database_url
    if url.startswith("sqlite:///") and url != "sqlite:///:memory:":
        folders.append((Path(url.removeprefix("sqlite:///").split("?")[0]).parent,
                        "it holds the SQLite database"))
    return folders


def check_folders(settings: Settings) -> None:
    """Create each folder the hub writes to and write a file there, as the hub will.

    A real write rather than os.access: access(2) answers for the real user, and root passes
    every permission bit yet still cannot write to a read-only mount.
    """
    for folder, why in writable_folders(settings):
        try:
            folder.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryFile(dir=folder, prefix=".write-check-"):
                pass
        except OSError as e:
            reason = e.strerror or type(e).__name__
            raise StartupError(f"cannot write to the folder {folder} ({reason}), and the hub "
                               f"must: {why}. Make it writable or point CURBSIDE_INSTANCE_DIR "
                               "or CURBSIDE_DATABASE_URL elsewhere") from None


def check_pairwise_salt(settings: Settings) -> None:
    """CURBSIDE_PAIRWISE_SALT, when given, is the salt file's content if there is one."""
    from hub.domain.crypto import SALT_FILE, PairwiseSaltConflict, pairwise_salt

    if not settings.pairwise_salt or not (settings.instance_path / SALT_FILE).is_file():
        return  # nothing to compare: never generate the file from here
    try:
        pairwise_salt(settings.pairwise_salt, settings.instance_path)
    except PairwiseSaltConflict as e:
        raise StartupError(str(e)) from None
    except OSError as e:
        raise StartupError(f"cannot read {settings.instance_path / SALT_FILE} "
                           f"({e.strerror or type(e).__name__})") from None


def check_instance(settings: Settings) -> None:
    """Before anything is built from the settings: the folders and the salt."""
    check_folders(settings)
    check_pairwise_salt(settings)


def check_database(hub: Any) -> None:
    """The database answers and its schema is the one this code needs."""
    from hub.persistence.schema import SchemaOutOfDate, require_current

    try:
        require_current(hub.db)
    except SchemaOutOfDate as e:
        raise StartupError(str(e)) from None
    except Exception as e:
        if outage_part(e) is None:
            raise
        raise StartupError(unreachable(hub.db.url, e)) from None


def check_signing_keys(hub: Any) -> None:
    """Every stored key that signs or will sign decrypts with the configured
    key-encryption keys (a wrong but well-formed key is otherwise found at the first token)."""
    from sqlalchemy import select

    from hub.domain.crypto import DecryptionError
    from hub.persistence.models.keys import SigningKey

    with hub.db.session() as s:
        rows = s.execute(select(SigningKey.kid, SigningKey.private_jwk_enc)
                         .where(SigningKey.state.in_(("active", "next")))).all()
    failed = []
    for kid, encrypted in rows:
        try:
            hub.secrets.decrypt(encrypted)
        except DecryptionError:
            failed.append(kid)
    if failed:
        raise StartupError(
            f"CURBSIDE_KEY_ENCRYPTION_KEYS cannot decrypt {len(failed)} of the {len(rows)} "
            "stored signing keys: give the key-encryption key they were stored with (a new "
            "one goes first, the old ones after it, comma-separated)")


def check_before_serving(hub: Any) -> None:
    check_database(hub)
    check_signing_keys(hub)


def unreachable(database_url: str, error: BaseException) -> str:
    from sqlalchemy import make_url

    part = outage_part(error)
    if part == "store":
        return f"the store (Redis) is unreachable: {describe(error)}"
    try:
        where = make_url(database_url).render_as_string(hide_password=True).split("?")[0]
    except Exception:  # noqa: BLE001 - a malformed URL fails elsewhere with its own message
        where = "CURBSIDE_DATABASE_URL"
    return f"the database ({where}) is unreachable: {describe(error)}"


def serving_app() -> Flask:
    """The app gunicorn serves (hub/wsgi.py), after every start-up check; a failing check
    prints one line and stops this worker with the code that stops gunicorn too."""
    from hub import create_app
    from hub.settings import Settings, SettingsError

    try:
        settings = Settings.from_env()
    except SettingsError as e:
        _refuse(str(e))
    try:
        check_instance(settings)
        app = create_app(settings)
        check_before_serving(app.extensions["curbside"])
    except StartupError as e:
        _refuse(str(e))
    except Exception as e:
        if outage_part(e) is None:
            raise
        _refuse(unreachable(settings.database_url, e))
    return app


def _refuse(line: str) -> NoReturn:
    print(f"curbside: cannot start: {line}", file=sys.stderr, flush=True)
    raise SystemExit(WORKER_BOOT_ERROR)
