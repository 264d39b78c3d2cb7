"""Layering: the models and planners in ``agents`` learn and plan from the data alone, so no
module under ``agents/`` may import the simulators in ``envs`` (their states, distances or
success rules would be privileged information that no world model gets). The pipeline stages
in ``benchmark/`` never import the scripts in ``benchmark/scripts/`` (they measure the
pipeline; the code hashes leave them out)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def imported_modules(path: Path, root: Path = ROOT) -> list[str]:
    """Absolute names of the modules ``path`` imports: import statements (relative ones resolved
    against its package, ``from m import n`` giving ``m`` and ``m.n``) and
    ``importlib.import_module`` / ``__import__`` calls on a string constant."""
    package = list(path.relative_to(root).parts[:-1])
    names = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package[: max(len(package) - node.level + 1, 0)] if node.level else []
            module = ".".join([*base, *([node.module] if node.module else [])])
            if module:
                names.append(module)
            names += [".".join(filter(None, [module, alias.name])) for alias in node.names]
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
            func = node.func
            called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if called in ("import_module", "__import__"):
                names.append(str(node.args[0].value))
    return names


def _is_envs(name: str) -> bool:
    return name == "envs" or name.startswith("envs.")


def test_agents_never_import_envs():
    files = sorted((ROOT / "agents").rglob("*.py"))
    assert ROOT / "agents" / "world_models" / "tdmpc2.py" in files
    offenders = {
        str(f.relative_to(ROOT)): name
        for f in files
        for name in imported_modules(f)
        if _is_envs(name)
    }
    assert not offenders, f"agents/ must not import envs (privileged information): {offenders}"


def test_the_stages_never_import_the_scripts():
    stages = sorted((ROOT / "benchmark").glob("*.py"))  # the scripts live one level down
    assert ROOT / "benchmark" / "grid.py" in stages
    offenders = {
        str(f.relative_to(ROOT)): name
        for f in stages
        for name in imported_modules(f)
        if name == "benchmark.scripts" or name.startswith("benchmark.scripts.")
    }
    assert not offenders, f"benchmark stages must not import benchmark.scripts: {offenders}"


def test_the_scan_sees_every_import_form(tmp_path):
    pkg = tmp_path / "agents" / "pkg"
    pkg.mkdir(parents=True)
    (pkg / "mod.py").write_text(
        "import envs\n"
        "from envs.tworoom import TwoRoom\n"
        "from .. import sibling\n"
        "from ... import envs\n"
        "import importlib\n"
        "def f():\n"
        "    return importlib.import_module('envs.registry')\n"
    )
    names = imported_modules(pkg / "mod.py", tmp_path)
    assert "agents.sibling" in names and not _is_envs("agents.sibling")
    hits = [n for n in names if _is_envs(n)]
    assert hits == ["envs", "envs.tworoom", "envs.tworoom.TwoRoom", "envs", "envs.registry"], hits


def test_the_code_hashes_leave_the_scripts_out():
    from benchmark import provenance

    eval_files = provenance.code_files("eval")
    assert ROOT / "benchmark" / "grid.py" in eval_files
    assert ROOT / "benchmark" / "train.py" in provenance.code_files("train")
    for part in provenance.CODE_PARTS:
        scripts = [f for f in provenance.code_files(part) if "scripts" in f.parts]
        assert not scripts, f"{part} hashes {scripts}"
