"""An AST check of who may import whom (the rules are in docs/architecture.md).

1. `recordplus.core` is the bottom layer: it imports no app.
2. `recordplus.videos` does not import `recordplus.transcripts` (transcripts builds on videos).
3. A module whose docstring says it is framework-free ("imports neither Django nor Dramatiq",
   or "Plain module:" / "Plain module.") imports neither at module level, nor a recordplus module that does.
4. The API package (services/api) never imports worker code (recordplus.assembler,
   recordplus.transcriber), not even inside a function: it only sends messages by name.
5. `recordplus.accounts`, `recordplus.videos` and `recordplus.transcripts` import neither
   `recordplus.sharing` nor `recordplus.web` (those sit on top of them).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

APPS = (
    "recordplus.accounts",
    "recordplus.videos",
    "recordplus.transcripts",
    "recordplus.sharing",
    "recordplus.web",
    "recordplus.config",
    "recordplus.cli",
)
# The top of the API: the web app's pages and share links build on videos and transcripts,
# which never import them back.
UPPER = ("recordplus.sharing", "recordplus.web")
BELOW_UPPER = ("recordplus.accounts", "recordplus.videos", "recordplus.transcripts")
WORKERS = ("recordplus.assembler", "recordplus.transcriber")
FRAMEWORKS = ("django", "dramatiq", "ninja")
FREE_MARKERS = ("imports neither django nor dramatiq", "plain module:", "plain module.")


@dataclass(frozen=True)
class Module:
    name: str
    path: Path
    package: str  # which service folder it belongs to: api, assembler, transcriber
    tree: ast.Module

    @property
    def framework_free(self) -> bool:
        doc = (ast.get_docstring(self.tree) or "").lower().replace("\n", " ")
        return any(marker in " ".join(doc.split()) for marker in FREE_MARKERS)


@dataclass(frozen=True)
class Import:
    target: str
    line: int
    top_level: bool


def _within(name: str, roots: tuple[str, ...] | str) -> bool:
    roots = (roots,) if isinstance(roots, str) else roots
    return any(name == root or name.startswith(root + ".") for root in roots)


def load_modules(services: Path) -> dict[str, Module]:
    """Every module under services/<package>/src, by dotted name."""
    modules: dict[str, Module] = {}
    for src in sorted(services.glob("*/src")):
        package = src.parent.name
        for path in sorted(src.rglob("*.py")):
            if "migrations" in path.parts:
                continue
            parts = list(path.relative_to(src).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            name = ".".join(parts)
            modules[name] = Module(name, path, package, ast.parse(path.read_text(), str(path)))
    return modules


def imports(module: Module) -> Iterator[Import]:
    """What `module` imports, resolved to absolute names, and whether at module level."""
    top = {id(node) for node in module.tree.body}
    is_package = module.path.name == "__init__.py"
    for node in ast.walk(module.tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield Import(alias.name, node.lineno, id(node) in top)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = module.name.split(".")
                anchor = anchor if is_package else anchor[:-1]
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                # `from recordplus.core import storage` imports the submodule when there is one.
                yield Import(f"{base}.{alias.name}" if base.startswith("recordplus") else base, node.lineno, id(node) in top)


def _resolve(target: str, modules: dict[str, Module]) -> str | None:
    """The recordplus module an import names (the longest known prefix)."""
    parts = target.split(".")
    while parts:
        name = ".".join(parts)
        if name in modules:
            return name
        parts.pop()
    return None


def violations(services: Path) -> list[str]:
    """Every broken rule, as 'path:line: what' lines (empty when the house is in order)."""
    modules = load_modules(services)
    found: list[str] = []

    def report(module: Module, imp: Import, why: str) -> None:
        found.append(f"{module.path}:{imp.line}: {module.name} imports {imp.target}: {why}")

    for module in modules.values():
        for imp in imports(module):
            if _within(module.name, "recordplus.core") and _within(imp.target, APPS + WORKERS):
                report(module, imp, "core is the bottom layer and imports no app")
            if _within(module.name, "recordplus.videos") and _within(imp.target, "recordplus.transcripts"):
                report(module, imp, "videos must not import transcripts (transcripts builds on videos)")
            if _within(module.name, BELOW_UPPER) and _within(imp.target, UPPER):
                report(module, imp, "sharing and web build on the domain apps, which never import them")
            if module.package == "api" and _within(imp.target, WORKERS):
                report(module, imp, "the API never imports worker code; it sends messages by name")
            if module.framework_free and imp.top_level:
                if _within(imp.target, FRAMEWORKS):
                    report(module, imp, "the module says it is framework-free")
                else:
                    dependency = _resolve(imp.target, modules) if imp.target.startswith("recordplus") else None
                    if dependency is not None and not modules[dependency].framework_free:
                        report(module, imp, f"framework-free modules may only import framework-free ones ({dependency} is not)")
    return found
