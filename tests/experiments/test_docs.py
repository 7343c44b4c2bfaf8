"""The documentation in ``docs/``: the schema reference is current and complete, the
tutorial notebook runs, and no file of the repository points outside it."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from experiments import schema_doc
from market.scenario import Scenario

ROOT = Path(__file__).parents[2]
DOCS = ROOT / "docs"
TUTORIAL = DOCS / "tutorial.ipynb"


# ---------------------------------------------------------------- the schema reference


def test_scenario_schema_reference_is_current():
    committed = schema_doc.DOC.read_text(encoding="utf-8") if schema_doc.DOC.exists() else ""
    assert committed == schema_doc.render(), (
        f"{schema_doc.DOC.relative_to(ROOT)} is stale (market/scenario.py changed): "
        f"run `{schema_doc.REGENERATE}` and commit the file"
    )


def test_schema_check_command_fails_on_a_stale_file_and_names_the_fix(tmp_path, capsys):
    stale = tmp_path / "scenario-schema.md"
    stale.write_text(schema_doc.render().replace("| `horizon` |", "| `horizont` |"))
    assert schema_doc.main(["--check", "--out", str(stale)]) == 1
    assert schema_doc.REGENERATE in capsys.readouterr().err
    assert schema_doc.main(["--out", str(stale)]) == 0
    assert schema_doc.main(["--check", "--out", str(stale)]) == 0


def _sections(text: str) -> dict[str, str]:
    """Markdown body under each ``## name`` heading."""
    parts = re.split(r"^## (\S+)$", text, flags=re.M)
    return dict(zip(parts[1::2], parts[2::2]))


def test_schema_reference_has_every_field_with_its_default_as_in_the_json_schema():
    # Independent of the generator: pydantic's own JSON schema of the scenario.
    schema = Scenario.model_json_schema()
    defs = schema["$defs"]
    sections = _sections(schema_doc.render())
    for section, prop in schema["properties"].items():
        assert section in sections, f"section {section} missing"
        ref = prop.get("$ref") or prop.get("items", {}).get("$ref")
        if prop.get("type") == "array" and ref is None:
            ref = (prop.get("items") or {}).get("$ref")
        if ref is None:  # a plain table such as transport_cost
            continue
        model = defs[ref.split("/")[-1]]
        for field, spec in model["properties"].items():
            row = re.search(rf"^\| `{field}` \|(.*)$", sections[section], flags=re.M)
            assert row, f"{section}.{field} missing from the reference"
            cells = [c.strip() for c in row.group(1).split(" | ")]
            required = field in model.get("required", [])
            assert (cells[1] == "required") == required, f"{section}.{field}: {cells[1]}"
            if "description" in spec:
                assert spec["description"].split()[0] in row.group(1)
            for key, op in (("minimum", ">="), ("exclusiveMinimum", ">"), ("maximum", "<=")):
                if key in spec:
                    shown = [float(v) for v in re.findall(rf"(?:^|, ){op} ([^,]+)", cells[2])]
                    assert float(spec[key]) in shown, (
                        f"{section}.{field}: bound {op} {spec[key]} not shown in {cells[2]!r}"
                    )


# ---------------------------------------------------------------- the tutorial


def test_tutorial_notebook_runs_and_plots():
    import nbclient  # the `dev` extra installs nbclient, nbformat and ipykernel
    import nbformat

    nb = nbformat.read(TUTORIAL, as_version=4)
    assert any(c.cell_type == "code" for c in nb.cells)
    client = nbclient.NotebookClient(
        nb,
        timeout=300,
        kernel_name="python3",
        resources={"metadata": {"path": str(DOCS)}},
    )
    client.execute()
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    assert any("image/png" in o.get("data", {}) for o in outputs), "the tutorial plots nothing"


# ---------------------------------------------------------------- no path outside


def test_no_file_of_the_repository_points_outside_it():
    files = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    outside = re.compile(r"\.\./shared|/work/shared|/work/wt/|/work/main")
    found = []
    for name in files:
        path = ROOT / name
        if path.suffix in (".png", ".parquet", ".pyc") or not path.is_file():
            continue
        text = path.read_text(encoding="utf-8", errors="ignore")
        found += [
            f"{name}:{i}" for i, line in enumerate(text.splitlines(), 1) if outside.search(line)
        ]
    # This test file names the patterns it looks for.
    found = [f for f in found if not f.startswith("tests/experiments/test_docs.py")]
    assert not found, f"files point outside the repository (cite docs/ instead): {found}"
