"""Hostile or careless YAML in pipelines and profiles: repeated keys, alias bombs, huge files,
numbers YAML 1.1 reads as text. Each is exit 2 with one short line, quickly."""

from __future__ import annotations

import time

import pytest
import yaml

from .helpers import edited_yaml, read_yaml, run_cli

#: a pipeline or profile this large is refused (gepgeo reads at most 2 MiB)
TOO_BIG = 6 * 2**20

def _bomb(levels: int = 7) -> str:
    """A flow sequence of nested aliases: ``levels`` levels of 9 make 9**levels strings (7:
    4.8 million, a 38 MB repr, from 300 bytes of YAML; the issue's had 9 levels)."""
    names = "abcdefghijklmnop"[:levels]
    items = ['&a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for prev, cur in zip(names, names[1:]):
        items.append(f"&{cur} [" + ", ".join([f"*{prev}"] * 9) + "]")
    return "[" + ", ".join(items) + "]"



def _pipeline_text(sample) -> str:
    return (sample / "pipelines" / "jinsha_after.yaml").read_text()


def _one_short_line(err: str, limit: int = 1100) -> None:
    assert len(err.strip().splitlines()) == 1, err[:500]
    assert len(err) <= limit, len(err)
    assert "internal error" not in err


def test_repeated_key_in_a_pipeline_is_refused_naming_both_lines(sample, capsys):
    p = sample / "pipelines" / "jinsha_after.yaml"
    text = _pipeline_text(sample)
    # a second parameters: block at the end: YAML keeps only the last one
    p.write_text(text + "parameters:\n  water_price: 3.0\n")
    first = next(i for i, line in enumerate(text.splitlines(), 1) if line.startswith("parameters:"))
    last = len(text.splitlines()) + 1
    code, _, err = run_cli(["validate", p], capsys)
    assert code == 2
    assert "'parameters'" in err and f"lines {first} and {last}" in err, err
    _one_short_line(err)


def test_repeated_key_at_any_depth_is_refused(sample, capsys):
    p = sample / "pipelines" / "jinsha_after.yaml"
    p.write_text(_pipeline_text(sample).replace(
        "codes: {", "codes: {3: meadow, "))   # code 3 is also forest later in the mapping
    code, _, err = run_cli(["validate", p], capsys)
    assert code == 2 and "key 3 is given twice" in err, err
    _one_short_line(err)


def test_repeated_key_in_a_profile_is_refused(sample, capsys):
    prof = sample / "prices.yaml"
    prof.write_text("name: prices\nkind: valuation\nprice_year: 2020\nparameters:\n"
                    "  water_price: {value: 2.4, unit: yuan m-3, source: a}\n"
                    "  water_price: {value: 9.9, unit: yuan m-3, source: b}\n")
    code, _, err = run_cli(["profiles", "show", prof], capsys)
    assert code == 2 and "'water_price'" in err and "lines 5 and 6" in err, err
    _one_short_line(err)


@pytest.mark.parametrize("where", ["pipeline", "profile"])
def test_alias_bomb_is_refused_at_once(sample, capsys, where):
    """A parameter value made of nested aliases: refused at once in one short line (before,
    the message quoted the whole expanded value: 12 GiB after 120 s with nine levels)."""
    if where == "pipeline":
        p = sample / "pipelines" / "jinsha_after.yaml"
        p.write_text(_pipeline_text(sample).replace(
            "parameters:\n", f"parameters:\n  water_price: {_bomb()}\n", 1))
        cmd = ["validate", p]
    else:
        p = sample / "bomb.yaml"
        p.write_text("name: bomb\nkind: valuation\nprice_year: 2020\nparameters:\n"
                     f"  water_price: {{value: {_bomb()}, unit: yuan m-3, source: a}}\n")
        cmd = ["profiles", "show", p]
    t0 = time.perf_counter()
    code, _, err = run_cli(cmd, capsys)
    assert time.perf_counter() - t0 < 20
    assert code == 2 and "alias" in err, err[:500]
    _one_short_line(err)


def test_large_values_are_never_formatted_whole(sample, capsys):
    """A rejected value is quoted in at most ~80 characters, whatever its size."""
    p = sample / "pipelines" / "jinsha_after.yaml"
    with edited_yaml(p) as doc:
        doc["parameters"]["water_price"] = [list(range(1000)) for _ in range(100)]
        doc["land_use"]["codes"][3] = "forest\n" + "x" * 100_000
    code, _, err = run_cli(["validate", p], capsys)
    assert code == 2
    # two independent problems are both reported (issue 21): one short line each, and the count
    lines = err.strip().splitlines()
    assert len(lines) == 3 and lines[-1].startswith("gepgeo: 2 problems"), err[:500]
    for line in lines:
        _one_short_line(line + "\n", 400)
    with edited_yaml(p) as doc:
        doc["land_use"]["codes"][3] = "forest"
        del doc["parameters"]["water_price"]
        doc["parameters"]["no_such_parameter_" + "y" * 100_000] = 1.0
    code, _, err = run_cli(["validate", p], capsys)
    assert code == 2 and "unknown parameter" in err
    _one_short_line(err, 400)


def test_oversized_pipeline_is_refused_before_it_is_parsed(sample, capsys):
    p = sample / "pipelines" / "jinsha_after.yaml"
    text = _pipeline_text(sample)
    codes = "".join(f"  {1000 + i}: forest\n" for i in range(TOO_BIG // 16))
    p.write_text(text.replace("land_use:\n", "land_use:\n  # many codes\n", 1) + "extra_codes:\n"
                 + codes)
    size = p.stat().st_size
    assert size > TOO_BIG
    t0 = time.perf_counter()
    code, _, err = run_cli(["validate", p], capsys)
    assert time.perf_counter() - t0 < 5
    assert code == 2 and "MiB" in err and f"{size / 2**20:,.1f}" in err, err
    _one_short_line(err)
    prof = sample / "big.yaml"
    prof.write_text("name: big\n" + "#" * TOO_BIG + "\n")
    code, _, err = run_cli(["profiles", "show", prof], capsys)
    assert code == 2 and "MiB" in err
    _one_short_line(err)


@pytest.mark.parametrize("where", ["pipeline", "profile"])
def test_number_read_as_text_says_why(sample, capsys, where):
    """YAML 1.1 reads 1e3 as the text '1e3': the message says so and how to write it."""
    if where == "pipeline":
        p = sample / "pipelines" / "jinsha_after.yaml"
        doc = read_yaml(p)
        doc["parameters"]["water_price"] = "1e3"
        p.write_text(yaml.safe_dump(doc).replace("'1e3'", "1e3"))
        cmd = ["validate", p]
    else:
        p = sample / "prices.yaml"
        p.write_text("name: prices\nkind: valuation\nprice_year: 2020\nparameters:\n"
                     "  water_price: {value: 1e3, unit: yuan m-3, source: a}\n")
        cmd = ["profiles", "show", p]
    code, _, err = run_cli(cmd, capsys)
    assert code == 2 and "water_price" in err
    assert "YAML 1.1" in err and "1.0e+3" in err, err


def test_two_spellings_of_one_code_are_refused(sample, capsys):
    """``1`` and ``"1"`` are two YAML keys but one land-use code: the conversion kept the last."""
    p = sample / "pipelines" / "jinsha_after.yaml"
    p.write_text(_pipeline_text(sample).replace("codes: {", "codes: {'3': meadow, ", 1))
    code, _, err = run_cli(["validate", p], capsys)
    assert code == 2 and "code 3 is given twice" in err, err
