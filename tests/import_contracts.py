"""
A custom import-linter contract (`pyproject.toml`, `[tool.importlinter]`): no app imports another app's private
names (`from personalization.audiences.evaluation import _plan`). The built-in `private_modules` contract covers
underscore modules; this one covers the underscore functions, classes and constants inside public ones.
"""

import ast
from pathlib import Path

from importlinter.application import output
from importlinter.domain import fields
from importlinter.domain.contract import Contract, ContractCheck

__all__ = ["PrivateNamesContract", "owner"]


def owner(module: str, apps: set[str]) -> str:
    """Return the app a module belongs to (`personalization.audiences`), or the module itself when it is shared."""
    parts = module.split(".")
    for length in range(len(parts), 0, -1):
        if ".".join(parts[:length]) in apps:
            return ".".join(parts[:length])
    return module


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _source(module: str) -> Path | None:
    base = Path(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


class PrivateNamesContract(Contract):
    """
    Check that names starting with an underscore are imported only from within their own app.

    Configuration options:
        - apps: the packages that are apps; a module outside them (a shared module) counts as its own app.
    """

    type_name = "private_names"

    apps = fields.SetField(subfield=fields.StringField())

    def check(self, graph, verbose: bool) -> ContractCheck:
        apps = set(self.apps)  # type: ignore[arg-type]
        illegal = []
        for importer in sorted(graph.modules):
            path = _source(importer)
            if path is None:
                continue
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
                if not isinstance(node, ast.ImportFrom) or node.level or node.module not in graph.modules:
                    continue
                if owner(node.module, apps) == owner(importer, apps):
                    continue
                for alias in node.names:
                    if _private(alias.name):
                        illegal.append((importer, "%s.%s" % (node.module, alias.name), node.lineno))
        return ContractCheck(kept=not illegal, metadata={"illegal": illegal})

    def render_broken_contract(self, check: ContractCheck) -> None:
        for importer, name, line in check.metadata["illegal"]:
            output.print_error("- %s imports the private name %s (l.%d)" % (importer, name, line), bold=False)
            output.new_line()
