import pytest

from tests.fixtures.tiny_clip import TINY_ARCH, tiny_weights


@pytest.fixture(scope="session")
def tiny_clip_spec(tmp_path_factory) -> str:
    weights = tiny_weights(tmp_path_factory.mktemp("tiny-clip"))
    return f"open_clip:{TINY_ARCH}:{weights}"


@pytest.fixture(scope="session")
def tiny_clip(tiny_clip_spec):
    from models.encoders.open_clip_encoder import OpenClipEncoder

    return OpenClipEncoder(tiny_clip_spec)


@pytest.fixture(scope="session")
def tiny_bundle(tiny_clip, tmp_path_factory):
    from models.onnx_export import export_bundle

    folder = tmp_path_factory.mktemp("bundles") / "tiny"
    export_bundle(tiny_clip, folder)
    return folder


@pytest.fixture(scope="session")
def default_encoder():
    from models.encoders import DEFAULT_SPEC, load_encoder

    return load_encoder(DEFAULT_SPEC)


@pytest.fixture(scope="session")
def default_bundle(default_encoder, tmp_path_factory):
    from models.onnx_export import export_bundle

    folder = tmp_path_factory.mktemp("bundles") / "default"
    export_bundle(default_encoder, folder)
    return folder
