"""Everyday kinds of things a picture can be of, and of where and how it is shown: a yardstick for
what a few words of a request are ("stained glass" is a style, "the beach" a place, "a crab" an animal).

Phrases are compared with phrases by embedding, so no request wording is fitted here: the list is
world knowledge at the basic level (dog, not beagle; watercolor painting, not a painter's name).
"""
from __future__ import annotations

import re

import numpy as np

KINDS = {
    "animal": "dog, puppy, cat, kitten, horse, pony, donkey, cow, bull, pig, sheep, goat, chicken, rooster, duck, "
              "goose, rabbit, hamster, guinea pig, mouse, rat, squirrel, hedgehog, fox, wolf, bear, panda, koala, "
              "monkey, gorilla, lion, tiger, leopard, cheetah, elephant, giraffe, zebra, rhinoceros, hippopotamus, "
              "camel, deer, moose, kangaroo, bat, parrot, owl, eagle, hawk, crow, pigeon, penguin, flamingo, swan, "
              "peacock, hummingbird, fish, goldfish, shark, whale, dolphin, octopus, jellyfish, crab, lobster, "
              "turtle, tortoise, frog, lizard, snake, crocodile, dinosaur, dragon, unicorn, butterfly, bee, ant, "
              "spider, snail, beetle, ladybug",
    "person": "man, woman, boy, girl, baby, child, teenager, old man, old woman, grandmother, grandfather, mother, "
              "father, bride, groom, couple, family, soldier, knight, king, queen, princess, prince, wizard, witch, "
              "pirate, ninja, samurai, cowboy, astronaut, doctor, nurse, chef, farmer, firefighter, police officer, "
              "musician, dancer, athlete, clown, robot, cyborg, alien, zombie, vampire, ghost, angel, mermaid, elf, "
              "fairy, superhero",
    "food": "bread, cake, cupcake, cookie, pie, pizza, burger, sandwich, hot dog, taco, sushi, ramen, noodles, pasta, "
            "salad, soup, steak, fried chicken, fries, rice, curry, dumplings, pancakes, waffles, donut, croissant, "
            "ice cream, chocolate, candy, fruit, apple, banana, strawberry, orange, lemon, watermelon, grapes, "
            "cherry, vegetables, tomato, carrot, cheese, egg, coffee, tea, wine, beer, cocktail, juice, milkshake",
    "vehicle": "car, sports car, truck, pickup truck, van, bus, taxi, motorcycle, bicycle, scooter, skateboard, "
               "train, tram, subway, airplane, jet, helicopter, hot air balloon, rocket, spaceship, boat, sailboat, "
               "ship, yacht, canoe, submarine, tractor, tank, ambulance, fire truck, limousine, camper",
    "place": "city, street, alley, skyline, skyscraper, house, cottage, cabin, castle, palace, temple, church, "
             "cathedral, mosque, ruins, bridge, tower, lighthouse, windmill, barn, farm, village, market, shop, "
             "cafe, restaurant, bar, kitchen, bedroom, living room, bathroom, library, classroom, office, factory, "
             "warehouse, garage, studio, station, airport, harbor, beach, ocean, sea, island, lake, river, waterfall, "
             "mountain, hill, valley, canyon, cave, desert, forest, jungle, meadow, field, garden, park, swamp, "
             "glacier, volcano, snowy landscape, countryside, outer space, planet, moon, stars, galaxy, "
             "underwater, coral reef",
    "object": "chair, sofa, table, bed, lamp, clock, mirror, vase, bottle, cup, mug, teapot, bowl, plate, knife, "
              "sword, shield, gun, bow, book, notebook, letter, map, camera, phone, computer, television, radio, "
              "guitar, piano, violin, drum, trumpet, ball, toy, doll, teddy bear, balloon, kite, umbrella, bag, "
              "backpack, suitcase, hat, cap, helmet, crown, mask, glasses, watch, ring, necklace, shoe, boot, "
              "sneaker, jacket, coat, dress, suit, shirt, scarf, gloves, uniform, armor, kimono, sweater, jeans, "
              "skirt, costume, flower, rose, sunflower, tulip, tree, palm tree, cactus, mushroom, leaf, plant, "
              "box, candle, lantern, key, coin, jewel, crystal, statue, sculpture, painting, poster, flag, tent, "
              "fountain, bench",
    "setting": "sunset, sunrise, dawn, dusk, night, golden hour, daylight, rain, snow, fog, storm, thunderstorm, "
               "rainbow, string lights, floor, wall, ground, grass, sky, background, backdrop, room, party, birthday party, wedding, festival, holiday, christmas, concert, picnic",
    "style": "watercolor painting, oil painting, acrylic painting, pencil sketch, charcoal drawing, ink drawing, "
             "line art, comic book, manga, anime, cartoon, pixel art, voxel art, low poly, 3d render, claymation, "
             "stained glass, mosaic, woodcut print, linocut, ukiyo-e, art nouveau, art deco, pop art, "
             "impressionism, cubism, surrealism, baroque, renaissance painting, gothic, steampunk, cyberpunk, "
             "vaporwave, synthwave, retro poster, vintage photograph, film photo, polaroid, black and white photo, "
             "studio portrait, fashion photo, cinematic still, neon lights, pastel colors, children's book "
             "illustration, fantasy illustration, concept art, chalk drawing, crayon drawing, embroidery, "
             "papercut, origami, graffiti, tattoo design, blueprint",
    "pose": "standing, sitting, lying down, sleeping, running, walking, jumping, dancing, kneeling, crouching, "
            "waving, pointing, hugging, fighting, flying, swimming, riding, reading, eating, laughing",
}


def _kinds() -> dict[str, str]:
    """Every kind once, in the order above, with its category (the first one that lists it)."""
    out: dict[str, str] = {}
    for category, text in KINDS.items():
        for phrase in text.split(","):
            out.setdefault(phrase.strip(), category)
    return out


_KIND_CATEGORY = _kinds()


def kind_phrases() -> list[str]:
    """Every kind once, in the order above."""
    return list(_KIND_CATEGORY)


def nearest_kinds(phrases: list[str], vectors) -> list[tuple[str, float]]:
    """Per phrase: the category of its nearest everyday kind and that kind's cosine ("stained glass" ->
    ('style', 1.0)). `vectors` embeds phrases as unit rows."""
    if not phrases:
        return []
    sims = vectors(phrases) @ _kind_vectors(vectors).T
    best = sims.argmax(axis=1)
    categories = list(_KIND_CATEGORY.values())
    return [(categories[i], float(sims[row, i])) for row, i in enumerate(best)]


# kinds a request's subject is of; places, settings, styles and poses are where and how it is shown
SUBJECT_KINDS = ("animal", "person", "food", "vehicle", "object")


def subject_parts(parts: list[str], vectors) -> np.ndarray:
    """Per request part ("a crab", "the beach"): is its nearest everyday kind a thing (an animal, a person,
    a dish, a vehicle, an object) rather than a place, a setting, a style or a pose?"""
    # a trailing verb is what the thing does, not what it is: "basset hound lying" -> "basset hound"
    cores = [re.sub(r"(?:\s+\w+ing)+$", "", part) or part for part in parts]
    return np.array([category in SUBJECT_KINDS for category, _ in nearest_kinds(cores, vectors)], dtype=bool)


_VECTORS: dict = {}  # per embedding function


def _kind_vectors(vectors) -> np.ndarray:
    if vectors not in _VECTORS:
        _VECTORS[vectors] = vectors(kind_phrases())
    return _VECTORS[vectors]
