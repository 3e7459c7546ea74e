"""The build step pyproject.toml cannot declare: compile the gettext catalogues
(hub/translations/*/LC_MESSAGES/messages.po) into the .mo files a wheel ships. An editable
install or a fresh clone compiles them at start-up instead (hub/i18n.py)."""

from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from setuptools import setup
from setuptools.command.build_py import build_py


class BuildWithCatalogues(build_py):
    def run(self) -> None:
        super().run()
        for po in Path("hub/translations").glob("*/LC_MESSAGES/*.po"):
            target = Path(self.build_lib) / po.with_suffix(".mo")
            target.parent.mkdir(parents=True, exist_ok=True)
            with po.open("rb") as f:
                catalog = read_po(f, locale=po.parent.parent.name)
            with target.open("wb") as out:
                write_mo(out, catalog)


setup(cmdclass={"build_py": BuildWithCatalogues})
