"""Mutation testing, one module at a time, each against its own tests (``make mutate``).

The modules, their tests and their target scores are listed in ``pyproject.toml`` under
``[tool.cardinal.mutation]``; the mutmut settings they share are under ``[tool.mutmut]``. For each
module this script prepares a work directory ``.mutation/<module>/`` (copies of ``bot/``,
``handlers/``, ``cardinal_sim/``, ``tests/`` and ``examples/``, and a ``pyproject.toml`` telling
mutmut to mutate only that module and run only its tests), runs ``mutmut run`` there and prints a
table: mutants, killed, survived, score, target. Each run starts from scratch (mutmut would
otherwise keep its first run's map of which tests cover what); the work directory is kept until the
next run, so survivors can be inspected with ``cd .mutation/<module> && ../../.venv/bin/mutmut
results`` and ``… mutmut show <name>``.

Usage: ``python scripts/mutate.py [MODULE ...] [--jobs N] [--check] [--survivors]``. ``MODULE`` is
a path such as ``bot/access.py`` or a unique part of one (``access``); without one, every listed
module runs. ``--check`` exits with 1 when a module is below its target. See docs/mutation.md.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / ".mutation"
COPIED = ("bot", "handlers", "cardinal_sim", "tests", "examples")


@dataclass(frozen=True)
class Module:
    """One module to mutate, the tests that are meant to check it, and the score it must reach."""

    path: str
    tests: list[str]
    target: float

    @property
    def slug(self) -> str:
        return self.path.removesuffix(".py").replace("/", ".")


@dataclass(frozen=True)
class Score:
    """The outcome of one module's run, from mutmut's own statistics."""

    total: int
    killed: int
    survived: int
    no_tests: int
    timeout: int
    other: int

    @property
    def percent(self) -> float:
        tested = self.total
        return 100.0 * (self.killed + self.timeout) / tested if tested else 0.0


def load_modules(pyproject: Path) -> list[Module]:
    """The modules listed under ``[tool.cardinal.mutation]`` in ``pyproject``."""
    data = tomllib.loads(pyproject.read_text("utf-8"))
    table = data["tool"]["cardinal"]["mutation"]
    return [
        Module(path=path, tests=list(entry["tests"]), target=float(entry["target"]))
        for path, entry in table.items()
    ]


def select(modules: list[Module], wanted: list[str]) -> list[Module]:
    """The modules named by ``wanted`` (exact paths or unique substrings); all when empty."""
    if not wanted:
        return modules
    chosen: list[Module] = []
    for name in wanted:
        matches = [m for m in modules if m.path == name] or [m for m in modules if name in m.path]
        if len(matches) != 1:
            known = ", ".join(m.path for m in modules)
            raise SystemExit(f"mutate: {name!r} names {len(matches)} modules; choose one of: {known}")
        chosen.append(matches[0])
    return chosen


def module_pyproject(root_text: str, module: Module) -> str:
    """The root ``pyproject.toml`` with ``[tool.mutmut]`` narrowed to ``module`` and its tests."""
    header = "[tool.mutmut]\n"
    if header not in root_text:
        raise SystemExit("mutate: pyproject.toml has no [tool.mutmut] table")
    narrowed = (
        header
        + f"only_mutate = {json.dumps([module.path])}\n"
        + f"pytest_add_cli_args_test_selection = {json.dumps(module.tests)}\n"
    )
    return root_text.replace(header, narrowed, 1)


def prepare(module: Module) -> Path:
    """Refresh ``.mutation/<slug>/`` with the current sources, tests and narrowed config."""
    workdir = WORK / module.slug
    # mutmut keeps which tests cover which function from its first run; new tests would be ignored.
    # Start clean so every run tests every mutant against the tests as they are now.
    shutil.rmtree(workdir / "mutants", ignore_errors=True)
    workdir.mkdir(parents=True, exist_ok=True)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in COPIED:
        target = workdir / name
        if target.exists():
            shutil.rmtree(target)
        shutil.copytree(ROOT / name, target, ignore=ignore)
    root_text = (ROOT / "pyproject.toml").read_text("utf-8")
    (workdir / "pyproject.toml").write_text(module_pyproject(root_text, module), "utf-8")
    return workdir


def mutmut() -> str:
    """The mutmut executable next to this Python (the ``mutation`` extra installs it)."""
    exe = Path(sys.executable).parent / "mutmut"
    if not exe.exists():
        raise SystemExit("mutate: mutmut is not installed; run: pip install -e '.[mutation]'")
    return str(exe)


def run(module: Module, jobs: int) -> Score:
    """Run mutmut for one module and read its statistics."""
    workdir = prepare(module)
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    # mutmut prints progress with carriage returns; keep only its last lines in the log.
    log = workdir / "mutmut.log"
    with log.open("w") as out:
        done = subprocess.run(  # noqa: S603 - fixed argv, nothing user-typed
            [mutmut(), "run", "--max-children", str(jobs)],
            check=False,
            cwd=workdir,
            env=env,
            stdout=out,
            stderr=out,
        )
    if done.returncode != 0:
        tail = log.read_text("utf-8", errors="replace")[-2000:]
        raise SystemExit(f"mutate: mutmut failed for {module.path} (see {log}):\n{tail}")
    subprocess.run(  # noqa: S603 - fixed argv
        [mutmut(), "export-cicd-stats"], cwd=workdir, env=env, check=True, capture_output=True
    )
    stats = json.loads((workdir / "mutants" / "mutmut-cicd-stats.json").read_text("utf-8"))
    killed, survived = int(stats["killed"]), int(stats["survived"])
    no_tests, timeout = int(stats["no_tests"]), int(stats["timeout"])
    total = int(stats["total"])
    return Score(
        total=total,
        killed=killed,
        survived=survived,
        no_tests=no_tests,
        timeout=timeout,
        other=total - killed - survived - no_tests - timeout,
    )


def survivors(module: Module) -> list[str]:
    """The names of the mutants of ``module`` that no test killed."""
    done = subprocess.run(  # noqa: S603 - fixed argv
        [mutmut(), "results"], cwd=WORK / module.slug, capture_output=True, text=True, check=True
    )
    return [line.split(":")[0].strip() for line in done.stdout.splitlines() if line.strip()]


def main(argv: list[str] | None = None) -> int:
    """Run the selected modules and print the score table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("modules", nargs="*", help="module paths or unique parts of them (default: all)")
    parser.add_argument("--jobs", type=int, default=2, help="mutants tested in parallel (default 2)")
    parser.add_argument("--check", action="store_true", help="exit 1 when a module is below its target")
    parser.add_argument("--survivors", action="store_true", help="list the surviving mutants' names")
    args = parser.parse_args(argv)

    modules = select(load_modules(ROOT / "pyproject.toml"), args.modules)
    rows: list[tuple[Module, Score]] = []
    for module in modules:
        print(f"mutating {module.path} against {' '.join(module.tests)} …", flush=True)
        rows.append((module, run(module, args.jobs)))

    print()
    heads = ("mutants", "killed", "survived", "no tests", "score", "target")
    print(f"{'module':<26} " + " ".join(f"{h:>{max(len(h), 6)}}" for h in heads))
    below = []
    for module, score in rows:
        mark = "" if score.percent >= module.target else "  below target"
        if mark:
            below.append(module.path)
        print(
            f"{module.path:<26} {score.total:>7} {score.killed + score.timeout:>6} {score.survived:>8} "
            f"{score.no_tests:>8} {score.percent:>5.1f}% {module.target:>5.0f}%{mark}"
        )
    if args.survivors:
        for module, _ in rows:
            print(f"\nsurvivors of {module.path} (mutmut show NAME in .mutation/{module.slug}):")
            for name in survivors(module):
                print(f"  {name}")
    return 1 if args.check and below else 0


if __name__ == "__main__":
    sys.exit(main())
