#!/usr/bin/env python3
"""Time ResNet50 (notop) inference in Keras, ONNX Runtime or OpenVINO, as a reference for Graft.

Usage:
  .venv/bin/python bench/reference_bench.py --engine keras|onnx|openvino --weights PATH.h5
      [--batch 32] [--size 100] [--threads 2] [--warmup 2] [--reps 5] [--check]

Prints one JSON line to stdout:
  {"engine", "images_per_s" (median), "seconds_per_batch" (every rep), "peak_rss_mb"}
The input is a (batch, size, size, 3) float32 batch of already preprocessed
(caffe-style) values. --check compares the engine's output with Keras's
`model(x, training=False)` and reports the relative error on stderr.

The onnx engine converts the Keras model itself (no tf2onnx) and caches the
graph as PATH.h5.onnx; the conversion runs in a child process so that
TensorFlow's memory does not count in the onnx engine's peak RSS. The
openvino engine runs the same graph.
"""

import argparse
import json
import multiprocessing
import os
import resource
import statistics
import sys
import time

import numpy as np

CAFFE_MEAN_BGR = np.array([103.939, 116.779, 123.68], dtype=np.float32)
ONNX_OPSET = 17


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--engine", choices=["keras", "onnx", "openvino"], required=True)
    parser.add_argument("--weights", required=True, help="legacy-layout .h5 of ResNet50 notop")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--size", type=int, default=100)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--check", action="store_true")
    parser.add_argument("--precision", choices=["float32", "bfloat16"], default="float32",
                        help="keras only; bfloat16: Keras's mixed_bfloat16 policy")
    return parser.parse_args()


def configure_threads(threads):
    """TensorFlow reads these when it starts, so they must precede its import;
    tf.config.threading is set as well once it is imported."""
    os.environ["TF_NUM_INTRAOP_THREADS"] = str(threads)
    os.environ["TF_NUM_INTEROP_THREADS"] = "1"
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def import_tensorflow(threads):
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    return tf


def keras_resnet50(weights, input_shape):
    import keras

    model = keras.applications.ResNet50(include_top=False, weights=None, input_shape=input_shape)
    model.load_weights(weights)
    return model


def preprocessed_batch(seed, batch, size):
    """Random pixels 0..255 put through caffe preprocessing (minus the BGR means);
    the channel swap is left out since the pixels are random anyway."""
    rng = np.random.default_rng(seed)
    pixels = rng.uniform(0, 255, (batch, size, size, 3)).astype(np.float32)
    return pixels - CAFFE_MEAN_BGR


# ---------------------------------------------------------------- conversion


def keras_inputs(layer_config):
    """Names of the layers feeding a layer, read from its get_config() entry.

    Keras 3 records each input tensor as {"keras_history": [layer, node, index]}
    somewhere inside "inbound_nodes"; the nesting differs between layers with
    one input and with a list of inputs (Add), so the structure is walked.
    """
    names = []

    def walk(item):
        if isinstance(item, dict):
            if "keras_history" in item:
                names.append(item["keras_history"][0])
            else:
                for value in item.values():
                    walk(value)
        elif isinstance(item, (list, tuple)):
            for value in item:
                walk(value)

    walk(layer_config["inbound_nodes"])
    return names


def single_endpoint(endpoints):
    """Layer name of a model's only input or output in get_config().

    Keras writes [name, node, index] for one endpoint and a list of those for
    several; the trunk has exactly one of each.
    """
    if isinstance(endpoints[0], str):
        return endpoints[0]
    if len(endpoints) != 1:
        raise NotImplementedError(f"expected one endpoint, got {endpoints}")
    return endpoints[0][0]


def convert_to_onnx(model):
    """Translate a Keras ResNet trunk into an ONNX model, layer by layer.

    Supports exactly the layer kinds of Keras's ResNet50/101/152 and raises on
    anything else rather than converting it wrongly. ONNX convolutions are NCHW,
    so the graph transposes the NHWC input once and the output back once.
    BatchNormalization stays a separate node: ORT_ENABLE_ALL folds it into the
    preceding Conv when it builds the session.
    """
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    config = model.get_config()
    layers = {entry["name"]: entry for entry in config["layers"]}
    consumers = {name: [] for name in layers}
    for name, entry in layers.items():
        for source in keras_inputs(entry):
            consumers[source].append(name)

    nodes = []
    initializers = []
    # Keras layer name -> ONNX tensor holding that layer's output (NCHW).
    tensor = {}
    # ZeroPadding2D layers absorbed into the following Conv: name -> ONNX pads.
    folded_pads = {}

    def constant(name, array):
        initializers.append(numpy_helper.from_array(array, name))
        return name

    input_name = single_endpoint(config["input_layers"])
    output_name = single_endpoint(config["output_layers"])
    nodes.append(helper.make_node("Transpose", ["input"], [input_name], perm=[0, 3, 1, 2]))
    tensor[input_name] = input_name

    for keras_layer in model.layers:
        name = keras_layer.name
        entry = layers[name]
        kind = entry["class_name"]
        cfg = entry["config"]
        sources = keras_inputs(entry)
        if kind == "InputLayer":
            continue
        if kind == "ZeroPadding2D":
            (top, bottom), (left, right) = cfg["padding"]
            onnx_pads = [top, left, bottom, right]
            feeds_only_valid_convs = all(
                layers[c]["class_name"] == "Conv2D" and layers[c]["config"]["padding"] == "valid"
                for c in consumers[name]
            )
            if feeds_only_valid_convs:
                # A zero border followed by a "valid" conv is the conv's own padding.
                folded_pads[name] = onnx_pads
                tensor[name] = tensor[sources[0]]
            else:
                # Explicit zeros: a MaxPool's own padding would pad with -inf.
                pads = constant(name + "_pads", np.array([0, 0, top, left, 0, 0, bottom, right], np.int64))
                nodes.append(helper.make_node("Pad", [tensor[sources[0]], pads], [name], mode="constant"))
                tensor[name] = name
            continue

        inputs = [tensor[s] for s in sources]
        if kind == "Conv2D":
            if cfg["activation"] != "linear" or tuple(cfg["dilation_rate"]) != (1, 1) or cfg["groups"] != 1:
                raise NotImplementedError(f"{name}: only linear, undilated, ungrouped convolutions are supported")
            kernel, bias = keras_layer.get_weights()
            kh, kw = kernel.shape[:2]
            strides = list(cfg["strides"])
            if cfg["padding"] == "same":
                if strides != [1, 1]:
                    # TensorFlow pads a strided "same" conv depending on the input size.
                    raise NotImplementedError(f"{name}: strided 'same' convolution")
                # Stride 1: the border is size-independent, the extra row/column
                # (even kernels) going to the bottom/right as in TensorFlow.
                pads = [(kh - 1) // 2, (kw - 1) // 2, kh // 2, kw // 2]
            else:
                pads = folded_pads.get(sources[0], [0, 0, 0, 0])
            weight = constant(name + "_W", np.ascontiguousarray(kernel.transpose(3, 2, 0, 1)))  # HWIO -> OIHW
            b = constant(name + "_B", bias)
            nodes.append(helper.make_node(
                "Conv", [inputs[0], weight, b], [name],
                kernel_shape=[kh, kw], strides=strides, pads=pads,
            ))
        elif kind == "BatchNormalization":
            gamma, beta, mean, variance = keras_layer.get_weights()
            params = [constant(f"{name}_{p}", a) for p, a in
                      (("scale", gamma), ("bias", beta), ("mean", mean), ("var", variance))]
            nodes.append(helper.make_node(
                "BatchNormalization", inputs + params, [name], epsilon=float(cfg["epsilon"]),
            ))
        elif kind == "Activation":
            if cfg["activation"] != "relu":
                raise NotImplementedError(f"{name}: activation {cfg['activation']}")
            nodes.append(helper.make_node("Relu", inputs, [name]))
        elif kind == "MaxPooling2D":
            if cfg["padding"] != "valid":
                raise NotImplementedError(f"{name}: only 'valid' max pooling is supported")
            nodes.append(helper.make_node(
                "MaxPool", inputs, [name],
                kernel_shape=list(cfg["pool_size"]), strides=list(cfg["strides"]),
            ))
        elif kind == "Add":
            # ONNX Add takes two operands; chain them for more.
            total = inputs[0]
            for i, operand in enumerate(inputs[1:], start=1):
                out = name if i == len(inputs) - 1 else f"{name}_{i}"
                nodes.append(helper.make_node("Add", [total, operand], [out]))
                total = out
        else:
            raise NotImplementedError(f"{name}: layer kind {kind}")
        tensor[name] = name

    nodes.append(helper.make_node("Transpose", [tensor[output_name]], ["output"], perm=[0, 2, 3, 1]))
    graph = helper.make_graph(
        nodes, "resnet_trunk",
        inputs=[helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", "height", "width", 3])],
        outputs=[helper.make_tensor_value_info(
            "output", TensorProto.FLOAT, ["batch", "out_height", "out_width", model.outputs[0].shape[-1]])],
        initializer=initializers,
    )
    onnx_model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", ONNX_OPSET)],
                                   producer_name="graft-reference-bench")
    onnx.checker.check_model(onnx_model)
    return onnx_model


def export_onnx(weights, path, threads):
    """Child-process body: load the Keras model and write the ONNX file.

    The model has free height and width, so one file serves every --size.
    It is written under a temporary name first: an interrupted export must not
    leave a truncated file that looks newer than the weights.
    """
    import onnx

    configure_threads(threads)
    import_tensorflow(threads)
    onnx_model = convert_to_onnx(keras_resnet50(weights, (None, None, 3)))
    partial = path + ".partial"
    onnx.save(onnx_model, partial)
    os.replace(partial, path)


def ensure_onnx(weights, threads):
    path = weights + ".onnx"
    if not os.path.exists(path) or os.path.getmtime(path) < os.path.getmtime(weights):
        started = time.perf_counter()
        child = multiprocessing.get_context("spawn").Process(target=export_onnx, args=(weights, path, threads))
        child.start()
        child.join()
        if child.exitcode != 0:
            sys.exit(f"ONNX export of {weights} failed (exit code {child.exitcode})")
        print(f"exported {path} in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    return path


# ---------------------------------------------------------------- engines


def keras_engine(args):
    """Returns a function running one batch, compiled as a tf.function."""
    tf = import_tensorflow(args.threads)
    if args.precision == "bfloat16":
        import keras

        keras.mixed_precision.set_global_policy("mixed_bfloat16")
    model = keras_resnet50(args.weights, (args.size, args.size, 3))
    forward = tf.function(lambda x: model(x, training=False))
    return lambda x: forward(x).numpy()


def onnx_engine(args):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = args.threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    session = ort.InferenceSession(ensure_onnx(args.weights, args.threads), options,
                                   providers=["CPUExecutionProvider"])
    return lambda x: session.run(["output"], {"input": x})[0]


def openvino_engine(args):
    """OpenVINO on the same ONNX graph, its shape fixed to the batch's, in
    float32: its default on CPUs with AVX512_BF16 or AMX is bfloat16."""
    import openvino

    core = openvino.Core()
    model = core.read_model(ensure_onnx(args.weights, args.threads))
    model.reshape({"input": [args.batch, args.size, args.size, 3]})
    compiled = core.compile_model(model, "CPU", {
        "INFERENCE_PRECISION_HINT": "f32",
        "INFERENCE_NUM_THREADS": args.threads,
        "NUM_STREAMS": 1,
        "PERFORMANCE_HINT": "LATENCY",
    })
    request = compiled.create_infer_request()
    output = compiled.output(0)
    return lambda x: request.infer({"input": x})[output]


ENGINES = {"keras": keras_engine, "onnx": onnx_engine, "openvino": openvino_engine}


def check(args, run):
    """Relative error of the engine against Keras's eager forward pass."""
    x = preprocessed_batch(1, args.batch, args.size)
    got = run(x)
    import_tensorflow(args.threads)
    reference = keras_resnet50(args.weights, (args.size, args.size, 3))(x, training=False).numpy()
    if got.shape != reference.shape:
        sys.exit(f"check: output shape {got.shape}, Keras gives {reference.shape}")
    error = float(np.abs(got - reference).max())
    scale = float(np.abs(reference).max())
    print(f"check {args.engine}: max abs err {error:.3g}, max |ref| {scale:.3g}, "
          f"relative {error / scale:.3g}", file=sys.stderr)
    if args.engine != "keras" and error / scale >= 1e-4:
        sys.exit(f"check failed: {args.engine} differs from Keras by 1e-4 or more")


def main():
    args = parse_args()
    configure_threads(args.threads)
    run = ENGINES[args.engine](args)

    x = preprocessed_batch(0, args.batch, args.size)
    for _ in range(args.warmup):
        run(x)
    seconds = []
    for _ in range(args.reps):
        started = time.perf_counter()
        run(x)
        seconds.append(time.perf_counter() - started)
    # Read before --check, which loads a Keras model into this process.
    peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    if args.check:
        check(args, run)
    print(json.dumps({
        "engine": args.engine,
        "images_per_s": round(args.batch / statistics.median(seconds), 2),
        "seconds_per_batch": [round(s, 4) for s in seconds],
        "peak_rss_mb": round(peak_rss_mb, 1),
    }))


if __name__ == "__main__":
    main()
