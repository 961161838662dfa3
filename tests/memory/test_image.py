"""Visual retrieval through the real open_clip loading path, with a tiny CLIP the test makes.

No CLIP weights exist on this machine, so the test builds a small CLIP config, saves its
weights with torch.save, and loads them back exactly as a user's checkpoint is loaded
(memory.image_weights + memory.image_model_config). The crops come from the simulator.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pytest

from memory import KnowledgeBase, KnowledgeItem, open_knowledge_base
from memory.embedders import OpenClipImageEmbedder, make_image_embedder
from robot_agent.config import MemoryConfig
from robot_agent.deps import require
from robot_agent.errors import ConfigError, KnowledgeBaseError

TINY = {
    "embed_dim": 64,
    "vision_cfg": {"image_size": 64, "layers": 2, "width": 64, "patch_size": 16, "head_width": 32},
    "text_cfg": {"context_length": 16, "vocab_size": 49408, "width": 64, "heads": 2, "layers": 1},
}


@pytest.fixture(scope="module")
def tiny_clip(tmp_path_factory) -> tuple[Path, Path]:
    import open_clip

    d = tmp_path_factory.mktemp("clip")
    cfg = d / "tiny-clip.json"
    cfg.write_text(json.dumps(TINY))
    open_clip.add_model_config(cfg)
    return cfg, _save_tiny(d, seed=0)


@pytest.fixture(scope="module")
def crops() -> dict[str, list[np.ndarray]]:
    """Two views of each object: the scene rendered, then every object shifted a little."""
    from sim.camera import Camera
    from sim.scene import builtin_scene
    from sim.world import SimWorld

    out: dict[str, list[np.ndarray]] = {}
    with SimWorld(builtin_scene("tabletop")) as world:
        cam = Camera(world)
        for name, crop in cam.object_crops().items():
            out.setdefault(name, []).append(crop)
        for obj in world.objects.values():
            if obj.drawer_link is None:
                pos, orn = world.client.getBasePositionAndOrientation(obj.body)
                world.client.resetBasePositionAndOrientation(obj.body, [pos[0] + 0.03, pos[1] - 0.02, pos[2]], orn)
        for name, crop in Camera(world).object_crops().items():
            out.setdefault(name, []).append(crop)
    return out


def _save_tiny(d: Path, seed: int) -> Path:
    import open_clip

    torch = require("torch", "the tiny CLIP weights")

    torch.manual_seed(seed)
    model = open_clip.create_model("tiny-clip", pretrained=None)
    weights = d / f"tiny-clip-{seed}.pt"
    torch.save(model.state_dict(), weights)
    return weights


def test_loading_path_and_dimension(tiny_clip, tmp_path: Path) -> None:
    torch = require("torch", "visual retrieval")

    cfg, weights = tiny_clip
    emb = make_image_embedder("unused-name", str(weights), str(cfg))
    assert isinstance(emb, OpenClipImageEmbedder) and emb.dim == TINY["embed_dim"]
    imgs = [np.zeros((30, 40, 3), dtype=np.uint8), np.full((64, 64, 3), 200, dtype=np.uint8)]
    v = emb.embed(imgs)
    assert v.shape == (2, 64) and np.allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)
    # The checkpoint is what decides the output, not the random initialisation before loading it.
    torch.manual_seed(12345)
    again = OpenClipImageEmbedder("x", weights, cfg).embed(imgs)
    assert np.allclose(v, again, atol=1e-6)
    other = OpenClipImageEmbedder("x", _save_tiny(tmp_path, seed=7), cfg).embed(imgs)
    assert not np.allclose(v, other, atol=1e-3)
    with pytest.raises(ValueError, match="RGB"):
        emb.embed([np.zeros((8, 8), dtype=np.uint8)])


def test_missing_or_bad_weights_are_clear_errors(tmp_path: Path, tiny_clip) -> None:
    cfg, _ = tiny_clip
    with pytest.raises(ConfigError, match="do not exist"):
        OpenClipImageEmbedder("ViT-B-32", tmp_path / "nope.pt")
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a checkpoint")
    with pytest.raises(KnowledgeBaseError, match="junk.pt"):
        OpenClipImageEmbedder("x", junk, cfg)


def test_no_weights_means_text_only_said_once(caplog, monkeypatch) -> None:
    from memory import embedders

    monkeypatch.setattr(embedders, "_WARNED_TEXT_ONLY", False)  # as in a fresh process
    with caplog.at_level(logging.WARNING, logger="memory.embedders"):
        assert make_image_embedder("ViT-B-32", "") is None
        assert make_image_embedder("ViT-B-32", "") is None
    said = [r for r in caplog.records if "text only" in r.getMessage()]
    assert len(said) == 1 and "memory.image_weights" in said[0].getMessage()


def test_crop_of_the_same_object_ranks_first(tiny_clip, crops, tmp_path: Path, text_embedder) -> None:
    cfg, weights = tiny_clip
    image = OpenClipImageEmbedder("x", weights, cfg)
    # A tiny CLIP with random weights sees colour and coarse shape, not semantics: compare objects
    # that differ in appearance (a red block and a red apple would be a coin toss for it).
    names = ["red_block", "blue_block", "white_mug", "plate", "tray", "cabinet"]
    gallery = image.embed([crops[n][0] for n in names])
    queries = image.embed([crops[n][1] for n in names])
    sims = queries @ gallery.T
    assert all(int(np.argmax(sims[i])) == i for i in range(len(names))), np.round(sims, 3)
    # Through the knowledge base, built by the factory from config as the agent builds it:
    # the visual score decides between two items with the same words.
    mcfg = MemoryConfig(
        kb_dir=str(tmp_path / "kb"),
        image_model="unused",
        image_weights=str(weights),
        image_model_config=str(cfg),
        text_weight=0.5,
        image_weight=0.5,
        skill_threshold=0.3,
    )
    scope = {"skill": "pick", "object_description": "toy block"}
    with open_knowledge_base(mcfg, text_embedder=text_embedder) as kb:
        assert isinstance(kb.image, OpenClipImageEmbedder)
        a = kb.add(
            KnowledgeItem(
                "skill", "a", scope={**scope, "object_category": "block"}, parameters={"grasp_offset": [0.0, 0.01, 0.0]}
            ),
            image=crops["red_block"][0],
        )
        b = kb.add(
            KnowledgeItem(
                "skill", "b", scope={**scope, "object_category": "toy"}, parameters={"grasp_offset": [0.0, -0.01, 0.0]}
            ),
            image=crops["blue_block"][0],
        )
        hit_red = kb.retrieve_for_skill("pick", "toy block", image=crops["red_block"][1])
        hit_blue = kb.retrieve_for_skill("pick", "toy block", image=crops["blue_block"][1])
        assert [h[0].id for h in hit_red] == [a.id, b.id] and [h[0].id for h in hit_blue] == [b.id, a.id]
        # The score is the documented formula: text and visual cosines, weighted.
        t = float(np.dot(*text_embedder.embed(["pick the toy block", "pick the toy block"])))
        vis = float(np.dot(*image.embed([crops["red_block"][1], crops["red_block"][0]])))
        assert hit_red[0][1] == pytest.approx(0.5 * t + 0.5 * vis, abs=1e-4)
        assert kb.stats()["indexes"]["skill_image"]["vectors"] == 2
        # Without a query image the same items are scored by text alone (both equal here).
        assert {round(s, 4) for _, s in kb.retrieve_for_skill("pick", "toy block")} == {round(t, 4)}
    saved = (tmp_path / "kb" / "skill_image.faiss").read_bytes()
    # A text-only run leaves the image index alone; the next run with weights finds it intact.
    with KnowledgeBase(tmp_path / "kb", text_embedder) as kb:
        assert kb.image is None and len(kb.retrieve_for_skill("pick", "toy block", image=crops["red_block"][1])) == 2
    assert (tmp_path / "kb" / "skill_image.faiss").read_bytes() == saved
    with KnowledgeBase(tmp_path / "kb", text_embedder, image, mcfg) as kb:
        assert kb.open_report == []
        assert kb.retrieve_for_skill("pick", "toy block", image=crops["blue_block"][1])[0][0].id == b.id
