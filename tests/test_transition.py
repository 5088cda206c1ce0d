"""meanfield.studies.transition: stationary noisy states, the USA Gibbs form, noise sweeps."""

import numpy as np
import pytest

import meanfield as mf
from meanfield.studies.transition import (
    classify_sweep,
    gibbs_residual,
    locate_tricritical,
    noise_sweep,
    order_parameter,
    stationary_density,
    theory_branch,
)


def _stable_m(beta, d, ratio):
    """|m| of the stable clustered state at D = ratio D_c from the exact branch."""
    th = theory_branch(beta, d, np.linspace(0.005, 0.97, 400))
    k = int(np.argmax(th["ratio"]))
    return float(np.interp(ratio, th["ratio"][k:][::-1], th["m"][k:][::-1]))


def _stationary(d, level, p, beta, ratio):
    mesh = mf.SphereMesh.circle(level) if d == 2 else mf.SphereMesh.icosphere(level)
    space = mf.DG(mesh, p)
    centre = [[1.0, 0.0]] if d == 2 else [[0.0, 0.0, 1.0]]
    rho0 = space.interpolate(mf.initial.VonMisesFisher(centres=centre, kappa=[3.0]))
    model = mf.Attention(beta, normalized=False)
    D = ratio * mf.theory.critical_diffusion(beta, d, normalized=False)
    rho, info = stationary_density(model, rho0, D, chunk=1.0, tol=1e-4)
    info["mass_drift"] = abs(rho.integrate() / rho0.integrate() - 1)
    return rho, info, gibbs_residual(rho, beta, D)


def test_usa_stationary_density_is_gibbs_to_the_mesh_error():
    """S^1, beta = 2, D = 0.7 D_c, p = 2: ||rho - G(rho)||_1 falls like h^3 with the mesh, and
    |m| agrees with the exact Gibbs branch; S^2: the residual and |m| error fall with the mesh."""
    beta, ratio = 2.0, 0.7
    res = []
    for level in (8, 16, 32):
        rho, info, r = _stationary(2, level, 2, beta, ratio)
        assert info["converged"] and info["mass_drift"] < 1e-12
        res.append(r)
        print(f"S^1 circle({level}) p=2: Gibbs residual {r:.3e}, |m| {info['order']:.6f}, "
              f"E {info['energy']:.6f}, t {info['t']:g}/D_c")  # fmt: skip
    rate = -np.polyfit(np.log([8, 16, 32]), np.log(res), 1)[0]
    print(f"fitted rate of the Gibbs residual: {rate:.3f}")
    assert rate > 2.5 and res[-1] < 1e-3
    assert info["order"] == pytest.approx(_stable_m(beta, 2, ratio), abs=2e-4)
    errs = []
    for level in (0, 1):
        rho, info, r = _stationary(3, level, 2, beta, ratio)
        errs.append((r, abs(info["order"] - _stable_m(beta, 3, ratio))))
        print(f"S^2 icosphere({level}) p=2: Gibbs residual {r:.3e}, |m| {info['order']:.6f}")
    assert errs[1][0] < 0.3 * errs[0][0] and errs[1][1] < 0.1 * errs[0][1]
    assert errs[1][1] < 2e-3


def test_sa_stationary_state_is_not_usa_gibbs():
    """The residual is not trivially small: an SA stationary state is far from the USA form."""
    space = mf.DG(mf.SphereMesh.circle(16), 2)
    rho0 = space.interpolate(mf.initial.VonMisesFisher(centres=[[1.0, 0.0]], kappa=[3.0]))
    D = 0.7 * mf.theory.critical_diffusion(2.0, 2)
    rho, info = stationary_density(mf.Attention(2.0), rho0, D, chunk=1.0, tol=1e-4)
    assert info["converged"] and info["order"] > 0.3
    assert gibbs_residual(rho, 2.0, D) > 0.1


def test_order_parameter():
    space = mf.DG(mf.SphereMesh.icosphere(1), 1)
    uniform = space.interpolate(lambda x: np.ones(len(x)))
    assert order_parameter(uniform) < 1e-12
    x = np.tile([0.0, 1.0, 0.0], (5, 1))
    assert order_parameter(x) == pytest.approx(1.0)
    assert order_parameter(np.array([[1.0, 0.0], [-1.0, 0.0]])) == pytest.approx(0.0)


def test_unstable_uniform_is_left_and_stable_uniform_is_kept():
    """Seeded sweep on a coarse circle: uniform at D = 1.2 D_c, clusters at 0.8 D_c."""
    model = mf.Attention(2.0, normalized=False)
    space = mf.DG(mf.SphereMesh.circle(12), 1)
    rows = noise_sweep(model, space, [1.2, 0.8], chunk=2.0, tol=1e-3)
    assert [r["direction"] for r in rows] == ["down", "down", "up"]
    assert rows[0]["order"] < 0.01 and rows[0]["converged"]
    assert rows[1]["order"] > 0.5
    assert rows[2]["order"] < 0.01  # beta = 2 < beta*: no hysteresis at 1.2 D_c


def test_classify_sweep():
    def rows(down, up, ratios):
        def row(direction, r, m):
            return {"direction": direction, "ratio": r, "order": m}

        out = [row("down", r, m) for r, m in zip(ratios, down, strict=True)]
        return out + [row("up", r, m) for r, m in zip(ratios[::-1][1:], up, strict=True)]

    ratios = [1.1, 1.0, 0.9, 0.8]
    # a slowly relaxing state at D_c itself (0.15 at ratio 1.0 going up) is not hysteresis
    cont = classify_sweep(rows([0, 0, 0.2, 0.35], [0.2, 0.15, 0], ratios))
    assert cont["type"] == "continuous" and cont["width"] == 0.0 and cont["on"] == 0.9
    jump = classify_sweep(rows([0, 0, 0.8, 0.85], [0.8, 0.75, 0.7], ratios))
    assert jump["type"] == "jump" and jump["width"] == pytest.approx(0.2) and jump["off"] == 1.1


@pytest.mark.parametrize("d", [2, 3])
def test_tricritical_beta_two_ways(d):
    """Continuation of the exact branch and the weakly nonlinear formula agree to 1e-3."""
    assert locate_tricritical(d) == pytest.approx(mf.theory.tricritical_beta(d), abs=1e-3)


def test_theory_branch_hysteresis_at_beta_4():
    s1, s2 = theory_branch(4.0, 2), theory_branch(4.0, 3)
    assert s1["width"] == pytest.approx(0.0589, abs=2e-4)
    assert s2["width"] == pytest.approx(0.2632, abs=2e-4)
    assert theory_branch(1.5, 2)["width"] == 0.0 and theory_branch(1.5, 2)["jump"] == 0.0
