"""A spec is data: it cannot point the pipeline at files outside its own folder unless configuration allows it."""

from __future__ import annotations

import os
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from mmm_core.data.contract import DataContractError
from mmm_core.data.io import load_panel, validate_dataset
from mmm_core.data.spec import DatasetSpec
from mmm_pipeline.defs.ingest.assets import raw_marketing_data
from tests.datasets import SPEC, toy_frame
from tests.reliability.hostile import Case, _spec
from mmm_pipeline.resources import DatasetResource, WarehouseResource


def _layout(tmp_path: Path) -> tuple[Path, Path]:
    """data/spec.yaml (the dataset folder) and outside/toy.csv (a valid file outside it)."""
    inside, outside = tmp_path / "data", tmp_path / "outside"
    inside.mkdir()
    outside.mkdir()
    toy_frame().to_csv(outside / "toy.csv", index=False)
    return inside, outside


def _spec_file(folder: Path, files: list[str]) -> Path:
    import yaml
    path = folder / "spec.yaml"
    path.write_text(yaml.safe_dump(dict(SPEC, files=files)))
    return path


def _ingest(spec_path: Path, warehouse: Path, allow: bool = False):
    return raw_marketing_data(dg.build_asset_context(),
                              dataset=DatasetResource(spec_path=str(spec_path), allow_outside_paths=allow),
                              warehouse=WarehouseResource(database=str(warehouse)))


def _outside_cases(inside: Path, outside: Path) -> dict[str, str]:
    (inside / "link.csv").symlink_to(outside / "toy.csv")
    (inside / "linked_dir").symlink_to(outside, target_is_directory=True)
    return {
        "dotdot": "../outside/toy.csv",
        "deep_dotdot": "../../../../../../../../etc/passwd",
        "absolute": str(outside / "toy.csv"),
        "absolute_etc": "/etc/passwd",
        "symlink_file": "link.csv",
        "symlink_dir": "linked_dir/toy.csv",
        "sneaky": "./sub/../../outside/toy.csv",
    }


@pytest.mark.parametrize("case", ["dotdot", "deep_dotdot", "absolute", "absolute_etc", "symlink_file", "symlink_dir",
                                  "sneaky"])
def test_spec_pointing_outside_its_folder_is_refused(tmp_path, case):
    inside, outside = _layout(tmp_path)
    target = _outside_cases(inside, outside)[case]
    spec_path = _spec_file(inside, [target])
    with pytest.raises(DataContractError, match="outside the spec's folder") as info:
        validate_dataset(DatasetSpec.from_yaml(spec_path))
    assert info.value.column == "files" and target in str(info.value)
    with pytest.raises(DataContractError, match="outside"):
        load_panel(spec_path)
    # the ingest asset refuses it the same way, as rejected input, and writes nothing
    with pytest.raises(dg.Failure, match="input rejected: .*outside the spec's folder"):
        _ingest(spec_path, tmp_path / "warehouse.duckdb")
    if (tmp_path / "warehouse.duckdb").exists():
        with duckdb.connect(str(tmp_path / "warehouse.duckdb"), read_only=True) as conn:
            assert not conn.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = 'raw_marketing'"
                                    ).fetchone()[0]


@pytest.mark.parametrize("case", ["dotdot", "absolute", "symlink_file", "symlink_dir"])
def test_outside_paths_load_when_configuration_allows_them(tmp_path, case):
    inside, outside = _layout(tmp_path)
    spec_path = _spec_file(inside, [_outside_cases(inside, outside)[case]])
    files = validate_dataset(DatasetSpec.from_yaml(spec_path), allow_outside_paths=True)
    assert [f.path for f in files] == [(outside / "toy.csv").resolve()]
    _ingest(spec_path, tmp_path / "warehouse.duckdb", allow=True)
    with duckdb.connect(str(tmp_path / "warehouse.duckdb"), read_only=True) as conn:
        assert conn.execute("SELECT count(*) FROM raw_marketing").fetchone()[0] == len(toy_frame())


def test_symlink_inside_the_folder_is_fine(tmp_path):
    inside, _ = _layout(tmp_path)
    Case(toy_frame(), _spec(), "good").write(inside / "real")
    (inside / "alias.csv").symlink_to(inside / "real" / "data.csv")
    spec_path = _spec_file(inside, ["alias.csv"])
    assert len(validate_dataset(DatasetSpec.from_yaml(spec_path))[0].frame) == len(toy_frame())


def test_every_spec_file_is_loaded_check_also_refuses_outside_paths(tmp_path):
    """The blocking check resolves files with the same rule, so it cannot be used to probe other files."""
    from mmm_pipeline.defs.ingest.checks import every_spec_file_is_loaded
    inside, outside = _layout(tmp_path)
    spec_path = _spec_file(inside, [str(outside / "toy.csv")])
    with pytest.raises(DataContractError, match="outside"):
        every_spec_file_is_loaded(dataset=DatasetResource(spec_path=str(spec_path)),
                                  warehouse=WarehouseResource(database=str(tmp_path / "warehouse.duckdb")))
    assert os.path.exists(outside / "toy.csv")
