"""The layers of ``mmm_core`` and its outer boundary, read from the source (every import, lazy ones too).

data <- model <- analysis <- planning.scenarios; the budget optimiser (``planning.budget``,
``planning.constraints``) is a leaf that sees only the pure formulas of ``model.transforms``;
``simulation`` sees ``data`` and ``model.transforms`` (its recovery scores and oracles also the model's
scaling and projection); ``report`` sees frames only. ``mmm_core`` never imports dagster, duckdb or
``mmm_pipeline``. An import against these arrows fails here, naming the file, the line and the import.
"""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

CORE = Path(__file__).resolve().parents[2] / "mmm_core"

ALLOWED = {  # importing module prefix -> the mmm_core prefixes it may import (most specific prefix wins)
    "mmm_core.data": ("mmm_core.data",),
    "mmm_core.model": ("mmm_core.data", "mmm_core.model"),
    "mmm_core.analysis": ("mmm_core.data", "mmm_core.model", "mmm_core.analysis", "mmm_core.planning.budget",
                          "mmm_core.planning.constraints"),
    "mmm_core.planning": ("mmm_core.model.transforms", "mmm_core.planning.budget", "mmm_core.planning.constraints"),
    "mmm_core.planning.scenarios": ("mmm_core.data", "mmm_core.model", "mmm_core.analysis", "mmm_core.planning"),
    "mmm_core.simulation": ("mmm_core.data", "mmm_core.model.transforms", "mmm_core.simulation"),
    "mmm_core.simulation.recovery": ("mmm_core.data", "mmm_core.model.transforms", "mmm_core.model.scaling",
                                   "mmm_core.model.fwl", "mmm_core.simulation"),
    "mmm_core.report": ("mmm_core.report",),
    "mmm_core.cli": ("mmm_core",),
    "mmm_core": ("mmm_core",),  # the package's lazy re-exports
}
FORBIDDEN_OUTSIDE = ("dagster", "dagster_duckdb", "duckdb", "mmm_pipeline")


def module_name(path: Path) -> str:
    parts = path.relative_to(CORE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> list[tuple[int, str]]:
    """(line, imported module) for every import statement in ``path``, relative ones resolved."""
    package = module_name(path) if path.name == "__init__.py" else module_name(path).rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            # `from mmm_core.model import training` imports the module mmm_core.model.training
            found += [(node.lineno, f"{base}.{alias.name}" if base in ("mmm_core", *_packages()) else base)
                      for alias in node.names]
    return found


def _packages() -> tuple[str, ...]:
    return tuple(module_name(p) for p in CORE.rglob("__init__.py"))


def rule_for(module: str) -> tuple[str, ...]:
    owner = max((prefix for prefix in ALLOWED if module == prefix or module.startswith(prefix + ".")), key=len)
    return ALLOWED[owner]


def violations() -> list[str]:
    out = []
    for path in sorted(CORE.rglob("*.py")):
        module = module_name(path)
        allowed = rule_for(module)
        for line, target in imports(path):
            top = target.split(".")[0]
            where = f"{path.relative_to(CORE.parent)}:{line} imports {target}"
            if top in FORBIDDEN_OUTSIDE:
                out.append(f"{where} (mmm_core never imports {top})")
            elif top == "mmm_core" and not any(target == a or target.startswith(a + ".") for a in allowed):
                out.append(f"{where} (allowed for {module}: {', '.join(allowed)})")
    return out


def test_no_import_runs_against_the_layers():
    assert violations() == []


def test_the_layer_check_catches_an_upward_import(tmp_path, monkeypatch):
    """The checker itself: a model module importing analysis, and a data module importing dagster, are caught."""
    fake = tmp_path / "mmm_core"
    for sub, text in {"model/network.py": "from mmm_core.analysis.metrics import r2\n",
                      "data/io.py": "import dagster\nfrom mmm_core.data import contract\n",
                      "report/figures/fit.py": "from mmm_core.model.estimator import MMM\n"}.items():
        (fake / sub).parent.mkdir(parents=True, exist_ok=True)
        (fake / sub).write_text(text)
    for package in ("", "model", "data", "report", "report/figures"):
        (fake / package / "__init__.py").write_text("")
    monkeypatch.setattr(sys.modules[__name__], "CORE", fake)
    found = violations()
    assert len(found) == 3, found
    assert any("mmm_core/model/network.py:1 imports mmm_core.analysis.metrics" in v for v in found)
    assert any("mmm_core/data/io.py:1 imports dagster" in v for v in found)
    assert any("mmm_core/report/figures/fit.py:1 imports mmm_core.model.estimator" in v for v in found)


def test_core_never_imports_dagster_or_duckdb_at_run_time():
    code = ("import sys, mmm_core.model.estimator, mmm_core.analysis.curves, mmm_core.planning.scenarios, "
            "mmm_core.simulation.simulator, mmm_core.report.dashboard; "
            "print([m for m in sys.modules if m.split('.')[0] in ('dagster', 'duckdb', 'mmm_pipeline')])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


@pytest.mark.parametrize("name", ["MMM", "Panel", "load_panel", "simulate", "ModelConfig", "TrainConfig",
                                  "response_curves", "plan_scenarios", "forecast_report", "build_report"])
def test_a_notebook_needs_one_import_line(name):
    import mmm_core

    assert name in mmm_core.__all__ and callable(getattr(mmm_core, name))
