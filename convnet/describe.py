"""`convnet describe`: a net's layers in a table, with shapes, parameter counts and multiply-adds."""
import numpy as np

from . import json_text


def layer_rows(graph):
    """One dict per layer, with the numbers of the table."""
    rows = []
    for layer in graph.layers:
        rows.append({
            "name": layer.name,
            "type": layer.type,
            "inputs": list(layer.inputs),
            "gpu": layer.device_index,
            "output_shape": list(layer.output_shape),
            "params": parameter_count(layer),
            "macs": int(layer.macs()),
        })
    return rows


def parameter_count(layer):
    """Weights and biases, from their shapes (nothing is allocated); a shared matrix (weightSource)
    counts once, in its owner."""
    shared = getattr(layer, "weight_sources", {})
    return sum(int(np.prod(shape)) for i, shape in enumerate(layer.param_shapes()) if i not in shared)


def describe_json(graph):
    rows = layer_rows(graph)
    return json_text.dumps({"layers": rows, "total_params": sum(r["params"] for r in rows),
                       "total_macs": sum(r["macs"] for r in rows)}, indent=2)


def describe_table(graph):
    rows = layer_rows(graph)
    header = ["layer", "type", "inputs", "gpu", "output", "params", "MACs/image"]
    table = [[r["name"], r["type"], ",".join(r["inputs"]) or "-", "-" if r["gpu"] is None else str(r["gpu"]),
              "x".join(map(str, r["output_shape"])), f"{r['params']:,}", f"{r['macs']:,}"] for r in rows]
    table.append(["total", "", "", "", "", f"{sum(r['params'] for r in rows):,}",
                  f"{sum(r['macs'] for r in rows):,}"])
    widths = [max(len(row[i]) for row in table + [header]) for i in range(len(header))]
    right = {5, 6}
    lines = []
    for n, row in enumerate([header] + table):
        if n == len(table):
            lines.append("  ".join("-" * w for w in widths))
        lines.append("  ".join(cell.rjust(w) if i in right else cell.ljust(w)
                               for i, (cell, w) in enumerate(zip(row, widths))).rstrip())
    return "\n".join(lines)
