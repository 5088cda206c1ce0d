import json

import numpy as np
import pytest
import pyvista as pv

from meanfield.app.io import atomic_write, load_npz, save_json, save_npz, write_pvd, write_vtu


def test_npz_round_trip_without_pickle(tmp_path):
    save_npz(tmp_path / "a.npz", t=np.arange(3.0), x=np.ones((3, 2, 2)))
    got = load_npz(tmp_path / "a.npz")
    np.testing.assert_array_equal(got["t"], np.arange(3.0))
    assert got["x"].shape == (3, 2, 2)
    with pytest.raises(ValueError, match="dtype object"):
        save_npz(tmp_path / "b.npz", bad=np.array([{}, 1], dtype=object))
    assert not (tmp_path / "b.npz").exists()


def test_failed_write_keeps_old_file_and_leaves_no_temp(tmp_path):
    target = tmp_path / "summary.json"
    save_json(target, {"a": 1})

    def broken(tmp):
        tmp.write_text("{half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        atomic_write(target, broken)
    assert json.loads(target.read_text()) == {"a": 1}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["summary.json"]


def test_vtu_and_pvd_read_back(tmp_path):
    pts = np.array([[1.0, 0, 0], [0, 1.0, 0], [0, 0, 1.0], [-1.0, 0, 0]])
    cells = np.array([[0, 1, 2], [1, 3, 2]])
    frames = []
    for k, t in enumerate([0.0, 0.5]):
        name = f"frame_{k:04d}.vtu"
        write_vtu(
            tmp_path / name,
            pts,
            cells,
            pv.CellType.TRIANGLE,
            point_data={"rho": np.full(4, t)},
            cell_data={"mean": [t, 2 * t]},
        )
        frames.append((t, name))
    write_pvd(tmp_path / "density.pvd", frames)
    grid = pv.read(tmp_path / "frame_0001.vtu")
    assert grid.n_cells == 2 and grid.n_points == 4
    np.testing.assert_array_equal(grid.point_data["rho"], 0.5)
    reader = pv.get_reader(str(tmp_path / "density.pvd"))
    assert list(reader.time_values) == [0.0, 0.5]
    reader.set_active_time_value(0.5)
    np.testing.assert_array_equal(reader.read()[0].cell_data["mean"], [0.5, 1.0])
