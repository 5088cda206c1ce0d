"""examples/clustering.py in small mode: PDE and tokens cluster on S^1 and S^2."""


def test_clustering_small(tmp_path):
    import clustering

    res = clustering.main(small=True, out=tmp_path)
    # SA growth rates (d = 2, beta = 9): the fastest-growing mode is l = 4, and that many clusters
    # form first in the density; the 200 sampled tokens carry their own sampling noise
    assert res["fastest_mode_circle"] == 4
    assert res["circle_clusters_pde"] == 4
    assert abs(res["circle_clusters_tokens"] - 4) <= 1
    # S^2: clusters have formed in both (not one spread-out blob, not collapsed)
    assert 2 <= res["sphere_clusters_pde"] <= 8 and res["sphere_clusters_tokens"] >= 2
    for key in ["circle_mass_drift", "sphere_mass_drift"]:
        assert res[key] < 1e-12, key
    assert res["circle_min_density"] >= 0 and res["sphere_min_density"] >= 0
    for name in ["circle_spacetime.png", "circle_final.png", "sphere_t0.0.png", "sphere_t4.5.png"]:
        assert (tmp_path / name).stat().st_size > 10_000, name
