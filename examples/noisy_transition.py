"""The noise-driven phase transition of USA attention: bifurcation diagrams with hysteresis.

Noisy tokens dX = X[mu] dt + sqrt(2D) dW and their Fokker-Planck density (USA, Q = K = V = I):
the uniform state is stable for D > D_c and clusters form below. Sweeping D/D_c down and then
up again (every run starts from the previous stationary state) shows whether the clustered
branch appears continuously (supercritical, small beta) or with a jump and hysteresis
(subcritical, large beta). The measured diagrams (PDE and noisy tokens) are compared with the
exact branch of Gibbs states rho ~ exp(Z_rho / (beta D)) (meanfield.theory.gibbs_branch), and
the beta where the type changes is located by continuation of that branch (and by the weakly
nonlinear formula I_{d/2+1}(beta)/I_{d/2}(beta) = 1/d).

    python examples/noisy_transition.py            # full study (~1 h on 2 loaded cores)
    python examples/noisy_transition.py --small    # about a minute
"""

import time
from pathlib import Path

import numpy as np

import meanfield as mf
from meanfield.studies.transition import (
    classify_sweep,
    locate_tricritical,
    noise_sweep,
    theory_branch,
    token_sweep,
)

#: Sweeps per sphere: betas, mesh level, DG degree, tokens, the betas that also get tokens.
FULL = {
    2: {"betas": (2.0, 3.0, 4.0), "level": 12, "degree": 2, "tokens": 1000,
        "token_betas": (4.0,),
        "ratios": (1.25, 1.15, 1.1, 1.06, 1.03, 1.0, 0.97, 0.94, 0.9, 0.85)},
    3: {"betas": (1.5, 4.0), "level": 1, "degree": 1, "tokens": 500,
        "token_betas": (4.0,), "ratios": (1.35, 1.3, 1.25, 1.2, 1.1, 1.0, 0.95, 0.9, 0.8)},
}  # fmt: skip
SMALL = {2: {"betas": (4.0,), "level": 8, "degree": 1, "tokens": 300, "token_betas": (4.0,),
             "ratios": (1.1, 1.03, 0.9)}}  # fmt: skip
#: Tokens count as clustered above this |m| (n = 1000 uniform tokens near D_c fluctuate to ~0.1).
TOKEN_THRESHOLD = 0.3
STATIONARY = {"chunk": 2.0, "tol": 1e-4, "t_max": 200.0}


def _sweeps(d, cfg, small):
    ratios = cfg["ratios"]
    mesh = mf.SphereMesh.circle(cfg["level"]) if d == 2 else mf.SphereMesh.icosphere(cfg["level"])
    space = mf.DG(mesh, cfg["degree"])
    out = []
    for beta in cfg["betas"]:
        model = mf.Attention(beta, normalized=False)
        t0 = time.process_time()
        pde = noise_sweep(model, space, ratios, rng=[d, int(10 * beta)], **STATIONARY)
        entry = {"d": d, "beta": beta, "pde": pde, "pde_class": classify_sweep(pde),
                 "theory": theory_branch(beta, d), "cpu_pde": time.process_time() - t0}  # fmt: skip
        if beta in cfg["token_betas"]:
            t0 = time.process_time()
            x0 = mf.sample_sphere(cfg["tokens"], d, np.random.default_rng([d, int(10 * beta), 1]))
            burn, window = (5.0, 5.0) if small else (20.0, 20.0)
            tok = token_sweep(model, x0, ratios, burn=burn, window=window, rng=[d, 7])
            entry.update(tokens=tok, token_class=classify_sweep(tok, TOKEN_THRESHOLD),
                         cpu_tokens=time.process_time() - t0)  # fmt: skip
        out.append(entry)
        if not small:
            print(_line(entry), flush=True)
    return out


def _line(e) -> str:
    c, th = e["pde_class"], e["theory"]
    tok = e.get("token_class")
    tokens = f"; tokens {tok['type']} width {tok['width']:.2f}" if tok else ""
    return (
        f"S^{e['d'] - 1} beta={e['beta']:g}: PDE {c['type']} (on {c['on']}, off {c['off']}, "
        f"width {c['width']:.2f}, jump |m| {c['jump_size']:.3f}); Gibbs branch fold "
        f"{th['fold']:.4f} (width {th['width']:.4f}, jump {th['jump']:.3f}){tokens}"
        f" [{e['cpu_pde']:.0f} s]"
    )


def _bracket(entries):
    """(largest beta measured continuous, smallest beta measured jump) on the PDE."""
    cont = [e["beta"] for e in entries if e["pde_class"]["type"] == "continuous"]
    jump = [e["beta"] for e in entries if e["pde_class"]["type"] == "jump"]
    return (max(cont) if cont else None, min(jump) if jump else None)


def plot(results, path):
    """Bifurcation diagrams |m| against D/D_c, one panel per sphere."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ds = sorted(results)
    fig, axes = plt.subplots(1, len(ds), figsize=(6.5 * len(ds), 4.8), squeeze=False)
    for ax, d in zip(axes[0], ds, strict=True):
        for k, e in enumerate(results[d]):
            color = f"C{k}"
            th = e["theory"]
            fold = int(np.argmax(th["ratio"]))
            stable = slice(fold, None) if th["width"] > 0 else slice(None)
            ax.plot(th["ratio"][stable], th["m"][stable], "-", color=color, lw=1,
                    label=f"beta={e['beta']:g}")  # fmt: skip
            if th["width"] > 0:
                ax.plot(th["ratio"][: fold + 1], th["m"][: fold + 1], ":", color=color, lw=1)
            for direction, marker in (("down", "v"), ("up", "^")):
                rows = [r for r in e["pde"] if r["direction"] == direction]
                ax.plot([r["ratio"] for r in rows], [r["order"] for r in rows], marker,
                        color=color, ms=5, mfc="none" if direction == "up" else color)  # fmt: skip
            if "tokens" in e:
                rows = e["tokens"]
                ax.plot([r["ratio"] for r in rows], [r["order"] for r in rows], "x",
                        color=color, ms=5)  # fmt: skip
        ax.axvline(1.0, color="0.6", lw=0.8)
        ax.set_xlabel("D / D_c")
        ax.set_ylabel("|m|")
        ax.set_title(f"S^{d - 1}, USA: PDE down (v) / up (^), tokens (x), Gibbs branch")
        ax.legend(fontsize=8)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def _save_rows(results, path):
    """Every sweep row (PDE and tokens) as JSON, so the classification can be re-read."""
    import json

    rows = [{"d": d, "beta": e["beta"], "kind": kind, **r}
            for d, entries in results.items() for e in entries
            for kind in ("pde", "tokens") for r in e.get(kind, [])]  # fmt: skip
    path.write_text(json.dumps(rows, indent=1, default=float))


def main(small=False, out="out/noisy_transition"):
    """Run the sweeps; save ``noisy_transition.png`` into ``out``.

    Returns
    -------
    dict
        ``classes`` {d: {beta: PDE classification}}, ``token_classes``, ``theory`` {d: {beta:
        (fold, width, jump)}}, ``tricritical`` {d: (continuation, weakly nonlinear)},
        ``bracket`` {d: (largest continuous beta, smallest jump beta) on the PDE},
        ``width_beta4`` {d: (measured PDE width, theory width)} in D/D_c and in D, ``cpu_s``,
        ``wall_s``, ``figure``.
    """
    wall, cpu = time.time(), time.process_time()
    config = SMALL if small else FULL
    jobs = [(d, {**cfg, "betas": (b,)}) for d, cfg in config.items() for b in cfg["betas"]]
    if small:
        parts = [_sweeps(d, cfg, small) for d, cfg in jobs]
    else:  # one process per (sphere, beta), three at a time
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(3) as pool:
            parts = [f.result() for f in [pool.submit(_sweeps, d, c, small) for d, c in jobs]]
    results = {}
    for (d, _), entries in zip(jobs, parts, strict=True):
        results.setdefault(d, []).extend(entries)
    summary = {"classes": {}, "token_classes": {}, "theory": {}, "tricritical": {},
               "bracket": {}, "width_beta4": {}}  # fmt: skip
    for d, entries in results.items():
        summary["classes"][d] = {e["beta"]: e["pde_class"] for e in entries}
        summary["token_classes"][d] = {e["beta"]: e["token_class"] for e in entries
                                       if "token_class" in e}  # fmt: skip
        summary["theory"][d] = {e["beta"]: (e["theory"]["fold"], e["theory"]["width"],
                                            e["theory"]["jump"]) for e in entries}  # fmt: skip
        summary["tricritical"][d] = (locate_tricritical(d), mf.theory.tricritical_beta(d))
        summary["bracket"][d] = _bracket(entries)
        for e in entries:
            if e["beta"] == 4.0:
                Dc = mf.theory.critical_diffusion(4.0, d, normalized=False)
                w, wt = e["pde_class"]["width"], e["theory"]["width"]
                summary["width_beta4"][d] = {"measured": w, "theory": wt,
                                             "measured_D": w * Dc, "theory_D": wt * Dc}  # fmt: skip
    summary["figure"] = str(plot(results, Path(out) / "noisy_transition.png"))
    _save_rows(results, Path(out) / "sweeps.json")
    summary["cpu_s"] = time.process_time() - cpu
    summary["wall_s"] = time.time() - wall
    return summary


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="a small, quick version")
    parser.add_argument("--out", default="out/noisy_transition", help="output directory")
    args = parser.parse_args()
    result = main(small=args.small, out=args.out)
    for key in ("tricritical", "bracket", "width_beta4", "token_classes", "cpu_s", "wall_s"):
        print(key, result[key])
