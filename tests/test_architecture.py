"""The shape of the code: no import cycles among bot's modules (counting imports inside functions too),
pure rule packages that import no database, web, Telegram or service code, and no second road out."""

from __future__ import annotations

import ast
from pathlib import Path

BOT = Path(__file__).resolve().parents[1] / "bot"
PURE = ("bot.policy", "bot.scoring", "bot.flows")
PURE_MAY_IMPORT = (*PURE, "bot.i18n", "bot.clock", "bot.periods", "bot.reloading")


def _modules() -> dict[str, Path]:
    found = {}
    for path in BOT.rglob("*.py"):
        if "migrations" in path.parts:
            continue
        name = ".".join(path.relative_to(BOT.parent).with_suffix("").parts)
        found[name.removesuffix(".__init__")] = path
    return found


MODULES = _modules()


def _imports(name: str) -> set[str]:
    """Return the bot modules ``name`` imports anywhere in its body."""
    found = set()
    for node in ast.walk(ast.parse(MODULES[name].read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module and node.module.startswith("bot"):
            for alias in node.names:
                target = f"{node.module}.{alias.name}"
                found.add(target if target in MODULES else node.module)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("bot"))
    return {m for m in found if m in MODULES and m != name}


def test_there_is_no_import_cycle():
    graph = {name: _imports(name) for name in MODULES}
    state: dict[str, int] = {}  # 1 visiting, 2 done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        path.pop()
        state[node] = 2
        return None

    for name in sorted(graph):
        if name not in state:
            cycle = visit(name)
            assert cycle is None, " → ".join(cycle)


def test_the_rule_packages_stay_pure():
    for name in MODULES:
        if name.startswith(tuple(p + "." for p in PURE)) or name in PURE:
            outside = sorted(m for m in _imports(name) if not m.startswith(PURE_MAY_IMPORT))
            assert not outside, f"{name} imports {outside}"


def test_no_web_or_service_module_imports_the_telegram_adapter():
    for name in MODULES:
        if name.startswith(("bot.web", "bot.services", "bot.policy", "bot.scoring")):
            assert not [m for m in _imports(name) if m.startswith("bot.adapters")], name
