"""Build hook: ship the repository's ``schemas/*.json`` in the wheel as ``scim_server/schema_docs/``.

The schema documents live at the top of the repository so that people (and IdP admins) find them;
``scim_server.storage.schema`` reads them from the package when installed and from ``schemas/`` in a
checkout. Everything else about the project is declared in pyproject.toml.
"""

from __future__ import annotations

from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
SCHEMAS = ROOT / "schemas"
TARGET = ("scim_server", "schema_docs")


class BuildPyWithSchemaDocs(build_py):
    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):
            # An editable install imports from the checkout, where provider.py finds schemas/.
            return
        documents = sorted(SCHEMAS.glob("*.json"))
        if not documents:
            # A wheel without them would fail at start-up, far from the cause: stop the build.
            raise SystemExit(f"no schema documents in {SCHEMAS}; is MANIFEST.in missing them?")
        target = Path(self.build_lib).joinpath(*TARGET)
        self.mkpath(str(target))
        for document in documents:
            self.copy_file(str(document), str(target / document.name))

    def get_outputs(self, include_bytecode: bool = True) -> list[str]:
        outputs = list(super().get_outputs(include_bytecode))
        target = Path(self.build_lib).joinpath(*TARGET)
        return outputs + [str(target / doc.name) for doc in sorted(SCHEMAS.glob("*.json"))]


setup(cmdclass={"build_py": BuildPyWithSchemaDocs})
