"""Named stages of a built backbone: which layers belong to `conv4`, `block6`, ...

Stages are computed from the backbone's layer graph, read from its
`get_config()`, so they hold for any input size and do not depend on the
auto-generated layer names (`conv2d_17`) that change from session to session.
"""

import collections
import re


def layer_graph(model):
    """Returns `(names, parents)`: layer names in topological order, and each
    layer's input layers, read from the functional model's config."""
    config = model.get_config()
    names = [layer["name"] for layer in config["layers"]]
    parents = {}
    for layer in config["layers"]:
        found = []
        _collect_history(layer.get("inbound_nodes", []), found)
        parents[layer["name"]] = tuple(dict.fromkeys(found))
    return names, parents


def _collect_history(node, found):
    if isinstance(node, dict):
        if node.get("class_name") == "__keras_tensor__":
            found.append(node["config"]["keras_history"][0])
            return
        for value in node.values():
            _collect_history(value, found)
    elif isinstance(node, (list, tuple)):
        for value in node:
            _collect_history(value, found)


def immediate_dominators(names, parents):
    """For each layer, the nearest other layer that every path to it passes."""
    order = {name: i for i, name in enumerate(names)}
    dominators = {}
    idom = {}
    for name in names:
        inputs = parents[name]
        if not inputs:
            dominators[name] = frozenset([name])
            idom[name] = None
            continue
        common = frozenset.intersection(*(dominators[p] for p in inputs))
        dominators[name] = common | {name}
        idom[name] = max(common, key=order.__getitem__)
    return idom


def _ancestors(name, parents):
    seen = {name}
    stack = [name]
    while stack:
        for parent in parents[stack.pop()]:
            if parent not in seen:
                seen.add(parent)
                stack.append(parent)
    return seen


def _cut(boundary, names, parents, idom, stage_name, model_name):
    pattern = re.compile(boundary.pattern)
    matches = [name for name in names if pattern.search(name)]
    if not matches:
        raise ValueError(
            f"Stage {stage_name!r} of {model_name}: no layer matches {boundary.pattern!r}. "
            "The backbone's layer names differ from what tfl expects."
        )
    return matches[-1] if boundary.after else idom[matches[0]]


def stage_layer_names(model, spec):
    """Maps each stage name of `spec` to the layer names of `model` in it.

    Args:
        model: a backbone built from `spec` (any input size).
        spec: its `BackboneSpec`.

    Returns:
        An ordered dict {stage name: [layer names]}, from input to output.
        Every layer of `model` is in exactly one stage. (The graph may also
        hold bare Keras ops, such as MobileNetV3's hard-sigmoid arithmetic;
        they have no weights and are left out.)

    Examples:

    >>> model = tfl.build_model(tfl.ModelConfig(backbone="mobilenet_v3_small", weights=None, image_size=32), ["cat", "dog"])
    >>> names = stage_layer_names(model.backbone, get_backbone_spec("mobilenet_v3_small"))
    >>> list(names), names["stride8"][0]
    (['stem', 'stride8', 'stride16', 'stride32'], 'expanded_conv_1_expand')
    """
    names, parents = layer_graph(model)
    layer_names = {layer.name for layer in model.layers}
    idom = immediate_dominators(names, parents)
    cuts = [
        _cut(boundary, names, parents, idom, stage, spec.name)
        for stage, boundary in spec.stages[1:]
    ]
    assigned = set()
    result = collections.OrderedDict()
    for stage, cut in zip(spec.stage_names, cuts + [None]):
        members = set(names) if cut is None else _ancestors(cut, parents)
        members -= assigned
        assigned |= members
        result[stage] = [name for name in names if name in members and name in layer_names]
        if not result[stage]:
            raise ValueError(f"Stage {stage!r} of {spec.name} is empty: its boundaries are out of order.")
    return result


def stage_layers(model, spec):
    """Like `stage_layer_names`, with the layer objects instead of names.

    Examples:

    >>> model = tfl.build_model(tfl.ModelConfig(backbone="mobilenet_v3_small", weights=None, image_size=32), ["cat", "dog"])
    >>> layers = stage_layers(model.backbone, get_backbone_spec("mobilenet_v3_small"))
    >>> {stage: len(stage_layers) for stage, stage_layers in layers.items()}
    {'stem': 17, 'stride8': 18, 'stride16': 74, 'stride32': 48}
    """
    return collections.OrderedDict(
        (stage, [model.get_layer(name) for name in layer_names])
        for stage, layer_names in stage_layer_names(model, spec).items()
    )
