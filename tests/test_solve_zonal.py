"""solve_density on zonal meshes: the mean-field PDE on S^{d-1} reduced to the polar angle."""

import numpy as np
import pytest

import meanfield as mf
from meanfield.initial import ZonalCaps


def polar(x):
    return np.arctan2(x[:, 0], x[:, -1])


def test_collapse_of_a_cap_to_the_pole_at_beta_9_in_d_1024():
    # a von Mises-Fisher cap about e_d (mean polar angle 0.57) collapses onto the pole; the cap
    # ends up narrower than the first cell and the scheme must survive it
    d = 1024
    theta = np.unique(np.concatenate([np.linspace(0, 0.8, 41), np.linspace(0.8, np.pi, 13)]))
    rho0 = mf.DG(mf.SphereMesh.zonal(d, theta), 1).interpolate(ZonalCaps(d, 3000.0, 1.0))
    assert abs(rho0.integrate(polar) - 0.566) < 0.01
    sol = mf.solve_density(mf.Attention(9.0), rho0, [0.0, 2.0, 4.0, 6.0])
    for rho in sol.densities:
        assert np.all(np.isfinite(rho.coefficients))
        assert rho.min_value() >= 0.0 and rho.cell_means().min() >= 0.0
    np.testing.assert_allclose(sol.mass, sol.mass[0], rtol=0, atol=1e-12)
    mean_angle = [rho.integrate(polar) for rho in sol.densities]
    assert np.all(np.diff(mean_angle) < 0) and mean_angle[-1] < 0.02  # first cell: 0.02


def test_the_reduction_refuses_models_it_does_not_hold_for():
    rho0 = mf.DG(mf.SphereMesh.zonal(4, 20), 1).interpolate(ZonalCaps(4, 2.0))
    q = np.diag([1.0, 2.0, 1.0, 1.0])
    with pytest.raises(ValueError, match="multiple of the identity"):
        mf.solve_density(mf.Attention(1.0, Q=q), rho0, [0.0, 0.1])
    with pytest.raises(ValueError, match="zonal mesh"):
        mf.solve_density(mf.Attention(1.0), rho0, [0.0, 0.1], field="spectral")


def test_uniform_is_stationary_and_a_prescribed_zonal_field_moves_mass():
    space = mf.DG(mf.SphereMesh.zonal(8, 40), 2)
    uniform = space.interpolate(lambda x: np.ones(len(x)))
    sol = mf.solve_density(mf.Attention(4.0), uniform, [0.0, 1.0], dt_max=0.1)
    assert np.abs(sol[1].coefficients - sol[0].coefficients).max() < 1e-12

    # a prescribed velocity toward the north pole along the meridian: the mean angle falls
    def north(t, x):
        th = polar(x)
        return -np.sin(th)[:, None] * np.column_stack([np.cos(th), np.zeros((len(x), 6)),
                                                        -np.sin(th)])  # fmt: skip

    moved = mf.solve_density(north, uniform, [0.0, 0.5])
    assert moved[1].integrate(polar) < moved[0].integrate(polar) - 0.1
    assert abs(moved.mass[1] - moved.mass[0]) < 1e-13
