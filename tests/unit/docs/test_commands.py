"""The commands docs/development.md gives contributors are ones the project's setup installs: a program in the
virtualenv `make setup` makes, a target of the Makefile, or a script of the repository (it named a tool of
one machine before)."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
SHELL_BLOCK = re.compile(r"^```sh\n(.*?)^```", re.M | re.S)


def commands(markdown: Path) -> list[str]:
    lines = [line for block in SHELL_BLOCK.findall(markdown.read_text()) for line in block.splitlines()]
    return [line.split("#")[0].strip() for line in lines if line.split("#")[0].strip()]


def make_targets() -> set[str]:
    return set(re.findall(r"^([a-z][a-z0-9-]*):", (ROOT / "Makefile").read_text(), re.M))


def test_development_commands_are_installed_by_the_setup():
    listed = commands(ROOT / "docs/development.md")
    assert listed, "docs/development.md has no sh block"
    targets = make_targets()
    for line in listed:
        for command in re.split(r"&&|\|\|", line):
            program, *arguments = command.split()
            if program == "make":
                assert arguments and arguments[0] in targets, f"{line}: not a target of the Makefile"
            elif program.startswith(".venv/bin/"):
                # The venv `make setup` makes from requirements-dev.txt: the program is there.
                assert (ROOT / program).exists(), f"{line}: {program} is not installed by make setup"
            else:
                assert (ROOT / program).is_file(), (
                    f"{line}: {program} is neither in .venv/bin nor in the repository"
                )
