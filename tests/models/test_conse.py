"""The offline default model: ConSE over packaged EfficientNet-Lite and MiniLM weights."""

import numpy as np
import pytest
import torch

from models.encoders.conse import ConSEConfig, ConSEHead
from models.encoders.efficientnet_lite import remap_state_dict


def test_spec_round_trip():
    config = ConSEConfig.parse("conse:lite2:T5")
    assert (config.variant, config.top_t, config.spec) == (2, 5, "conse:lite2:T5")
    with pytest.raises(ValueError, match="ConSE spec"):
        ConSEConfig.parse("conse:lite7:T5")


def test_head_is_the_probability_weighted_mean_of_top_classes():
    classes = torch.eye(4)
    head = ConSEHead(classes, top_t=2)
    logits = torch.log(torch.tensor([[0.6, 0.3, 0.1, 0.0001]]))
    out = head(logits).numpy()[0]
    expected = np.array([0.6, 0.3, 0, 0]) / np.linalg.norm([0.6, 0.3])
    np.testing.assert_allclose(out, expected, atol=1e-3)


def test_remap_refuses_shape_mismatch():
    with pytest.raises(ValueError, match="shape mismatch"):
        remap_state_dict({"a": torch.zeros(2)}, {"b": torch.zeros(3)})
    with pytest.raises(ValueError, match="tensors"):
        remap_state_dict({"a": torch.zeros(2)}, {})


def test_packaged_classifier_recognises_a_cat(default_encoder):
    """Proves the TensorFlow-origin weights loaded into the right (tf_) architecture."""
    import skimage.data
    from PIL import Image

    cat = Image.fromarray(skimage.data.chelsea())
    pixels = default_encoder.preprocess.batch([cat])
    with torch.inference_mode():
        logits = default_encoder.image_model.classifier(torch.from_numpy(pixels))
    top5 = [default_encoder.class_names[i] for i in logits.topk(5).indices[0].tolist()]
    assert {"tabby cat", "tiger cat", "Egyptian Mau"} & set(top5), top5


def test_text_finds_the_right_photo(default_encoder):
    import skimage.data
    from PIL import Image

    photos = {"cat": skimage.data.chelsea(), "rocket": skimage.data.rocket(), "coffee": skimage.data.coffee()}
    images = default_encoder.encode_images([Image.fromarray(a) for a in photos.values()])
    texts = default_encoder.encode_texts(["a cat", "a rocket launch", "a cup of coffee"])
    assert (texts @ images.T).argmax(axis=1).tolist() == [0, 1, 2]


def test_outputs_are_normalised_float32(default_encoder):
    vectors = default_encoder.encode_texts(["a", "b c"])
    assert vectors.dtype == np.float32 and vectors.shape == (2, 384)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1, rtol=1e-5)
