"""meanfield.eulerian.diffusion: the SIPG Laplacian on curved meshes, and the heat equation
through solve_density(..., diffusion=D) (Strang IMEX)."""

import numpy as np
import pytest

import meanfield as mf
from meanfield.eulerian.diffusion import SIPGLaplacian, laplacian
from meanfield.harmonics import real_harmonic


def _mesh(d, level):
    return mf.SphereMesh.circle(level) if d == 2 else mf.SphereMesh.icosphere(level)


def still(t, x):
    return np.zeros_like(x)


@pytest.mark.parametrize(("d", "level", "p"), [(2, 12, 1), (2, 12, 2), (3, 1, 1), (3, 1, 2)])
def test_matrix_symmetric_semidefinite_with_constants_as_kernel(d, level, p):
    space = mf.DG(_mesh(d, level), p)
    lap = SIPGLaplacian(space)
    A = lap.matrix.toarray()
    assert np.abs(A - A.T).max() <= 1e-12 * np.abs(A).max()
    M = lap.mass.toarray()
    # generalised eigenvalues of (A, M): one zero (the constants), the rest positive
    w = np.sort(np.real(np.linalg.eigvals(np.linalg.solve(M, A))))
    assert abs(w[0]) < 1e-9 and w[1] > 0.5
    assert np.abs(A @ np.ones(len(A))).max() < 1e-12 * np.abs(A).max()


@pytest.mark.parametrize("d", [2, 3])
def test_rayleigh_quotient_of_harmonics_is_their_eigenvalue(d):
    """a(Y, Y)/(Y, Y) -> l(l + d - 2) for the interpolated harmonic Y (p = 2)."""
    space = mf.DG(_mesh(d, 32 if d == 2 else 3), 2)
    lap = laplacian(space)
    assert laplacian(space) is lap  # assembled once per space
    for ell in (1, 2, 3):
        c = space.interpolate(lambda x, ell=ell: real_harmonic(ell, 1, x)).coefficients.ravel()
        q = (c @ (lap.matrix @ c)) / (c @ (lap.mass @ c))
        assert q == pytest.approx(ell * (ell + d - 2), rel=2e-3)


def _heat_error(d, level, p, D=0.2, T=0.5, ell=2, dt=1 / 64):
    space = mf.DG(_mesh(d, level), p)
    rho0 = space.interpolate(lambda x: 1.0 + 0.5 * real_harmonic(ell, 1, x))
    sol = mf.solve_density(still, rho0, [0.0, T], diffusion=D, dt_max=dt)
    decay = np.exp(-ell * (ell + d - 2) * D * T)
    err = sol[-1].errors(lambda x: 1.0 + 0.5 * decay * real_harmonic(ell, 1, x))["l2"]
    return err, abs(sol.mass[-1] / sol.mass[0] - 1), sol


@pytest.mark.parametrize(("d", "levels", "p", "target"), [
    (2, (8, 16, 32), 1, 1.8), (2, (8, 16, 32), 2, 2.7),
    (3, (1, 2, 3), 1, 1.8), (3, (0, 1, 2), 2, 2.7),
])  # fmt: skip
def test_heat_equation_converges_at_rate_p_plus_one(d, levels, p, target):
    """Spherical harmonics decay as exp(-l(l + d - 2) D t); L2 error ~ h^{p+1}."""
    errs, drifts = [], []
    for level in levels:
        e, drift, _ = _heat_error(d, level, p)
        errs.append(e)
        drifts.append(drift)
    h = 1.0 / np.array(levels, float) if d == 2 else 2.0 ** -np.array(levels, float)
    rate = np.polyfit(np.log(h), np.log(errs), 1)[0]
    print(f"heat S^{d - 1} p={p} levels {levels}: L2 errors {errs}, fitted rate {rate:.3f}")
    assert rate > target
    assert max(drifts) < 1e-13


def compressive(t, x):
    """u = cos(theta) e_theta on the circle: it does not commute with the Laplacian."""
    return x[:, :1] * np.column_stack([-x[:, 1], x[:, 0]])


def test_imex_time_order_two():
    """Strang IMEX with SDIRK2: the time error (mesh fixed) falls like dt^2.

    On a coarse mesh the order is 2.0; on stiffer meshes (circle(32), p = 2, where dt times the
    largest eigenvalue of D A is >> 1) it drops to 1.86 over dt = 1/16..1/128, the stiff order
    reduction of splitting schemes.
    """
    space = mf.DG(mf.SphereMesh.circle(8), 1)
    rho0 = space.interpolate(lambda x: np.exp(2 * x[:, 0]))
    ref = mf.solve_density(compressive, rho0, [0.0, 1.0], diffusion=0.3, dt_max=1 / 2048)[-1]
    errs = []
    for n in (16, 32, 64):
        out = mf.solve_density(compressive, rho0, [0.0, 1.0], diffusion=0.3, dt_max=1 / n, cfl=50)
        errs.append(
            np.sqrt(np.sum((out[-1] - ref).quadrature_values() ** 2 * space.quadrature.weights))
        )
    rate = -np.polyfit(np.log([16, 32, 64]), np.log(errs), 1)[0]
    print(f"IMEX time errors (L2) {errs}, fitted order {rate:.3f}")
    assert 1.85 < rate < 2.3


@pytest.mark.parametrize("p", [1, 2])
def test_sharp_bump_stays_non_negative_and_keeps_mass(p):
    """A near-Dirac start on a coarse mesh: cell means and check points stay >= 0."""
    space = mf.DG(mf.SphereMesh.icosphere(1), p)
    rho0 = space.interpolate(mf.initial.VonMisesFisher(centres=[[0.0, 0.0, 1.0]], kappa=[60.0]))
    rho0 = rho0.limit()
    sol = mf.solve_density(still, rho0, np.linspace(0, 0.2, 5), diffusion=0.5, dt_max=0.05)
    for r in sol.densities:
        assert r.cell_means().min() >= 0 and r.min_value() >= -1e-14
    assert np.abs(sol.mass / sol.mass[0] - 1).max() < 1e-13
    assert sol.method == "imex"


@pytest.mark.parametrize("bad", [-1e-3, float("nan"), float("inf"), "0.1", None])
def test_bad_diffusion_is_a_value_error_naming_it(bad):
    space = mf.DG(mf.SphereMesh.circle(8), 1)
    rho0 = space.interpolate(lambda x: 1.0 + 0 * x[:, 0])
    with pytest.raises(ValueError, match="diffusion"):
        mf.solve_density(still, rho0, [0.0, 0.1], diffusion=bad)


def test_explicit_method_with_diffusion_is_refused():
    space = mf.DG(mf.SphereMesh.circle(8), 1)
    rho0 = space.interpolate(lambda x: 1.0 + 0 * x[:, 0])
    with pytest.raises(ValueError, match="imex"):
        mf.solve_density(still, rho0, [0.0, 0.1], diffusion=0.1, method="ssprk2")


def test_zero_diffusion_is_the_noiseless_solver():
    space = mf.DG(mf.SphereMesh.circle(16), 1)
    rho0 = space.interpolate(lambda x: np.exp(x[:, 0]))
    model = mf.Attention(2.0)
    a = mf.solve_density(model, rho0, [0.0, 0.5])
    b = mf.solve_density(model, rho0, [0.0, 0.5], diffusion=0.0)
    np.testing.assert_array_equal(a[-1].coefficients, b[-1].coefficients)
    assert b.method == "ssprk3"


def test_lagrangian_scheme_refuses_diffusion():
    space = mf.DG(mf.SphereMesh.circle(8), 1)
    rho0 = space.interpolate(lambda x: 1.0 + 0 * x[:, 0])
    with pytest.raises(ValueError, match="scheme 'lagrangian' has no diffusion"):
        mf.solve_density(mf.Attention(1.0), rho0, [0.0, 0.1], scheme="lagrangian", diffusion=0.1)
    # zero noise is the noiseless Lagrangian solver
    sol = mf.solve_density(mf.Attention(1.0), rho0, [0.0, 0.1], scheme="lagrangian", diffusion=0.0)
    assert sol.scheme == "lagrangian"
