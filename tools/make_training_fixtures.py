#!/usr/bin/env python3
"""Build Graft's training reference: Keras's own transfer-learning steps.

Usage: .venv/bin/python tools/make_training_fixtures.py [OUTDIR]
       (default: .fixtures/training; takes under a minute)

The model is the transfer-learning one of Graft's design:

    x = keras.Input((32, 32, 3))
    f = base(x, training=False)          # ResNet50 notop, every weight random
    f = GlobalAveragePooling2D()(f)
    logits = Dense(3)(f)                 # glorot kernel (seeded), zero bias

with SparseCategoricalCrossentropy(from_logits=True), mean over the batch. The
steps are run here by hand, `model(x, training=False)` under a GradientTape and
then `optimizer.apply_gradients`, because keras 3.15.1's fit() would switch the
unfrozen BatchNorm layers to batch statistics (keras-team/keras#20285). So
BatchNorm always normalises with its moving statistics, which never change,
while its gamma and beta train whenever the layer is trainable.

Scenarios, each from the same initial weights with a fresh optimizer, on the
same batch of 2 caffe-preprocessed 32x32 images with labels [0, 2]:
  a  base frozen; SGD(1e-4, momentum 0.9); 3 steps
  b  whole base trainable; SGD(1e-5, momentum 0.9, nesterov); 2 steps
  c  last 10 base layers trainable (conv5_block3_*); Adam(1e-5, epsilon 1e-3); 2 steps
  o  as c, AdamW(1e-5, weight_decay 0.5, epsilon 1e-3); 2 steps
  p  as c, RMSprop(1e-5, rho 0.9, momentum 0.5, epsilon 1e-3, centered, clipnorm 1); 2 steps
  q  as c, SGD(ExponentialDecay(1e-5, 1, 0.5), momentum 0.9, weight_decay 0.1,
     global_clipnorm 100); 3 steps
  r  base frozen; SGD(1e-4, momentum 0.9, clipvalue 5); 3 steps
  s  base frozen; SGD(1e-4, momentum 0.9); CategoricalCrossentropy(from_logits,
     label_smoothing 0.1) on one-hot labels, class_weight {0: 2, 2: 0.5}; 3 steps
and, on a batch of 64 of its own (m_x.f32, m_y.i32), the steps Graft takes in
micro-batches:
  m  base frozen; SGD(1e-4, momentum 0.9); 2 steps
  n  last 10 base layers trainable; Adam(1e-5, epsilon 1e-3); 2 steps
and the binary head of Keras's transfer-learning guide (Dense(1) on the same
base, glorot kernel from HEAD_SEED, BinaryCrossentropy(from_logits=True)), on
the batch of a to c with labels BINARY_LABELS:
  t  base frozen; SGD(1e-4, momentum 0.9); label_smoothing 0.1,
     class_weight {0: 2, 1: 0.5}; 3 steps
  u  last 10 base layers trainable; Adam(1e-5, epsilon 1e-3); 2 steps

The batch of a, b and c is the first from seed IMAGE_SEED on whose every step
keeps each ReLU and max-pooling unit clear of its kink (KINK_MARGIN says why).
The batch of 64 is the first from MICRO_IMAGE_SEED on whose steps of n keep
clear of it all but MICRO_NEAR_KINK_UNITS of the units that n's gradients
pass (the ReLUs of conv5_block3; no unit before the trained layers matters;
MICRO_NEAR_KINK_UNITS says why a few may stay); m needs no margin, as no
gradient of it passes a ReLU.

Writes into OUTDIR (shapes and dtypes of the raw files are in training.json):
  initial_base.h5          initial base weights, Keras 3 legacy HDF5 layout
                           (weight names without ":0"), as make_fixtures.py writes
  initial_head.f32         Dense kernel (2048, 3) then bias (3,), concatenated
  initial_head_kernel.f32, initial_head_bias.f32   the same, one array a file
  x.f32                    (2, 32, 32, 3) preprocessed images
  y.i32                    (2,) int32 labels
  <s>_base.h5              base weights after the last step of scenario s
                           (for a, identical to the initial ones)
  <s>_head_kernel.f32, <s>_head_bias.f32   head after the last step
                           (n_base.h5 and n's head: scenario n, on m's batch;
                           t's and u's: the binary head, Dense(1))
  binary_initial_head_kernel.f32, binary_initial_head_bias.f32   the binary
                           head's initial Dense(1)
  binary_y.i32             (2,) int32 labels of t and u
  b_grads.h5               gradients of scenario b's first step, in the layout of
                           initial_base.h5 (same groups and dataset names);
                           moving_mean / moving_variance get no gradient and hold
                           zeros there
  b_grad_head_kernel.f32, b_grad_head_bias.f32
  schedules.json           Keras's learning-rate schedules (SCHEDULES) at steps
                           0..SCHEDULE_STEPS-1, float32 values
  training.json            input shape, labels, losses (before each step's update),
                           logits, optimizer configs, trainable layers, update
                           sizes, the batch's seed and kink margins, file shapes
  STAMP                    written last: tensorflow and keras versions

initial_base.h5 holds exactly the weights of make_fixtures.py's
resnet50_random.h5 (same seeds). Raw files are little-endian float32 / int32 in
C order. Everything is seeded;
a rerun gives the same initial weights and inputs (the trained weights may
differ in the last bits if oneDNN picks other kernels). The script checks that
frozen weights and the BatchNorm moving statistics never move, that scenario c
changes exactly the conv5_block3_* weights and the head, and that each update
agrees with the optimizer's formula recomputed in numpy from the gradients
(it does, bit for bit, in the operation order of `replay`).

Conditioning: away from the kinks, two correct float32 implementations
(TensorFlow with TF_ENABLE_ONEDNN_OPTS=0 and 1; Graft) agree on scenario b's
first-step gradients to a few 1e-6 relative, far inside the tests' bar of
1e-3; Adam's epsilon in c is 1e-3 for the reason given beside it.
"""

import json
import os
import sys
import time
import shutil
from pathlib import Path

# Quiet TensorFlow's C++ start-up chatter; must be set before it is imported.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

sys.path.insert(0, str(Path(__file__).resolve().parent))

import h5py  # noqa: E402
import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from fixture_dir import build_into  # noqa: E402
from make_fixtures import (  # noqa: E402
    PARAM_SEED,
    fresh_model,
    randomise_biases_and_bn,
    save_legacy_h5,
    synthetic_images,
)

INPUT_SHAPE = (32, 32, 3)  # the smallest ResNet50 takes: few units near a kink (see KINK_MARGIN)
CLASSES = 3
LABELS = [0, 2]
IMAGE_SEED = 2024  # the first training batch tried (make_fixtures.py's golden images use 42)
SEEDS_TRIED = 200  # batches tried, from IMAGE_SEED on, for one whose steps clear KINK_MARGIN
# ReLU and max pooling have kinks: where a unit's input is 0 (or a pooling
# window's two largest inputs are equal), the gradient jumps, and which side
# a unit falls on is decided by rounding. Two correct float32
# implementations (oneDNN, im2col + GEMM, Winograd, whose results differ by
# up to about 1e-6 of a layer's largest value) may then disagree on a few
# units, and each such unit moves the gradients of every layer before it by
# up to a few 1e-3 — a difference in rounding, not in the gradient. The batch
# is therefore chosen so that at every step of every scenario, every ReLU
# input is at least KINK_MARGIN·max|input of that layer| away from 0 and
# every pool1 window's largest input leads its second by as much.
KINK_MARGIN = 1e-6
HEAD_SEED = 31  # glorot kernel of the Dense head
# Scenarios m and n: a batch of MICRO_BATCH images, the steps Graft takes in
# micro-batches (TrainingParityTests). In m only the head trains, so no
# gradient passes a ReLU or a max pooling: it needs no kink margin (a unit
# at its kink only moves the features by its own rounding). In n the last
# block trains too: its gradients pass the block's three ReLUs, 64 x 3,072
# units a step at 32x32, of which a few always lie within KINK_MARGIN (the
# smallest margin of the first seeds tried: about 1e-7). A unit flipped at
# batch 64 moves the updates of the layers before it by 1/32 of what it does
# at batch 2 (one image of 64 instead of one of 2: about 1e-4 of the largest
# update, against the bar of 1e-3), so the batch is chosen with at most
# MICRO_NEAR_KINK_UNITS units within KINK_MARGIN.
MICRO_NEAR_KINK_UNITS = 3
MICRO_BATCH = 64
MICRO_IMAGE_SEED = 4096
LAST_TRAINABLE = 10  # scenarios c and n unfreeze base.layers[-10:]
# Scenarios t and u: the binary head on the batch of a to c, which clears
# the kink margin for u's steps too (checked: the script fails otherwise).
BINARY_LABELS = [0, 1]
BINARY_SCENARIOS = [
    {
        "name": "t",
        "description": "binary head; base.trainable = False; BinaryCrossentropy(from_logits=True, "
                       "label_smoothing=0.1), class_weight {0: 2.0, 1: 0.5}",
        "base_trainable": "none",
        "optimizer": ("SGD", {"learning_rate": 1e-4, "momentum": 0.9}),
        "loss": ("BinaryCrossentropy", {"from_logits": True, "label_smoothing": 0.1}),
        "class_weight": {0: 2.0, 1: 0.5},
        "steps": 3,
    },
    {
        "name": "u",
        "description": f"binary head; base.layers[:-{LAST_TRAINABLE}] frozen; BinaryCrossentropy(from_logits=True)",
        "base_trainable": "last10",
        # epsilon 1e-3 as in scenario c, which says why.
        "optimizer": ("Adam", {"learning_rate": 1e-5, "epsilon": 1e-3}),
        "loss": ("BinaryCrossentropy", {"from_logits": True}),
        "steps": 2,
    },
]
MICRO_SCENARIOS = [
    {
        "name": "m",
        "description": f"a batch of {MICRO_BATCH}, base.trainable = False: only the Dense head trains",
        "base_trainable": "none",
        "optimizer": ("SGD", {"learning_rate": 1e-4, "momentum": 0.9}),
        "steps": 2,
    },
    {
        "name": "n",
        "description": f"a batch of {MICRO_BATCH}, base.layers[:-{LAST_TRAINABLE}] frozen: conv5_block3_* "
                       "and the head train",
        "base_trainable": "last10",
        # epsilon 1e-3 as in scenario c, which says why.
        "optimizer": ("Adam", {"learning_rate": 1e-5, "epsilon": 1e-3}),
        "steps": 2,
    },
]


def make_optimizer(spec):
    """keras.optimizers.<kind>(**kwargs); a learning_rate given as
    (schedule class, kwargs) is that keras.optimizers.schedules object."""
    kind, kwargs = spec
    kwargs = dict(kwargs)
    if isinstance(kwargs.get("learning_rate"), tuple):
        schedule, arguments = kwargs["learning_rate"]
        kwargs["learning_rate"] = getattr(keras.optimizers.schedules, schedule)(**arguments)
    return getattr(keras.optimizers, kind)(**kwargs)


SCENARIOS = [
    {
        "name": "a",
        "description": "base.trainable = False: only the Dense head trains",
        "base_trainable": "none",
        "optimizer": ("SGD", {"learning_rate": 1e-4, "momentum": 0.9}),
        "steps": 3,
    },
    {
        "name": "b",
        "description": "base.trainable = True: every conv kernel/bias and BN gamma/beta trains",
        "base_trainable": "all",
        "optimizer": ("SGD", {"learning_rate": 1e-5, "momentum": 0.9, "nesterov": True}),
        "steps": 2,
    },
    {
        "name": "c",
        "description": "base.trainable = True, then base.layers[:-10] frozen: conv5_block3_* trains",
        "base_trainable": "last10",
        # epsilon 1e-3, not Keras's 1e-7: with 1e-7, a weight whose gradient
        # is ~1e-6 (float32 noise level for these sums) takes a full lr-sized
        # step whose sign is noise, so two correct float32 implementations
        # (even TensorFlow with and without oneDNN) differ by several % of the
        # largest update there; with 1e-4, by about 1e-3 of it. At 1e-3 an
        # update moves by at most lr/epsilon = 1% of a gradient's rounding,
        # so the comparison is about Keras's formula rather than rounding.
        "optimizer": ("Adam", {"learning_rate": 1e-5, "epsilon": 1e-3}),
        "steps": 2,
    },
    # The fit toolkit's optimizers, each with what it adds to a step. The
    # clipping thresholds are set against the first step's gradients of the
    # last block and head (norms from 0.1 to 206 per tensor, 218 in all;
    # head kernel elements up to 21): clipnorm 1 clips every kernel and no
    # BatchNormalization or bias, global_clipnorm 100 scales every gradient
    # by about 0.46, clipvalue 5 clips about a tenth of the head kernel.
    {
        "name": "o",
        "description": "base.layers[:-10] frozen; AdamW (decoupled weight decay)",
        "base_trainable": "last10",
        # epsilon 1e-3 as in scenario c; weight_decay 0.5 moves a weight of 1
        # by 5e-6 a step, half of Adam's own step.
        "optimizer": ("AdamW", {"learning_rate": 1e-5, "weight_decay": 0.5, "epsilon": 1e-3}),
        "steps": 2,
    },
    {
        "name": "p",
        "description": "base.layers[:-10] frozen; centered RMSprop with momentum and clipnorm",
        "base_trainable": "last10",
        # epsilon 1e-3 for the reason of scenario c's: lr·g/sqrt(0.09·g² + eps)
        # stays linear in g for gradients near float32 noise.
        "optimizer": ("RMSprop", {"learning_rate": 1e-5, "rho": 0.9, "momentum": 0.5, "epsilon": 1e-3,
                                  "centered": True, "clipnorm": 1.0}),
        "steps": 2,
    },
    {
        "name": "q",
        "description": "base.layers[:-10] frozen; SGD with an ExponentialDecay schedule, weight decay and "
                       "global_clipnorm",
        "base_trainable": "last10",
        "optimizer": ("SGD", {"learning_rate": ("ExponentialDecay", {"initial_learning_rate": 1e-5,
                                                                     "decay_steps": 1, "decay_rate": 0.5}),
                              "momentum": 0.9, "weight_decay": 0.1, "global_clipnorm": 100.0}),
        "steps": 3,
    },
    {
        "name": "r",
        "description": "base.trainable = False; SGD with clipvalue",
        "base_trainable": "none",
        "optimizer": ("SGD", {"learning_rate": 1e-4, "momentum": 0.9, "clipvalue": 5.0}),
        "steps": 3,
    },
    # The loss's options: one-hot labels with label smoothing, and class
    # weights as Keras's fit turns them into sample weights.
    {
        "name": "s",
        "description": "base.trainable = False; CategoricalCrossentropy(from_logits=True, label_smoothing=0.1) "
                       "on one-hot labels, class_weight {0: 2.0, 2: 0.5}",
        "base_trainable": "none",
        "optimizer": ("SGD", {"learning_rate": 1e-4, "momentum": 0.9}),
        "loss": ("CategoricalCrossentropy", {"from_logits": True, "label_smoothing": 0.1}),
        "class_weight": {0: 2.0, 2: 0.5},
        "steps": 3,
    },
]

# Keras's learning-rate schedules, each evaluated at steps 0..SCHEDULE_STEPS-1
# into schedules.json.
SCHEDULE_STEPS = 1000
SCHEDULES = [
    ("ExponentialDecay", {"initial_learning_rate": 0.1, "decay_steps": 100, "decay_rate": 0.96}),
    ("ExponentialDecay", {"initial_learning_rate": 0.1, "decay_steps": 30, "decay_rate": 0.5, "staircase": True}),
    ("PiecewiseConstantDecay", {"boundaries": [100, 500], "values": [1e-3, 5e-4, 1e-4]}),
    ("InverseTimeDecay", {"initial_learning_rate": 0.1, "decay_steps": 50, "decay_rate": 0.5}),
    ("InverseTimeDecay", {"initial_learning_rate": 0.1, "decay_steps": 50, "decay_rate": 0.5, "staircase": True}),
    ("PolynomialDecay", {"initial_learning_rate": 0.1, "decay_steps": 600}),
    ("PolynomialDecay", {"initial_learning_rate": 0.1, "decay_steps": 300, "end_learning_rate": 0.01,
                         "power": 0.5, "cycle": True}),
    ("CosineDecay", {"initial_learning_rate": 1e-3, "decay_steps": 800}),
    ("CosineDecay", {"initial_learning_rate": 0.1, "decay_steps": 900, "alpha": 0.1}),
    ("CosineDecay", {"initial_learning_rate": 0.0, "decay_steps": 700, "warmup_target": 1e-3,
                     "warmup_steps": 200}),
]


# ---------------------------------------------------------------- the model

def build_model():
    """The random-weight base (as make_fixtures.py makes it) under a Dense head."""
    base = fresh_model(keras.applications.ResNet50, include_top=False, input_shape=INPUT_SHAPE)
    randomise_biases_and_bn(base, np.random.default_rng(PARAM_SEED))
    inputs = keras.Input(INPUT_SHAPE)
    features = base(inputs, training=False)
    features = keras.layers.GlobalAveragePooling2D()(features)
    head = keras.layers.Dense(
        CLASSES,
        kernel_initializer=keras.initializers.GlorotUniform(seed=HEAD_SEED),
        bias_initializer="zeros",
    )
    logits = head(features)
    return keras.Model(inputs, logits), base, head


def build_binary_model(base):
    """The binary head of Keras's guide on the same base: Dense(1), named
    as the other model's head so that the variable paths are the same."""
    inputs = keras.Input(INPUT_SHAPE)
    features = keras.layers.GlobalAveragePooling2D()(base(inputs, training=False))
    head = keras.layers.Dense(1, name="dense", kernel_initializer=keras.initializers.GlorotUniform(seed=HEAD_SEED),
                              bias_initializer="zeros")
    return keras.Model(inputs, head(features))


def kink_probe(base, last_layers=None, tolerated=0):
    """A function of x: the smallest distance of any unit of the base from a
    kink (see KINK_MARGIN), relative to its layer's largest input, at the
    base's current weights. With `last_layers` (which hold no max pooling),
    of the units of those layers only, leaving out the `tolerated` closest."""
    relus = [layer for layer in base.layers[-(last_layers or len(base.layers)):]
             if isinstance(layer, keras.layers.Activation)]
    if last_layers:
        probe = keras.Model(base.input, [layer.input for layer in relus])

        def last_margin(x):
            distances = np.concatenate([(np.abs(t) / np.abs(t).max()).ravel()
                                        for t in (t.numpy().astype(np.float64) for t in probe(x, training=False))])
            return float(np.partition(distances, tolerated)[tolerated])
        return last_margin
    pool = base.get_layer("pool1_pool")
    probe = keras.Model(base.input, [layer.input for layer in relus] + [pool.input])

    def margin(x):
        *relu_inputs, pooled = [t.numpy().astype(np.float64) for t in probe(x, training=False)]
        worst = min(np.abs(t).min() / np.abs(t).max() for t in relu_inputs)
        # pool1: 3x3 windows, stride 2, no padding (pool1_pad pads before it).
        (size, stride), (_, h, w, _) = (pool.pool_size[0], pool.strides[0]), pooled.shape
        windows = np.stack([pooled[:, i:i + stride * ((h - size) // stride + 1):stride,
                                   j:j + stride * ((w - size) // stride + 1):stride]
                            for i in range(size) for j in range(size)])
        top = np.sort(windows, axis=0)
        # Windows of zeros only are no kink: every implementation takes the first.
        gap = np.where(top[-1] > 0, top[-1] - top[-2], np.inf)
        return float(min(worst, gap.min() / np.abs(pooled).max()))

    return margin


def set_trainable(base, which):
    if which == "none":
        base.trainable = False
    elif which == "all":
        base.trainable = True
    elif which == "last10":
        base.trainable = True
        for layer in base.layers[:-LAST_TRAINABLE]:
            layer.trainable = False
    else:
        raise ValueError(which)


def snapshot(model):
    """Every variable of the model by path ('conv1_bn/gamma', 'dense/kernel')."""
    return {v.path: np.array(v.numpy()) for v in model.weights}


def restore(model, values):
    for v in model.weights:
        v.assign(values[v.path])


def is_moving_stat(path):
    return path.endswith("/moving_mean") or path.endswith("/moving_variance")


# ------------------------------------------------------- optimizer replay
#
# The formulas of KERAS-REFERENCE.md in float32, with the operations in the
# order that reproduces Keras bit for bit (measured: any other order or
# rounding of the constants is off by a few ulps in many elements).

def learning_rates(config, steps):
    """The optimizer's learning rate at each step: a constant, or its
    schedule's at the step count before the step."""
    rate = config["learning_rate"]
    if isinstance(rate, dict):
        schedule = keras.optimizers.schedules.deserialize(rate)
        return [np.float32(schedule(t)) for t in range(steps)]
    return [np.float32(rate)] * steps


def clip(config, grads):
    """Keras's clipnorm (g·c / max(|g|, c)), global_clipnorm (every g times
    c·min(1/|all|, 1/c)) or clipvalue, in float32."""
    f32 = np.float32
    if config.get("clipnorm"):
        c = f32(config["clipnorm"])
        return {k: (g * c) / np.maximum(np.sqrt(np.sum(g * g, dtype=np.float32)), c) for k, g in grads.items()}
    if config.get("global_clipnorm"):
        c = f32(config["global_clipnorm"])
        norm = np.sqrt(np.sum([np.sum(g * g, dtype=np.float32) for g in grads.values()], dtype=np.float32))
        scale = c * np.minimum(f32(1) / norm, f32(1) / c)
        return {k: g * scale for k, g in grads.items()}
    if config.get("clipvalue"):
        c = f32(config["clipvalue"])
        return {k: np.clip(g, -c, c) for k, g in grads.items()}
    return grads


def sgd_step(config, state, w, g, lr, t):
    """v = v*m - g*lr; w = w + v, or with nesterov w = w + (v*m - g*lr)
    using the v just updated."""
    m = np.float32(config.get("momentum", 0.0))
    if m == 0:
        return w - g * lr
    state["v"] = state.get("v", np.zeros_like(w)) * m - g * lr
    return w + (state["v"] * m - g * lr if config.get("nesterov", False) else state["v"])


def adam_step(config, state, w, g, lr, t):
    """m = m + (g - m)*(1-b1); v = v + (g*g - v)*(1-b2), with 1-b1 and 1-b2
    rounded to float32 from double; b1^t and b2^t are float32 powers of the
    float32 betas; alpha = lr*sqrt(1 - b2^t)/(1 - b1^t) in float32;
    w = w - (m*alpha)/(sqrt(v) + eps)."""
    f32 = np.float32
    b1, b2 = config.get("beta_1", 0.9), config.get("beta_2", 0.999)
    b1_t, b2_t = f32(b1) ** f32(t), f32(b2) ** f32(t)
    alpha = lr * np.sqrt(f32(1) - b2_t) / (f32(1) - b1_t)
    m = state.get("m", np.zeros_like(w))
    v = state.get("v", np.zeros_like(w))
    state["m"] = m + (g - m) * f32(1 - b1)
    state["v"] = v + (g * g - v) * f32(1 - b2)
    return w - (state["m"] * alpha) / (np.sqrt(state["v"]) + f32(config.get("epsilon", 1e-7)))


def rmsprop_step(config, state, w, g, lr, t):
    """v = rho*v + (1-rho)*g²; centered: a = rho*a + (1-rho)*g and
    d = v - a² + eps, else d = v + eps; inc = lr*g/sqrt(d); with momentum
    m = momentum*m + inc, w -= m, else w -= inc (rho and 1-rho rounded to
    float32 from double)."""
    f32 = np.float32
    rho, eps, momentum = config["rho"], f32(config["epsilon"]), f32(config["momentum"])
    state["v"] = f32(rho) * state.get("v", np.zeros_like(w)) + f32(1 - rho) * (g * g)
    if config["centered"]:
        state["a"] = f32(rho) * state.get("a", np.zeros_like(w)) + f32(1 - rho) * g
        denominator = state["v"] - state["a"] * state["a"] + eps
    else:
        denominator = state["v"] + eps
    increment = (lr * g) / np.sqrt(denominator)
    if momentum > 0:
        state["m"] = momentum * state.get("m", np.zeros_like(w)) + increment
        return w - state["m"]
    return w - increment


STEPS = {"SGD": sgd_step, "Adam": adam_step, "AdamW": adam_step, "RMSprop": rmsprop_step}


def replay(kind, config, weights, grads_per_step):
    """Keras's apply in numpy, in float32: clip the gradients, decay every
    weight (w - w*wd*lr), then the optimizer's own step."""
    w = {k: v.copy() for k, v in weights.items()}
    states = {k: {} for k in weights}
    wd = config.get("weight_decay")
    for t, (grads, lr) in enumerate(zip(grads_per_step, learning_rates(config, len(grads_per_step))), start=1):
        for k, g in clip(config, grads).items():
            if wd:
                w[k] = w[k] - w[k] * np.float32(wd) * lr
            w[k] = STEPS[kind](config, states[k], w[k], g, lr, t)
    return w


# --------------------------------------------------------------- training

def run_scenario(model, base, scenario, initial, x, y, loss_fn, margin):
    """The scenario's steps from the initial weights; with them, the smallest
    kink margin of any step's forward pass."""
    restore(model, initial)
    set_trainable(base, scenario["base_trainable"])
    optimizer = make_optimizer(scenario["optimizer"])
    variables = model.trainable_variables
    paths = [v.path for v in variables]
    if len(set(paths)) != len(paths):
        raise RuntimeError("two trainable variables share a path")

    targets, weights = y, None
    if "loss" in scenario:
        name, arguments = scenario["loss"]
        loss_fn = getattr(keras.losses, name)(**arguments)
        # BinaryCrossentropy takes a (n, 1) column of 0s and 1s, as
        # label_mode="binary" gives it; the categorical loss one-hot rows.
        targets = (y[:, None].astype(np.float32) if name == "BinaryCrossentropy"
                   else keras.utils.to_categorical(y, CLASSES))
    if "class_weight" in scenario:
        # As Keras's fit turns class_weight into sample weights.
        weights = keras.src.trainers.data_adapters.data_adapter_utils.class_weight_to_sample_weights(
            targets, scenario["class_weight"])
    losses, logits_per_step, grads_per_step, margins = [], [], [], []
    for _ in range(scenario["steps"]):
        margins.append(margin(x))
        with tf.GradientTape() as tape:
            logits = model(x, training=False)
            loss = loss_fn(targets, logits, sample_weight=weights)
        grads = tape.gradient(loss, variables)
        missing = [p for p, g in zip(paths, grads) if g is None]
        if missing:
            raise RuntimeError(f"scenario {scenario['name']}: no gradient for {missing[:5]}")
        optimizer.apply_gradients(zip(grads, variables))
        losses.append(float(loss.numpy()))
        logits_per_step.append(logits.numpy().astype(np.float64).tolist())
        grads_per_step.append({p: np.array(g.numpy()) for p, g in zip(paths, grads)})
    if not all(np.isfinite(losses)):
        raise RuntimeError(f"scenario {scenario['name']}: loss not finite: {losses}")

    after = snapshot(model)
    trainable_layers = [layer.name for layer in base.layers
                        if layer.trainable and layer.trainable_weights]
    return {
        "losses": losses,
        "logits": logits_per_step,
        "grads": grads_per_step,
        "trainable_paths": paths,
        "trainable_layers": trainable_layers,
        "optimizer_config": optimizer.get_config(),
        "after": after,
        "kink_margin": min(margins),
    }


def check_scenario(scenario, result, initial):
    """Fail loudly unless exactly the trainable variables moved, and moved as
    the optimizer's formula says."""
    name = scenario["name"]
    after = result["after"]
    trainable = set(result["trainable_paths"])
    changed = {p for p in initial if not np.array_equal(initial[p], after[p])}

    moved_stats = sorted(p for p in changed if is_moving_stat(p))
    if moved_stats:
        raise RuntimeError(f"scenario {name}: BatchNorm moving statistics changed: {moved_stats[:5]}")
    frozen_moved = sorted(changed - trainable)
    if frozen_moved:
        raise RuntimeError(f"scenario {name}: frozen weights changed: {frozen_moved[:5]}")
    still = sorted(trainable - changed)
    if still:
        raise RuntimeError(f"scenario {name}: trainable weights did not change: {still[:5]}")

    head = {"dense/kernel", "dense/bias"}
    if scenario["base_trainable"] == "none" and changed != head:
        raise RuntimeError(f"scenario a: changed {sorted(changed)}, expected only the head")
    if scenario["base_trainable"] == "last10":
        expected = {p for p in initial if p.startswith("conv5_block3_") and not is_moving_stat(p)}
        if len(expected) != 12 or changed != expected | head:
            raise RuntimeError(f"scenario c: changed {sorted(changed)}")
    if scenario["base_trainable"] == "all":
        expected = {p for p in initial if not is_moving_stat(p)}
        if changed != expected:
            raise RuntimeError(f"scenario b: changed {len(changed)} arrays, expected {len(expected)}")

    # The same update computed in numpy from the recorded gradients. Expected
    # bit for bit; allowed: 1e-5 of the array's largest step plus 2 ulps.
    kind, _ = scenario["optimizer"]
    replayed = replay(kind, result["optimizer_config"], {p: initial[p] for p in trainable}, result["grads"])
    differing, worst = 0, 0.0
    for p in trainable:
        diff = np.abs(replayed[p].astype(np.float64) - after[p])
        step = np.abs(after[p].astype(np.float64) - initial[p]).max()
        allowed = 1e-5 * step + 2 * np.spacing(np.abs(after[p]))
        differing += int(np.count_nonzero(diff))
        worst = max(worst, float((diff / allowed).max()))
        if np.any(diff > allowed):
            raise RuntimeError(f"scenario {name}: Keras's update of {p} differs from the {kind} "
                               f"formula by up to {diff.max():.3g} (largest step {step:.3g})")
    return {"elements_differing": differing, "max_difference_over_allowed": worst}


def update_stats(initial, after, paths):
    """Size of the total update of the trainable arrays, base and head apart:
    max |after - before|, that relative to max |before| of the same array
    (arrays that start at zero skipped), the ratio of the update's L2 norm to
    the weights', and how many elements moved at all."""
    out = {}
    for group, members in (("base", [p for p in paths if not p.startswith("dense/")]),
                           ("head", [p for p in paths if p.startswith("dense/")])):
        if not members:
            continue
        max_abs, max_rel, moved, total, where = 0.0, 0.0, 0, 0, None
        delta_sq, weight_sq = 0.0, 0.0
        for p in members:
            before = initial[p].astype(np.float64)
            delta = np.abs(after[p] - before)
            if delta.max() > max_abs:
                max_abs, where = float(delta.max()), p
            if np.any(before != 0):
                max_rel = max(max_rel, float(delta.max() / np.abs(before).max()))
            delta_sq += float((delta**2).sum())
            weight_sq += float((before**2).sum())
            moved += int(np.count_nonzero(delta))
            total += delta.size
        out[group] = {
            "max_abs_update": max_abs,
            "max_abs_update_at": where,
            "max_abs_update_over_max_abs_weight": max_rel,
            "update_norm_over_weight_norm": (delta_sq / weight_sq) ** 0.5,
            "elements_moved": moved,
            "elements": total,
        }
    return out


# ----------------------------------------------------------------- output

class Writer:
    """Raw files with their shapes and dtypes recorded for training.json."""

    def __init__(self, directory):
        self.directory = directory
        self.files = {}

    def raw(self, name, array, dtype):
        array = np.ascontiguousarray(array, dtype=dtype)
        array.tofile(self.directory / name)
        self.files[name] = {"dtype": np.dtype(dtype).name, "shape": list(array.shape),
                            "endian": "little", "order": "C"}

    def f32(self, name, array):
        self.raw(name, array, "<f4")

    def i32(self, name, array):
        self.raw(name, array, "<i4")

    def h5(self, name, note):
        self.files[name] = {"format": "keras legacy HDF5 (names without ':0')", "note": note}


def save_base(base, values, path):
    """Write `values` as the base's weights in the legacy layout.

    Every layer is made trainable first: the legacy writer stores a layer's
    trainable weights before its non-trainable ones, so freezing could reorder
    the datasets. Trainability does not change the values.
    """
    for v in base.weights:
        v.assign(values[v.path])
    base.trainable = True
    save_legacy_h5(base, path)
    check_h5(path, values)


def check_h5(path, values, zero_moving_stats=False):
    """Every dataset of the file holds the array of the same name, in the order
    gamma, beta, moving_mean, moving_variance for BatchNorm."""
    seen = 0
    with h5py.File(path, "r") as f:
        for layer in f.attrs["layer_names"]:
            layer = layer.decode() if isinstance(layer, bytes) else layer
            names = [n.decode() if isinstance(n, bytes) else n
                     for n in f[layer].attrs["weight_names"]]
            for name in names:
                stored = f[layer][name][()]
                expected = values[name]
                if zero_moving_stats and is_moving_stat(name):
                    expected = np.zeros_like(expected)
                if stored.dtype != np.float32 or not np.array_equal(stored, expected):
                    raise RuntimeError(f"{path.name}: {name} does not hold the expected array")
                seen += 1
            suffixes = [n.rsplit("/", 1)[-1] for n in names]
            if suffixes not in ([], ["kernel", "bias"], ["gamma", "beta", "moving_mean", "moving_variance"]):
                raise RuntimeError(f"{path.name}: {layer} stores {suffixes}")
    if seen != len(values):
        raise RuntimeError(f"{path.name}: {seen} datasets, expected {len(values)}")


def write_like(template, path, values):
    """A copy of the legacy file `template` with every dataset replaced by
    values[<dataset name>] (same groups, attributes and names)."""
    shutil.copyfile(template, path)
    with h5py.File(path, "r+") as f:
        for layer in f.attrs["layer_names"]:
            layer = layer.decode() if isinstance(layer, bytes) else layer
            for name in f[layer].attrs["weight_names"]:
                name = name.decode() if isinstance(name, bytes) else name
                dataset = f[layer][name]
                array = np.asarray(values[name], dtype=np.float32)
                if array.shape != dataset.shape:
                    raise RuntimeError(f"{name}: shape {array.shape}, file has {dataset.shape}")
                dataset[...] = array


def build_fixtures(out):
    timer = time.perf_counter()
    tf.config.experimental.enable_op_determinism()
    writer = Writer(out)

    model, base, head = build_model()
    initial = snapshot(model)
    base_paths = [v.path for v in base.weights]
    base_initial = {p: initial[p] for p in base_paths}

    y = np.array(LABELS, dtype=np.int32)
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    seed, x, results = choose_batch(model, base, initial, y, loss_fn)
    restore(model, initial)

    initial_logits = model(x, training=False).numpy()
    initial_loss = float(loss_fn(y, initial_logits).numpy())
    # Per-example cross-entropy in float64, to show the mean is over the batch.
    z = initial_logits.astype(np.float64)
    per_example = np.log(np.exp(z - z.max(1, keepdims=True)).sum(1)) + z.max(1) - z[np.arange(len(y)), y]
    if abs(per_example.mean() - initial_loss) > 1e-4 * max(1.0, initial_loss):
        raise RuntimeError(f"loss {initial_loss} is not the batch mean {per_example.mean()}")
    print(f"x in [{x.min():.2f}, {x.max():.2f}]; initial logits max |z| = {np.abs(z).max():.3f}; "
          f"loss {initial_loss:.6f}")

    writer.f32("x.f32", x)
    writer.i32("y.i32", y)
    save_base(base, base_initial, out / "initial_base.h5")
    writer.h5("initial_base.h5", "initial base weights")
    writer.f32("initial_head_kernel.f32", initial["dense/kernel"])
    writer.f32("initial_head_bias.f32", initial["dense/bias"])
    writer.f32("initial_head.f32", np.concatenate([initial["dense/kernel"].ravel(),
                                                   initial["dense/bias"].ravel()]))
    writer.files["initial_head.f32"]["parts"] = [
        {"name": "kernel", "shape": list(initial["dense/kernel"].shape)},
        {"name": "bias", "shape": list(initial["dense/bias"].shape)},
    ]

    report = {
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "model": {
            "base": "keras.applications.ResNet50(include_top=False, weights=None), every weight "
                    "random as in tools/make_fixtures.py (glorot kernels from seed 1234, uniform "
                    "biases, gamma, beta, moving statistics from numpy seed 5678)",
            "head": "base(x, training=False) -> GlobalAveragePooling2D -> Dense(3), glorot "
                    f"uniform kernel (seed {HEAD_SEED}), zero bias",
            "input_shape": list(INPUT_SHAPE),
            "loss": "SparseCategoricalCrossentropy(from_logits=True), mean over the batch",
            "step": "model(x, training=False) under tf.GradientTape; "
                    "optimizer.apply_gradients(zip(grads, model.trainable_variables))",
            "batchnorm": "inference mode in every scenario: moving statistics normalise "
                         "and never change; gamma/beta train when their layer is trainable",
        },
        "labels": LABELS,
        "x": "caffe preprocess_input of synthetic 0..255 images (make_fixtures.synthetic_images, "
             f"seed {seed})",
        "image_seed": seed,
        "kink_margin": {"required": KINK_MARGIN,
                        "note": "smallest |ReLU input| (or pool1 window lead) over every step's forward "
                                "pass, relative to its layer's largest; see KINK_MARGIN in the script",
                        **{s["name"]: r["kink_margin"] for s, r in zip(SCENARIOS, results)}},
        "initial_logits": initial_logits.astype(np.float64).tolist(),
        "initial_loss": initial_loss,
        "initial_per_example_loss": per_example.tolist(),
        "scenarios": {},
        "files": writer.files,
    }

    for scenario, result in zip(SCENARIOS, results):
        worst = check_scenario(scenario, result, initial)
        if "loss" not in scenario and abs(result["losses"][0] - initial_loss) > 1e-5 * max(1.0, initial_loss):
            raise RuntimeError(f"scenario {scenario['name']}: first loss {result['losses'][0]} "
                               f"!= initial loss {initial_loss}")
        name = scenario["name"]
        after = result["after"]
        save_base(base, {p: after[p] for p in base_paths}, out / f"{name}_base.h5")
        writer.h5(f"{name}_base.h5", f"base weights after the {scenario['steps']} steps of scenario {name}")
        writer.f32(f"{name}_head_kernel.f32", after["dense/kernel"])
        writer.f32(f"{name}_head_bias.f32", after["dense/bias"])

        stats = update_stats(initial, after, result["trainable_paths"])
        kind, kwargs = scenario["optimizer"]
        entry = {
            "description": scenario["description"],
            "steps": scenario["steps"],
            "losses": result["losses"],
            "losses_note": "loss of each step, computed before that step's update",
            "logits": result["logits"],
            "optimizer": {"class": kind, "arguments": kwargs,
                          "config": jsonable(result["optimizer_config"])},
            "trainable_layers": result["trainable_layers"],
            "trainable_base_weights": [p for p in result["trainable_paths"] if not p.startswith("dense/")],
            "trainable_variable_count": len(result["trainable_paths"]),
            "updates": stats,
            "numpy_replay_of_the_update": worst,
            "exactly_zero_gradient_elements_step1": int(sum(
                np.count_nonzero(g == 0) for g in result["grads"][0].values())),
            "gradient_elements": int(sum(g.size for g in result["grads"][0].values())),
        }
        if name == "b":
            grads = result["grads"][0]
            zero = {p: np.zeros_like(base_initial[p]) for p in base_paths if is_moving_stat(p)}
            values = {**zero, **{p: grads[p] for p in base_paths if p in grads}}
            write_like(out / "initial_base.h5", out / "b_grads.h5", values)
            check_h5(out / "b_grads.h5", values)
            writer.h5("b_grads.h5", "gradients of scenario b's first step (d mean loss / d weight); "
                      "moving_mean/moving_variance hold zeros: they get no gradient")
            writer.f32("b_grad_head_kernel.f32", grads["dense/kernel"])
            writer.f32("b_grad_head_bias.f32", grads["dense/bias"])
            entry["first_step_gradient_max_abs"] = {
                "base": max(float(np.abs(g).max()) for p, g in grads.items() if not p.startswith("dense/")),
                "head_kernel": float(np.abs(grads["dense/kernel"]).max()),
                "head_bias": float(np.abs(grads["dense/bias"]).max()),
                "bn_gamma": max(float(np.abs(g).max()) for p, g in grads.items() if p.endswith("/gamma")),
                "bn_beta": max(float(np.abs(g).max()) for p, g in grads.items() if p.endswith("/beta")),
            }
        if kind == "Adam":
            # On step 1, m/(sqrt(v)+eps) = g/(|g| + eps/sqrt(1-b2)): about lr*sign(g).
            first = result["grads"][0]
            steps = [np.abs(after[p] - initial[p]) for p in result["trainable_paths"]]
            entry["adam_first_step_note"] = ("step 1 moves each weight by lr*|g|/(|g|+eps/sqrt(1-beta_2)), "
                                             "about lr when |g| >> 3.2e-6")
            entry["smallest_nonzero_abs_gradient_step1"] = float(min(
                np.abs(g[g != 0]).min() for g in first.values() if np.any(g != 0)))
            entry["max_abs_update_over_2_lr"] = float(max(s.max() for s in steps)) / (2 * kwargs["learning_rate"])
        report["scenarios"][name] = entry
        print(f"scenario {name}: losses {', '.join(f'{v:.6f}' for v in result['losses'])}; "
              f"max |update| base {stats.get('base', {}).get('max_abs_update', 0):.4g} "
              f"head {stats['head']['max_abs_update']:.4g}; replay: {worst['elements_differing']} elements differ; "
              f"kink margin {result['kink_margin']:.3g}")

    # Scenario a trains only the head: its base file must equal the initial one.
    with h5py.File(out / "initial_base.h5", "r") as f0, h5py.File(out / "a_base.h5", "r") as f1:
        def collect(f):
            items = {}
            f.visititems(lambda n, o: items.__setitem__(n, o[()]) if isinstance(o, h5py.Dataset) else None)
            return items
        d0, d1 = collect(f0), collect(f1)
        if d0.keys() != d1.keys() or any(not np.array_equal(d0[k], d1[k]) for k in d0):
            raise RuntimeError("a_base.h5 differs from initial_base.h5")

    micro_seed, x_micro, micro_results = choose_micro_batch(model, base, initial, loss_fn)
    y_micro = micro_labels()
    writer.f32("m_x.f32", x_micro)
    writer.i32("m_y.i32", y_micro)
    for scenario, result in zip(MICRO_SCENARIOS, micro_results):
        report["scenarios"][scenario["name"]] = record_scenario(
            out, writer, base, scenario, result, initial, batch=MICRO_BATCH, image_seed=micro_seed,
            # None for m: no unit needs a margin.
            kink_margin=result["kink_margin"] if np.isfinite(result["kink_margin"]) else None,
            kink_margin_note=f"past the {MICRO_NEAR_KINK_UNITS} closest units; see MICRO_NEAR_KINK_UNITS")

    restore(model, initial)
    build_binary_fixtures(out, writer, report, base, x)

    schedules = []
    for class_name, arguments in SCHEDULES:
        schedule = getattr(keras.optimizers.schedules, class_name)(**arguments)
        rates = [float(np.float32(schedule(step))) for step in range(SCHEDULE_STEPS)]
        schedules.append({"class_name": class_name, "arguments": arguments, "rates": rates})
    (out / "schedules.json").write_text(json.dumps({"steps": SCHEDULE_STEPS, "schedules": schedules}, indent=1) + "\n")

    (out / "training.json").write_text(json.dumps(report, indent=1) + "\n")
    (out / "STAMP").write_text(f"tensorflow {tf.__version__}\nkeras {keras.__version__}\n")
    print(f"training fixtures built in {time.perf_counter() - timer:.1f} s")


def build_binary_fixtures(out, writer, report, base, x):
    """Scenarios t and u: the binary head's steps on the batch `x`, from
    `base` at its initial weights."""
    model = build_binary_model(base)
    initial = snapshot(model)
    y = np.array(BINARY_LABELS, dtype=np.int32)
    writer.i32("binary_y.i32", y)
    writer.f32("binary_initial_head_kernel.f32", initial["dense/kernel"])
    writer.f32("binary_initial_head_bias.f32", initial["dense/bias"])
    margin = kink_probe(base)
    for scenario in BINARY_SCENARIOS:
        result = run_scenario(model, base, scenario, initial, x, y, None, margin)
        if result["kink_margin"] < KINK_MARGIN:
            raise RuntimeError(f"scenario {scenario['name']}: a unit lies within the kink margin "
                               f"({result['kink_margin']:.3g})")
        report["scenarios"][scenario["name"]] = record_scenario(
            out, writer, base, scenario, result, initial, labels=BINARY_LABELS, kink_margin=result["kink_margin"],
            logits=result["logits"])
    restore(model, initial)


def record_scenario(out, writer, base, scenario, result, initial, **details):
    """Checks a scenario run apart from the batch of a to c, writes its
    weights after the last step (the base's only if it trained) and returns
    its training.json entry, `details` included."""
    name = scenario["name"]
    worst = check_scenario(scenario, result, initial)
    if scenario["base_trainable"] != "none":
        save_base(base, {v.path: result["after"][v.path] for v in base.weights}, out / f"{name}_base.h5")
        writer.h5(f"{name}_base.h5", f"base weights after the {scenario['steps']} steps of scenario {name}")
    writer.f32(f"{name}_head_kernel.f32", result["after"]["dense/kernel"])
    writer.f32(f"{name}_head_bias.f32", result["after"]["dense/bias"])
    print(f"scenario {name}: losses {', '.join(f'{v:.6f}' for v in result['losses'])}; "
          f"kink margin {result['kink_margin']:.3g}")
    return {
        "description": scenario["description"],
        **details,
        "steps": scenario["steps"],
        "losses": result["losses"],
        "losses_note": "loss of each step, computed before that step's update",
        "optimizer": {"class": scenario["optimizer"][0], "arguments": scenario["optimizer"][1],
                      "config": jsonable(result["optimizer_config"])},
        "trainable_layers": result["trainable_layers"],
        "updates": update_stats(initial, result["after"], result["trainable_paths"]),
        "numpy_replay_of_the_update": worst,
    }


def choose_batch(model, base, initial, y, loss_fn):
    """The first batch, from IMAGE_SEED on, whose every scenario step clears
    KINK_MARGIN: its seed, x, and the scenarios' results."""
    margin = kink_probe(base)
    for seed in range(IMAGE_SEED, IMAGE_SEED + SEEDS_TRIED):
        raw = synthetic_images(np.random.default_rng(seed), len(y), *INPUT_SHAPE[:2])
        x = keras.applications.resnet.preprocess_input(raw.copy()).astype(np.float32)
        restore(model, initial)
        if margin(x) < KINK_MARGIN:
            continue
        results = [run_scenario(model, base, scenario, initial, x, y, loss_fn, margin) for scenario in SCENARIOS]
        if all(r["kink_margin"] >= KINK_MARGIN for r in results):
            print(f"batch seed {seed}: every step clears the kink margin {KINK_MARGIN:g}")
            return seed, x, results
    raise RuntimeError(f"no batch of seeds {IMAGE_SEED}..{IMAGE_SEED + SEEDS_TRIED - 1} clears the kink margin")


def micro_labels():
    return (np.arange(MICRO_BATCH) % CLASSES).astype(np.int32)


def choose_micro_batch(model, base, initial, loss_fn):
    """The first batch of MICRO_BATCH, from MICRO_IMAGE_SEED on, whose steps
    of every micro-batch scenario keep all but MICRO_NEAR_KINK_UNITS of the
    units its gradients pass clear of KINK_MARGIN (none for a frozen base):
    its seed, x, and the results."""
    margins = {"none": lambda x: float("inf"), "last10": kink_probe(base, last_layers=LAST_TRAINABLE,
                                                                  tolerated=MICRO_NEAR_KINK_UNITS)}
    y = micro_labels()
    for seed in range(MICRO_IMAGE_SEED, MICRO_IMAGE_SEED + SEEDS_TRIED):
        raw = synthetic_images(np.random.default_rng(seed), MICRO_BATCH, *INPUT_SHAPE[:2])
        x = keras.applications.resnet.preprocess_input(raw.copy()).astype(np.float32)
        results = [run_scenario(model, base, scenario, initial, x, y, loss_fn, margins[scenario["base_trainable"]])
                   for scenario in MICRO_SCENARIOS]
        if all(r["kink_margin"] >= KINK_MARGIN for r in results):
            print(f"batch of {MICRO_BATCH}, seed {seed}: at most {MICRO_NEAR_KINK_UNITS} units of a step "
                  f"within the kink margin {KINK_MARGIN:g}")
            return seed, x, results
    raise RuntimeError(f"no batch of {MICRO_BATCH} of seeds {MICRO_IMAGE_SEED}..{MICRO_IMAGE_SEED + SEEDS_TRIED - 1} "
                       "clears the kink margin")


def jsonable(value):
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, (np.floating, np.integer)):
        return value.item()
    return value


def main():
    out = Path(sys.argv[1] if len(sys.argv) > 1 else ".fixtures/training").resolve()
    build_into(out, build_fixtures)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
