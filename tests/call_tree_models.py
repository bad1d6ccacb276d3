"""A generated model with a wide call tree, for the widget's tests at scale."""


def write_500_site_module(path):
    """model calls g0..g49, each g calls nine of h0..h29: 500 call sites, three levels."""
    lines = ["import numpy as np", ""]
    for j in range(30):
        lines += [f"def h{j}(u):", f"    return u * {1 + j / 100} + np.sin(u) * 0.01", ""]
    for i in range(50):
        lines.append(f"def g{i}(u):")
        lines += [f"    u = h{(i * 9 + k) % 30}(u)" for k in range(9)]
        lines += ["    return u", ""]
    lines.append("def model(u):")
    lines += [f"    u = g{i}(u)" for i in range(50)]
    lines += ["    return np.sum(u * u)", ""]
    path.write_text("\n".join(lines), encoding="utf-8")
