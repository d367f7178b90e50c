import os
import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).parent))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
torch.set_num_threads(min(2, os.cpu_count() or 1))

import fake_stages  # noqa: E402,F401  registers the test-only stage types


@pytest.fixture
def fake_weights(tmp_path):
    """A saved fake cascade (real safetensors + cascade.json) in tmp_path/weights."""
    pipe = fake_stages.make_fake_pipeline()
    return pipe.save_pretrained(tmp_path / "weights")
