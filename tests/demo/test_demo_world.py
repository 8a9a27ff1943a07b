"""The procedural world: deterministic scenes, captions that say what is drawn, clean splits."""
from __future__ import annotations

import numpy as np

from demo import personalize, world


def test_scenes_and_images_are_deterministic_from_the_seed():
    a, b = world.sample_scenes(3, 20), world.sample_scenes(3, 20)
    assert a == b
    assert np.array_equal(world.render(a), world.render(b))
    assert world.sample_scenes(4, 20) != a


def test_caption_names_every_attribute():
    s = world.Scene("triangle", "red", "small", "top left", "gray", "striped")
    assert world.caption(s) == "a small striped red triangle on a gray background, top left"


def test_drawing_puts_the_shape_colour_where_the_caption_says():
    s = world.Scene("square", "blue", "small", "top left", "black", "solid")
    img = world.draw(s)
    assert img.shape == (32, 32, 3) and img.dtype == np.uint8
    assert tuple(img[10, 10]) == world.COLOURS["blue"]
    assert tuple(img[25, 25]) == world.BACKGROUNDS["black"]


def test_heldout_split_never_overlaps_training_combinations():
    train = {world.caption(s) for s in world.sample_scenes(1, 400, split="train")}
    held = {world.caption(s) for s in world.sample_scenes(1, 100, split="heldout")}
    assert held and not (train & held)


def test_trigger_prompts_carry_the_trigger_and_plain_prompts_do_not():
    for c in world.CONCEPTS:
        trig = personalize.trigger_prompts(c.key, 5, 0)
        plain = personalize.plain_prompts(c.key, 5, 0)
        assert all(c.trigger in p.split() for p in trig)
        assert not any(c.trigger in p.split() for p in plain)


def test_fixed_combination_concept_has_other_plain_scenes():
    c = world.CONCEPT_BY_KEY["kxj_badge"]
    for s in world.plain_scenes(c.key, 20, 0):
        assert s.shape == c.class_noun
        assert any(getattr(s, k) != v for k, v in c.fixed.items())


def test_concepts_draw_differently_from_their_class():
    for c in world.CONCEPTS:
        if c.fixed is not None:
            continue
        s = world.random_scene(np.random.default_rng(0), c.key)
        plain = world.class_caption(s)
        assert c.trigger not in plain
        assert not np.array_equal(world.draw(s), world.draw(world.Scene(**{**s.__dict__, "concept": None})))


def test_library_has_the_required_variety():
    methods = [e.method for e in personalize.LIBRARY]
    assert len(personalize.LIBRARY) >= 8
    assert methods.count("textual_inversion") == 1 and "dreambooth" in methods and "lora" in methods
    robots = [e for e in personalize.LIBRARY if e.name == "PQR Robot"]
    assert sorted(e.version for e in robots) == ["v1", "v2"] and len({e.created for e in robots}) == 2
    kinds = {world.CONCEPT_BY_KEY[e.concept].kind for e in personalize.LIBRARY}
    assert kinds == {"subject", "style"}
