"""Build docs/reference/: one Markdown page per module and role of the collection, from their own docs.

    python docs/build_reference.py          write docs/reference/
    python docs/build_reference.py --check  fail when docs/reference/ differs from what the docs say now

The source is `ansible-doc --json` (modules: DOCUMENTATION/EXAMPLES/RETURN; roles: meta/argument_specs.yml),
so the pages say exactly what `ansible-doc` says. Any markup this script does not know, or a reference to a
module or role that does not exist, is an error: the build has no warnings, only failures.
"""

from __future__ import annotations

import argparse
import difflib
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "docs" / "reference"
COLLECTION = "redundant.kube"
MARKUP = re.compile(r"\b([A-Z]{1,2})\(([^()]*(?:\([^()]*\)[^()]*)*)\)|HORIZONTALLINE")


class DocError(Exception):
    """The docs cannot be built as they are: str() names the plugin and the problem."""


def ansible_doc(kind: str, names: list[str]) -> dict[str, Any]:
    env = dict(
        os.environ,
        ANSIBLE_COLLECTIONS_PATH=str(REPO / ".collections"),
        ANSIBLE_ROLES_PATH=str(REPO / "roles"),
        ANSIBLE_NOCOLOR="1",
    )
    proc = subprocess.run(
        [str(Path(sys.executable).parent / "ansible-doc"), "-t", kind, "--json", *names],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    if proc.returncode != 0 or proc.stderr.strip():
        raise DocError(f"ansible-doc -t {kind} failed or warned: {proc.stderr.strip() or proc.returncode}")
    return json.loads(proc.stdout)


class Renderer:
    """Ansible's doc markup -> Markdown, with links between the pages of this collection."""

    def __init__(self, modules: set[str], roles: set[str], kind: str, name: str) -> None:
        self.modules, self.roles = modules, roles
        self.where, self.fqcn = f"{kind} {name}", f"{COLLECTION}.{name}"

    def link(self, fqcn: str, kind: str = "module") -> str:
        name = fqcn.removeprefix(COLLECTION + ".")
        known = self.modules if kind == "module" else self.roles
        if fqcn.startswith(COLLECTION + "."):
            if name not in known:
                raise DocError(f"{self.where}: M({fqcn}) names no {kind} of the collection")
            return f"[{fqcn}](../{kind}s/{name}.md)"
        return f"`{fqcn}`"

    def inline(self, text: str) -> str:
        def one(match: re.Match) -> str:
            if match.group(0) == "HORIZONTALLINE":
                return "\n\n---\n\n"
            code, body = match.group(1), match.group(2)
            if code in ("C", "V", "E", "RV"):
                return f"`{body}`"
            if code == "O":
                if "#" not in body:
                    return f"`{body}`"
                fqcn, _unused, option = body.partition("#")
                option = option.split(":", 1)[-1]
                return f"`{option}`" if fqcn == self.fqcn else f"`{option}` of {self.link(fqcn)}"
            if code == "I":
                return f"*{body}*"
            if code == "B":
                return f"**{body}**"
            if code == "U":
                return f"<{body}>"
            if code == "L":
                label, url = body.rsplit(",", 1)
                return f"[{label.strip()}]({url.strip()})"
            if code == "M":
                return self.link(body)
            if code == "P":
                fqcn, _unused, kind = body.partition("#")
                return self.link(fqcn, "role" if kind == "role" else "module")
            raise DocError(f"{self.where}: unknown markup {code}({body})")

        return MARKUP.sub(one, text)

    def paragraphs(self, value: Any) -> str:
        items = value if isinstance(value, list) else [value] if value else []
        return "\n\n".join(self.inline(str(item)) for item in items)

    def cell(self, value: Any) -> str:
        return self.paragraphs(value).replace("\n\n", "<br>").replace("\n", " ").replace("|", "\\|")


def option_rows(options: dict[str, Any], render: Renderer, prefix: str = "") -> Iterator[str]:
    for name in sorted(options):
        spec = options[name] or {}
        kind = spec.get("type", "str")
        if spec.get("elements"):
            kind += f" of {spec['elements']}"
        facts = []
        if spec.get("required"):
            facts.append("**required**")
        if "default" in spec and spec["default"] not in (None, [], {}):
            facts.append(f"default `{json.dumps(spec['default'])}`")
        if spec.get("choices"):
            facts.append("choices " + ", ".join(f"`{c}`" for c in spec["choices"]))
        if spec.get("aliases"):
            facts.append("aliases " + ", ".join(f"`{a}`" for a in spec["aliases"]))
        description = render.cell(spec.get("description", ""))
        yield f"| `{prefix}{name}` | {kind} | {'; '.join(facts)} | {description} |"
        nested = spec.get("suboptions") or spec.get("options") or spec.get("contains")
        if nested:
            yield from option_rows(nested, render, f"{prefix}{name}.")


def table(header: str, rows: list[str]) -> str:
    return "\n".join([header, "|---|---|---|---|", *rows]) if rows else "None."


def module_page(name: str, data: dict[str, Any], render: Renderer) -> str:
    doc = data["doc"]
    parts = [
        f"# Module `{COLLECTION}.{name}`",
        "",
        f"*{render.inline(doc['short_description'])}*",
        "",
        "Generated from the module's own documentation by `docs/build_reference.py`; do not edit.",
        "",
        render.paragraphs(doc.get("description")),
    ]
    if doc.get("requirements"):
        parts += ["", "## Requirements", "", *[f"- {render.inline(r)}" for r in doc["requirements"]]]
    rows = list(option_rows(doc.get("options") or {}, render))
    parts += ["", "## Options", "", table("| option | type | | description |", rows)]
    if doc.get("attributes"):
        parts += ["", "## Attributes", ""]
        for attr, spec in sorted(doc["attributes"].items()):
            parts.append(f"- **{attr}**: {spec.get('support')} - {render.cell(spec.get('description', ''))}")
    if doc.get("notes"):
        parts += ["", "## Notes", "", *[f"- {render.inline(n)}" for n in doc["notes"]]]
    if data.get("examples"):
        parts += ["", "## Examples", "", "```yaml", data["examples"].strip("\n"), "```"]
    returns = list(option_rows(data.get("return") or {}, render))
    parts += ["", "## Return values", "", table("| key | type | | description |", returns)]
    if doc.get("seealso"):
        parts += ["", "## See also", ""]
        for also in doc["seealso"]:
            parts.append(
                f"- {render.link(also['module']) if 'module' in also else render.inline(also.get('description', ''))}"
            )
    authors = doc.get("author") or []
    parts += [
        "",
        "## Authors",
        "",
        *[f"- {a}" for a in (authors if isinstance(authors, list) else [authors])],
    ]
    return "\n".join(parts).rstrip() + "\n"


def role_page(name: str, data: dict[str, Any], render: Renderer) -> str:
    parts = [
        f"# Role `{COLLECTION}.{name}`",
        "",
        "Generated from the role's `meta/argument_specs.yml` by `docs/build_reference.py`; do not edit.",
    ]
    for entry, spec in sorted(data["entry_points"].items()):
        rows = list(option_rows(spec.get("options") or {}, render))
        parts += [
            "",
            f"## Entry point `{entry}`"
            + (f" - {render.inline(spec['short_description'])}" if spec.get("short_description") else ""),
            "",
            render.paragraphs(spec.get("description")),
            "",
            table("| variable | type | | description |", rows),
        ]
    return "\n".join(p for p in parts).rstrip() + "\n"


def guide(kind: str, name: str) -> str:
    """A link to the hand-written guide of a module or role, when it has one (docs/guides/modules/, docs/guides/roles/)."""
    return (
        f" ([guide](../guides/{kind}s/{name}.md))"
        if collection_files(f"docs/guides/{kind}s/{name}.md")
        else ""
    )


def index_page(modules: dict[str, Any], roles: dict[str, Any]) -> str:
    lines = [
        "# Reference",
        "",
        "One page per module and role, generated from their own documentation by `docs/build_reference.py`",
        "(`python docs/build_reference.py` after changing a module's DOCUMENTATION or a role's argument specs),",
        "with a link to the hand-written guide where there is one.",
        "",
        "## Modules",
        "",
    ]
    for name, data in sorted(modules.items()):
        summary = data["doc"]["short_description"]
        lines.append(f"- [{COLLECTION}.{name}](modules/{name}.md) - {summary}{guide('module', name)}")
    lines += ["", "## Roles", ""]
    for name, data in sorted(roles.items()):
        main = data["entry_points"].get("main")
        summary = (
            main.get("short_description", "")
            if main
            else "entry points " + ", ".join(sorted(data["entry_points"]))
        )
        lines.append(f"- [{COLLECTION}.{name}](roles/{name}.md) - {summary}{guide('role', name)}")
    return "\n".join(lines) + "\n"


def collection_files(pattern: str) -> list[Path]:
    """Files of the collection matching a glob: in a git checkout only the ones git tracks, so work in
    progress in the tree never leaks into the committed pages."""
    if (REPO / ".git").exists():
        listed = subprocess.run(
            ["git", "ls-files", "--", pattern], cwd=REPO, capture_output=True, text=True, check=True
        )
        return [REPO / line for line in listed.stdout.splitlines()]
    return list(REPO.glob(pattern))


def build() -> dict[Path, str]:
    module_names = sorted(p.stem for p in collection_files("plugins/modules/*.py") if p.stem != "__init__")
    role_names = sorted(p.parent.parent.name for p in collection_files("roles/*/meta/argument_specs.yml"))
    modules = {
        k.removeprefix(COLLECTION + "."): v
        for k, v in ansible_doc("module", [f"{COLLECTION}.{n}" for n in module_names]).items()
    }
    roles = {
        k.removeprefix(COLLECTION + "."): v
        for k, v in ansible_doc("role", [f"{COLLECTION}.{n}" for n in role_names]).items()
    }
    missing = sorted(set(module_names) - set(modules)) + sorted(set(role_names) - set(roles))
    if missing:
        raise DocError(f"ansible-doc returned nothing for {', '.join(missing)}")
    pages = {OUT / "index.md": index_page(modules, roles)}
    for name, data in modules.items():
        pages[OUT / "modules" / f"{name}.md"] = module_page(
            name, data, Renderer(set(modules), set(roles), "module", name)
        )
    for name, data in roles.items():
        pages[OUT / "roles" / f"{name}.md"] = role_page(
            name, data, Renderer(set(modules), set(roles), "role", name)
        )
    return pages


def stale(pages: dict[Path, str]) -> list[str]:
    """Differences between the pages and docs/reference/ as it is, as unified diffs."""
    found = [str(p.relative_to(REPO)) + " should not exist" for p in OUT.rglob("*.md") if p not in pages]
    for path, text in sorted(pages.items()):
        current = path.read_text() if path.exists() else ""
        if current != text:
            diff = difflib.unified_diff(
                current.splitlines(), text.splitlines(), str(path.relative_to(REPO)), "built", lineterm=""
            )
            found.append("\n".join(list(diff)[:40]))
    return found


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only compare with docs/reference/")
    args = parser.parse_args(argv)
    try:
        pages = build()
    except DocError as exc:
        print(f"docs/build_reference.py: {exc}", file=sys.stderr)
        return 1
    if args.check:
        differences = stale(pages)
        if differences:
            print(
                "docs/reference/ is out of date; run: python docs/build_reference.py\n"
                + "\n".join(differences),
                file=sys.stderr,
            )
            return 1
        return 0
    for path in OUT.rglob("*.md"):
        if path not in pages:
            path.unlink()
    for path, text in pages.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    print(f"wrote {len(pages)} pages under {OUT.relative_to(REPO)}/")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
