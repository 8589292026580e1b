"""Fails on any import cycle between modules of the given packages (`make lint`): every import counts, those inside
functions and under TYPE_CHECKING too, since each is a dependency a reader has to follow.

    python tests/support/import_cycles.py runbook azure_sandbox
"""

from __future__ import annotations

import sys
from collections.abc import Iterable


def cycles(packages: Iterable[str]) -> list[list[str]]:
    """The strongly connected groups of more than one module (and modules importing themselves), each sorted."""
    import grimp

    graph = grimp.build_graph(*packages, include_external_packages=False)
    edges = {m: sorted(graph.find_modules_directly_imported_by(m)) for m in graph.modules}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    found: list[list[str]] = []
    counter = 0

    def visit(root: str) -> None:  # Tarjan's algorithm, iterative (deep graphs exceed the recursion limit)
        nonlocal counter
        work = [(root, iter(edges.get(root, ())))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(edges.get(child, ()))))
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    group = []
                    while True:
                        m = stack.pop()
                        on_stack.discard(m)
                        group.append(m)
                        if m == node:
                            break
                    if len(group) > 1 or node in edges.get(node, ()):
                        found.append(sorted(group))

    for module in sorted(edges):
        if module not in index:
            visit(module)
    return sorted(found)


def main(argv: list[str]) -> int:
    packages = argv or ["runbook", "azure_sandbox"]
    found = cycles(packages)
    for group in found:
        print("import cycle: " + " <-> ".join(group), file=sys.stderr)
    if found:
        print(
            f"{len(found)} import cycle(s) in {', '.join(packages)}; move what both sides need to a module below them"
        )
        return 1
    print(f"no import cycles in {', '.join(packages)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
