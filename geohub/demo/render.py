"""Pictures for the demo: matplotlib figures to RGB arrays, the knowledge-graph drawing, elevation colour maps.

Everything draws on `matplotlib.figure.Figure` with the Agg canvas (no pyplot), so it works in server threads.
"""

from __future__ import annotations

import numpy as np

__all__ = ["figure_to_array", "graph_picture", "elevation_picture", "hillshade_picture", "relief_picture",
           "landform_picture", "GEOMORPHON_COLOURS", "ENTITY_COLOURS", "attribution_waveform_picture",
           "attribution_overlay_picture"]  # fmt: skip

ENTITY_COLOURS = {
    "ROCK": "#8c564b", "MINERAL": "#e377c2", "STRAT": "#bcbd22", "LOCATION": "#1f77b4", "TIMESCALE": "#ff7f0e",
    "PHENOMENON": "#d62728", "METHOD": "#2ca02c", "QUANTITY": "#9467bd",
}  # fmt: skip


def figure_to_array(figure, dpi: int = 100) -> np.ndarray:
    """Render a matplotlib Figure to an `(H, W, 3)` uint8 RGB array."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = FigureCanvasAgg(figure)
    figure.set_dpi(dpi)
    canvas.draw()
    return np.asarray(canvas.buffer_rgba())[..., :3].copy()


def graph_picture(graph, *, max_nodes: int = 60) -> np.ndarray:
    """Draw a `geohub.knowledge.KnowledgeGraph`: entities coloured by label, edges labelled by relation.

    Returns an `(H, W, 3)` uint8 image; the `max_nodes` most connected entities are drawn."""
    import networkx as nx
    from matplotlib.figure import Figure

    full = graph.graph
    nodes = sorted(full.nodes, key=lambda n: (-full.degree(n), n))[:max_nodes]
    simple = nx.DiGraph()
    for node in nodes:
        simple.add_node(node, **{k: full.nodes[node][k] for k in ("label", "text")})
    for head, tail, data in full.edges(data=True):
        if head in simple and tail in simple:
            simple.add_edge(head, tail, relation=data["relation"])
    figure = Figure(figsize=(9, 6))
    axis = figure.add_subplot(1, 1, 1)
    axis.set_axis_off()
    if simple.number_of_nodes() == 0:
        axis.text(0.5, 0.5, "no entities found", ha="center", va="center", fontsize=14)
        return figure_to_array(figure)
    layout = nx.spring_layout(simple, seed=0, k=1.2 / max(1, simple.number_of_nodes()) ** 0.5)
    colours = [ENTITY_COLOURS.get(simple.nodes[n]["label"], "#7f7f7f") for n in simple.nodes]
    nx.draw_networkx_nodes(simple, layout, ax=axis, node_color=colours, node_size=420, alpha=0.85)
    nx.draw_networkx_labels(simple, layout, ax=axis, labels={n: simple.nodes[n]["text"][:28] for n in simple.nodes},
                            font_size=8)  # fmt: skip
    nx.draw_networkx_edges(simple, layout, ax=axis, arrows=True, arrowsize=12, edge_color="#555555")
    nx.draw_networkx_edge_labels(simple, layout, ax=axis, font_size=7,
                                 edge_labels={(h, t): d["relation"] for h, t, d in simple.edges(data=True)})  # fmt: skip
    labels = sorted({simple.nodes[n]["label"] for n in simple.nodes})
    handles = [axis.scatter([], [], color=ENTITY_COLOURS.get(label, "#7f7f7f"), label=label) for label in labels]
    axis.legend(handles=handles, loc="lower left", fontsize="small", frameon=False)
    axis.set_title(f"{full.number_of_nodes()} entities, {full.number_of_edges()} relations")
    return figure_to_array(figure)


def elevation_picture(elevation: np.ndarray, spacing_m: float, *, title: str = "elevation") -> np.ndarray:
    """An elevation colour map with a colour bar in metres and axes in km; `(H, W, 3)` uint8."""
    return _map_picture(elevation, spacing_m, cmap="terrain", title=title, colour_label="elevation (m)")


def hillshade_picture(shade: np.ndarray, spacing_m: float, *, title: str = "hillshade") -> np.ndarray:
    """A hillshade `(H, W)` in [0, 1] drawn in grey with axes in km; `(H, W, 3)` uint8."""
    return _map_picture(shade, spacing_m, cmap="gray", title=title, colour_label=None, limits=(0.0, 1.0))


# the ten geomorphon elements (geohub.data.geomorphons.GEOMORPHON_NAMES order), in the usual GRASS r.geomorphon hues
GEOMORPHON_COLOURS = ("#dcdcdc", "#380000", "#c80000", "#ff5014", "#ffa000", "#e6e600", "#b4ff96", "#55c8ff",
                      "#0064ff", "#000080")  # fmt: skip


def relief_picture(elevation: np.ndarray, spacing_m: float, *, title: str = "shaded relief") -> np.ndarray:
    """Elevation colours shaded by the relief (sun from the north-west), colour bar in metres; `(H, W, 3)` uint8."""
    from matplotlib import colormaps
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import LightSource, Normalize
    from matplotlib.figure import Figure

    z = np.asarray(elevation, dtype=np.float64)
    rows, cols = z.shape
    norm = Normalize(float(z.min()), float(z.max()) if np.ptp(z) > 0 else float(z.min()) + 1.0)
    rgb = LightSource(azdeg=315, altdeg=45).shade(z, cmap=colormaps["terrain"], norm=norm, vert_exag=2.0,
                                                  dx=spacing_m, dy=spacing_m, blend_mode="soft")  # fmt: skip
    figure = Figure(figsize=(5.2, 4.4))
    axis = figure.add_subplot(1, 1, 1)
    extent = (0, cols * spacing_m / 1000.0, 0, rows * spacing_m / 1000.0)
    axis.imshow(rgb, extent=extent, origin="upper")
    figure.colorbar(ScalarMappable(norm=norm, cmap="terrain"), ax=axis, label="elevation (m)")
    _km_axes(axis, title)
    figure.tight_layout()
    return figure_to_array(figure)


def landform_picture(codes: np.ndarray, spacing_m: float, names, *, title: str = "landform elements") -> np.ndarray:
    """Geomorphon codes `(H, W)` (1..10 in `names` order, 0 = none) as a categorical map with a legend giving
    each element's share of the cells; `(H, W, 3)` uint8."""
    from matplotlib.colors import BoundaryNorm, ListedColormap
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch

    rows, cols = codes.shape
    figure = Figure(figsize=(6.4, 4.4))
    axis = figure.add_subplot(1, 1, 1)
    extent = (0, cols * spacing_m / 1000.0, 0, rows * spacing_m / 1000.0)
    cmap = ListedColormap(("#ffffff",) + GEOMORPHON_COLOURS)
    axis.imshow(codes, cmap=cmap, norm=BoundaryNorm(np.arange(-0.5, 11.5), cmap.N), extent=extent, origin="upper",
                interpolation="nearest")  # fmt: skip
    valid = max(int((codes > 0).sum()), 1)
    shares = np.bincount(codes.ravel(), minlength=11)[1:11] / valid
    handles = [Patch(color=GEOMORPHON_COLOURS[i], label=f"{name} {100 * shares[i]:.0f} %")
               for i, name in enumerate(names)]  # fmt: skip
    axis.legend(handles=handles, loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize="small", frameon=False)
    _km_axes(axis, title)
    figure.tight_layout()
    return figure_to_array(figure)


def _km_axes(axis, title: str) -> None:
    axis.set_xlabel("km")
    axis.set_ylabel("km")
    axis.set_title(title, fontsize=10)


def _map_picture(values, spacing_m: float, *, cmap: str, title: str, colour_label: str | None, limits=None):
    from matplotlib.figure import Figure

    rows, cols = values.shape
    figure = Figure(figsize=(5.2, 4.4))
    axis = figure.add_subplot(1, 1, 1)
    extent = (0, cols * spacing_m / 1000.0, 0, rows * spacing_m / 1000.0)
    vmin, vmax = limits if limits else (None, None)
    image = axis.imshow(values, cmap=cmap, extent=extent, origin="upper", vmin=vmin, vmax=vmax)
    if colour_label:
        figure.colorbar(image, ax=axis, label=colour_label)
    axis.set_xlabel("km")
    axis.set_ylabel("km")
    axis.set_title(title)
    figure.tight_layout()
    return figure_to_array(figure)


def attribution_waveform_picture(waveforms: np.ndarray, attributions: np.ndarray, sampling_rate: float, *,
                                 marker: int | None = None, component_order: str | None = None,
                                 title: str = "", xlabel: str = "seconds") -> np.ndarray:  # fmt: skip
    """The explained window `(C, T)` (one row per component) above its per-sample attributions `(C, T)` (one line
    per component, same time axis); `marker`: the explained sample (a dashed line). `(H, W, 3)` uint8."""
    from matplotlib.figure import Figure

    channels, length = waveforms.shape
    times = np.arange(length) / sampling_rate
    figure = Figure(figsize=(10, 1.3 * channels + 2.4))
    axes = figure.subplots(channels + 1, 1, sharex=True, gridspec_kw={"height_ratios": [1] * channels + [1.6]})
    names = list(component_order or "")[:channels] + [str(i) for i in range(len(component_order or ""), channels)]
    colours = ("tab:blue", "tab:orange", "tab:green", "tab:purple")
    for i, axis in enumerate(axes[:-1]):
        axis.plot(times, waveforms[i], color="k", linewidth=0.5)
        axis.set_ylabel(names[i])
    for i in range(channels):
        axes[-1].plot(times, attributions[i], color=colours[i % len(colours)], linewidth=0.8, label=names[i])
    axes[-1].axhline(0.0, color="0.6", linewidth=0.5)
    axes[-1].set_ylabel("attribution")
    axes[-1].legend(loc="upper right", fontsize="small")
    if marker is not None:
        for axis in axes:
            axis.axvline(marker / sampling_rate, color="tab:red", linestyle="--", linewidth=0.9)
    axes[-1].set_xlabel(xlabel)
    figure.suptitle(title, fontsize=10)
    figure.tight_layout()
    return figure_to_array(figure)


def attribution_overlay_picture(elevation: np.ndarray, attributions: np.ndarray, spacing_m: float, *,
                                title: str = "attribution") -> np.ndarray:  # fmt: skip
    """A DEM patch `(H, W)` in grey (hillshade-like elevation) with its per-pixel attributions `(H, W)` overlaid
    (red raises the explained class, blue lowers it; symmetric colour scale); `(H, W, 3)` uint8."""
    from matplotlib.figure import Figure

    rows, cols = elevation.shape
    extent = (0, cols * spacing_m / 1000.0, 0, rows * spacing_m / 1000.0)
    limit = float(np.abs(attributions).max()) or 1.0
    figure = Figure(figsize=(9.6, 4.4))
    left, right = figure.subplots(1, 2)
    image = left.imshow(elevation, cmap="terrain", extent=extent, origin="upper")
    figure.colorbar(image, ax=left, label="elevation (m)")
    left.set_title("patch")
    right.imshow(elevation, cmap="gray", extent=extent, origin="upper")
    overlay = right.imshow(attributions, cmap="RdBu_r", vmin=-limit, vmax=limit, alpha=0.65, extent=extent,
                           origin="upper")  # fmt: skip
    figure.colorbar(overlay, ax=right, label="attribution")
    right.set_title(title, fontsize=9)
    for axis in (left, right):
        axis.set_xlabel("km")
        axis.set_ylabel("km")
    figure.tight_layout()
    return figure_to_array(figure)
