"""The import contracts in pyproject.toml pass on the code, and fail on each kind of import they forbid."""

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")
APPS = ["alerts", "audiences", "datastreams", "destinations", "edge", "governance", "profiles"]


def _lint(cwd: Path, config: Path) -> subprocess.CompletedProcess:
    # PYTHONPATH finds the custom contract (tests.import_contracts); the linted packages come from `cwd` first.
    return subprocess.run(
        [str(LINT_IMPORTS), str(config), "--no-cache"],
        cwd=cwd,
        capture_output=True,
        text=True,
        # A wide terminal, so no message is wrapped.
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", "COLUMNS": "300"},
        timeout=120,
    )


@pytest.fixture
def project(tmp_path):
    """A copy of the project's shape (the same apps, no code) checked with the project's own contracts."""
    for package in ["accounts", "personalization", *("personalization/%s" % app for app in APPS)]:
        (tmp_path / package).mkdir()
        (tmp_path / package / "__init__.py").write_text("")
    for app in APPS:
        (tmp_path / "personalization" / app / "models.py").write_text("def _private():\n    pass\n")
    (tmp_path / "personalization" / "audiences" / "_sql.py").write_text("")
    contracts = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    lines = ["[importlinter]", "root_packages =", "    accounts", "    personalization"]
    lines += ["contract_types =", *("    %s" % kind for kind in contracts["contract_types"]), ""]
    for contract in contracts["contracts"]:
        lines.append("[importlinter:contract:%s]" % contract["id"])
        for key, value in contract.items():
            if key != "id":
                lines.append("%s = %s" % (key, value if isinstance(value, str) else "\n    ".join(["", *value])))
        lines.append("")
    (tmp_path / ".importlinter").write_text("\n".join(lines))

    def write(module: str, source: str):
        (tmp_path / (module.replace(".", "/") + ".py")).write_text(source)
        return _lint(tmp_path, tmp_path / ".importlinter")

    return write


def test_the_code_keeps_every_contract():
    result = _lint(ROOT, ROOT / "pyproject.toml")

    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_a_lower_app_importing_a_higher_one_breaks_the_layers(project):
    result = project("personalization.profiles.api", "from personalization.audiences import models\n")

    assert result.returncode == 1
    assert "personalization.profiles is not allowed to import personalization.audiences" in result.stdout


def test_a_higher_app_importing_a_lower_one_is_allowed(project):
    result = project("personalization.audiences.api", "from personalization.profiles import models\n")

    assert result.returncode == 0, result.stdout


def test_importing_another_apps_private_module_breaks_a_contract(project):
    result = project("personalization.edge.lookup", "from personalization.audiences import _sql\n")

    assert result.returncode == 1
    assert "personalization.edge.lookup -> personalization.audiences._sql" in result.stdout


def test_importing_another_apps_private_name_breaks_a_contract(project):
    result = project("personalization.edge.lookup", "from personalization.audiences.models import _private\n")

    assert result.returncode == 1
    assert "edge.lookup imports the private name personalization.audiences.models._private" in result.stdout


def test_an_app_may_import_its_own_private_names(project):
    result = project("personalization.audiences.api", "from personalization.audiences.models import _private\n")

    assert result.returncode == 0, result.stdout
