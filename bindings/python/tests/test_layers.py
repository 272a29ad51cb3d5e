"""The base's layers: Keras's names, in Keras's order."""

import pytest

import graft


def test_layer_names_are_keras_names_in_order(resnet50_random, keras_layer_names):
    expected = keras_layer_names("resnet50")
    assert len(expected) == 175
    assert [layer.name for layer in resnet50_random(32, 32).layers] == expected


def test_last_ten_layers_are_the_last_residual_block(resnet50_random):
    names = [layer.name for layer in resnet50_random(32, 32).layers[-10:]]
    assert all(name.startswith("conv5_block3_") for name in names), names


def test_get_layer(resnet50_random):
    model = resnet50_random(32, 32)
    assert model.get_layer("conv1_conv").name == "conv1_conv"
    assert model.get_layer(index=-1).name == "conv5_block3_out"
    # The same Layer objects every time, so settings made on one stick.
    assert model.get_layer("conv1_conv") is model.layers[2]


@pytest.mark.parametrize("arguments", [{"name": "conv9_conv"}, {"index": 175}, {},
                                       {"name": "conv1_conv", "index": 2}])
def test_get_layer_refuses_unknown_layers(resnet50_random, arguments):
    with pytest.raises(ValueError):
        resnet50_random(32, 32).get_layer(**arguments)


@pytest.mark.parametrize("constructor, count", [(graft.applications.ResNet101, 345),
                                                (graft.applications.ResNet152, 515)])
def test_deeper_resnets_have_keras_layers(keras_layer_names, constructor, count):
    with constructor(weights=None, input_shape=(32, 32, 3)) as model:
        names = [layer.name for layer in model.layers]
    assert len(names) == count and names == keras_layer_names(model.name)
