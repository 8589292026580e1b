"""Issue 24 (fast stage runs): the runner defers what papermill imports and it never uses (runbook.adapters.fastimport)."""

import subprocess
import sys


def loaded_after(statement: str) -> set[str]:
    code = f"import sys; {statement}; print('\\n'.join(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    return set(out.split())


def test_the_runner_and_papermill_load_without_compiling_the_rfc3987_grammars():
    loaded = loaded_after("import runbook.runner, papermill, nbformat, nbconvert")
    assert "lark" not in loaded and "rfc3987_syntax.syntax_helpers" not in loaded


def test_jsonschema_still_checks_iris_as_the_real_module_does():
    code = (
        "import runbook.runner, jsonschema\n"
        "v = jsonschema.Draft202012Validator({'format': 'iri'}, format_checker=jsonschema.FormatChecker())\n"
        "print([v.is_valid(x) for x in ('https://example.com/a?b#c', 'not an iri ::', 'http://h\\u00e9.example/')])"
    )
    deferred = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    real = subprocess.run(
        [sys.executable, "-c", code.replace("import runbook.runner, jsonschema", "import jsonschema")],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert deferred == real == "[True, False, True]\n"
