"""The generated per-pixel code and the README's parameter table match the declarations."""

from __future__ import annotations

from pathlib import Path

from gepgeo import codegen, kernel
from gepgeo.services import BUILTIN_SERVICES, METHOD

README = Path(__file__).resolve().parents[1] / "README.md"


def test_generated_services_row_is_up_to_date():
    # a service changed without `python -m gepgeo.codegen` fails here
    assert codegen.GENERATED.read_text(encoding="utf-8") == codegen.generate(), (
        "gepgeo/_services_row.py is out of date: run python -m gepgeo.codegen")


def test_readme_parameter_table_is_up_to_date():
    text = README.read_text(encoding="utf-8")
    assert text == codegen.readme_with_table(text), (
        "README's parameter table is out of date: run python -m gepgeo.codegen --readme README.md")
    for p in METHOD.parameters:
        assert f"| `{p.key}` |" in text


def test_the_shipped_method_runs_the_shipped_code():
    from gepgeo._services_row import services_row
    assert METHOD.services == BUILTIN_SERVICES
    assert codegen.method_cache_dir() is None
    assert kernel._services_row is services_row


def test_check_mode_reports_a_stale_file(tmp_path, monkeypatch, capsys):
    stale = tmp_path / "_services_row.py"
    stale.write_text("# old\n", encoding="utf-8")
    monkeypatch.setattr(codegen, "GENERATED", stale)
    assert codegen.main(["--check"]) == 1
    assert "OUT OF DATE" in capsys.readouterr().out
    assert codegen.main([]) == 0
    assert codegen.main(["--check"]) == 0
