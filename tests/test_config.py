import numpy as np
import pytest

from meanfield.app.config import SCHEMA, dump_config, load_config, resolve


def test_default_is_complete_and_round_trips(tmp_path):
    cfg = load_config()
    assert cfg["name"] == "default" and set(cfg) == {"name"} | set(SCHEMA)
    assert cfg["model"]["beta"] == 9.0 and cfg["mesh"]["kind"] == "icosphere"
    assert cfg["solver"]["degree"] == 1 and cfg["particles"]["enabled"]
    path = tmp_path / "resolved.toml"
    path.write_text(dump_config(cfg))
    assert load_config(path) == cfg


def test_partial_table_fills_defaults():
    cfg = resolve(
        {"name": "circle9", "mesh": {"kind": "circle", "cells": 64}, "model": {"beta": 4}}
    )
    assert cfg["model"]["beta"] == 4.0 and isinstance(cfg["model"]["beta"], float)
    assert cfg["mesh"]["cells"] == 64 and cfg["solver"]["cfl"] == SCHEMA["solver"]["cfl"].default


def test_model_diffusion_defaults_to_zero():
    assert load_config()["model"]["diffusion"] == 0.0
    assert resolve({"model": {"diffusion": 0.3}})["model"]["diffusion"] == 0.3


def test_explicit_matrix_and_random():
    q = np.eye(3).tolist()
    cfg = resolve({"model": {"Q": q, "K": "random:3"}})
    assert cfg["model"]["Q"] == q and cfg["model"]["K"] == "random:3"


@pytest.mark.parametrize(
    "table, match",
    [
        (
            {"model": {"betta": 1.0}},
            r"unknown config key 'model.betta'; allowed in \[model\]: beta",
        ),
        ({"modle": {}}, "unknown config section 'modle'"),
        ({"model": {"beta": "9"}}, "'model.beta' must be a number, got '9'"),
        ({"model": {"beta": -1}}, "'model.beta' must be >= 0"),
        ({"model": {"diffusion": -0.1}}, "'model.diffusion' must be >= 0"),
        ({"model": {"diffusion": "x"}}, "'model.diffusion' must be a number"),
        ({"model": {"Q": [[1, 0], [0, 1]]}}, "'model.Q' must be a 3 x 3 matrix for a icosphere"),
        ({"model": {"V": [[1, 0, 0], [0, 1]]}}, "'model.V' must be"),
        ({"particles": {"n": -5}}, "'particles.n' must be >= 1, got -5"),
        ({"particles": {"n": 2.5}}, "'particles.n' must be an integer"),
        ({"solver": {"degree": 3}}, r"'solver.degree' must be one of \[0, 1, 2\]"),
        ({"mesh": {"kind": "file", "path": "/no/such.vtu"}}, "no such file"),
        ({"mesh": {"kind": "torus"}}, "'mesh.kind' must be one of"),
        ({"output": {"render": [0.0, 99.0]}}, "'output.render' must be times within"),
        ({"initial": {"amplitude": 2.0}}, "'initial.amplitude'"),
        ({"name": "a/b"}, "'name' must be"),
    ],
)
def test_bad_configs_name_the_key(table, match):
    with pytest.raises(ValueError, match=match):
        resolve(table)


def test_bad_files(tmp_path):
    with pytest.raises(ValueError, match="does not exist"):
        load_config(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[model\nbeta = 1")
    with pytest.raises(ValueError, match="not valid TOML"):
        load_config(bad)
