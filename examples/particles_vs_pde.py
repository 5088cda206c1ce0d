"""The mean-field limit: tokens sampled from a density against the PDE, as n grows.

n tokens are drawn exactly from a smooth initial density (a two-component von Mises-Fisher
mixture), moved by the self-attention ODE (SA, beta = 1, Q = K = V = I), and compared at
t = 1, 2, 4 with the DG solution of the mean-field equation on several meshes. The distance
(exact circular W1 on S^1, spherical sliced W1 on S^2: see meanfield.studies.mean_field) falls like
n^{-1/2} until the mesh error of the PDE takes over; that floor falls with the mesh.

    python examples/particles_vs_pde.py            # full study (a few minutes on 2 cores)
    python examples/particles_vs_pde.py --small    # seconds
"""

import time
from pathlib import Path

from meanfield.app.report import mean_field_tables, plot_mean_field
from meanfield.studies.mean_field import mean_field_study, summarize_mean_field

FULL = {
    2: {"seeds": range(16), "levels": (8, 16, 32, 128)},
    3: {"seeds": range(8), "levels": (1, 2, 3, 4)},
}
SMALL = {
    2: {"ns": (250, 500, 1000), "seeds": range(4), "levels": (16, 32), "times": (1.0, 2.0)},
    3: {"ns": (250, 500), "seeds": range(2), "levels": (1, 2), "times": (1.0, 2.0),
        "density_points": 20_000},
}  # fmt: skip


def main(small=False, out="out/particles_vs_pde"):
    """Run the study on S^1 and S^2; save ``particles_vs_pde.png`` into ``out``.

    Returns
    -------
    dict
        ``slopes`` {d: {t: slope}}, ``moment_slopes``, ``floors`` {d: {mesh: {t: plateau}}},
        ``mesh_errors`` {d: {mesh: {t: distance to the finest mesh}}}, ``mass_drift``,
        ``cpu_s``, ``wall_s``, ``figure``.
    """
    wall, cpu = time.time(), time.process_time()
    config = SMALL if small else FULL
    results = [mean_field_study(d, progress=not small, **config[d]) for d in (2, 3)]
    figure = plot_mean_field(results, Path(out) / "particles_vs_pde.png")
    summary = {"slopes": {}, "moment_slopes": {}, "floors": {}, "mesh_errors": {}}
    for res in results:
        d, s = res["d"], summarize_mean_field(res)
        summary["slopes"][d] = {r["t"]: r["slope"] for r in s["slopes"]}
        summary["moment_slopes"][d] = {r["t"]: r["moment_slope"] for r in s["slopes"]}
        summary["floors"][d] = {}
        summary["mesh_errors"][d] = {}
        for r in s["floors"]:
            summary["floors"][d].setdefault(r["mesh"], {})[r["t"]] = r["plateau"]
            if r["mesh_error"] is not None:
                summary["mesh_errors"][d].setdefault(r["mesh"], {})[r["t"]] = r["mesh_error"]
        if not small:
            print("\n".join(mean_field_tables(res)))
    summary["mass_drift"] = max(res["mass_drift"] for res in results)
    summary["cpu_s"] = time.process_time() - cpu
    summary["wall_s"] = time.time() - wall
    summary["figure"] = str(figure)
    return summary


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="a small, quick version (seconds)")
    parser.add_argument("--out", default="out/particles_vs_pde", help="output directory")
    args = parser.parse_args()
    result = main(small=args.small, out=args.out)
    print({k: v for k, v in result.items() if k in ("slopes", "moment_slopes", "cpu_s", "wall_s")})
