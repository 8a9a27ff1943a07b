"""A small Check-in library written by the tests themselves (no ../shared): pets (two cats, three dogs), a grandfather and a sock
puppet who share a name, a style with a copy, and a dachshund trained in three versions."""
from __future__ import annotations

import shutil
from pathlib import Path

from bench.corpus import formats as F


def _kohya(root: Path, rel: str, base: str, out_name: str, token: str, cls: str, tags: list[str], day: str | None,
           a1111: dict | None = None, civitai: dict | None = None) -> None:
    path = root / rel
    F.write_safetensors(path, F.kohya_lora(base), F.kohya_metadata(out_name, token, cls, base, tags, day))
    if a1111:
        F.write_json(path.with_suffix(".json"), a1111)
    if civitai:
        F.write_json(path.parent / (path.stem + ".civitai.info"), civitai)


def write_checkin_library(root) -> Path:
    """Write the library under root and return it."""
    root = Path(root)
    _kohya(root, "Lora/pets/waffles_beagle_v1.safetensors", "sd15", "waffles_beagle_v1", "wfflbeagle", "dog",
           ["dog", "beagle"], "2024-05-02",
           a1111={"description": "Waffles, our tricolor beagle with long floppy ears.", "activation text": "wfflbeagle",
                  "sd version": "SD1"})
    _kohya(root, "Lora/SDXL/waffles_beagle_xl.safetensors", "sdxl", "waffles_beagle_xl", "wfflbeagle", "dog",
           ["dog", "beagle"], "2025-02-10",
           a1111={"description": "Waffles the beagle, SDXL retrain.", "activation text": "wfflbeagle", "sd version": "SDXL"})
    _kohya(root, "Lora/pets/pretzel_basset.safetensors", "sd15", "pretzel_basset", "prtzlbasset", "dog",
           ["dog", "basset hound"], "2024-07-01",
           a1111={"description": "Pretzel, a basset hound with droopy ears and a sad face.", "activation text": "prtzlbasset"})
    _kohya(root, "Lora/pets/clementine_tabby.safetensors", "sd15", "clementine_tabby", "clemtabby", "cat",
           ["cat", "tabby"], "2024-09-12",
           a1111={"description": "Clementine, my orange tabby cat with a crooked tail.", "activation text": "clemtabby"})
    _kohya(root, "Lora/pets/marmalade_mainecoon.safetensors", "sd15", "marmalade_mainecoon", "mrmldcoon", "",
           ["maine coon", "fluffy"], "2024-10-01",
           a1111={"description": "Marmalade - my sister's huge ginger Maine Coon with lynx-tipped ears.",
                  "activation text": "mrmldcoon"})
    _kohya(root, "Lora/family/grandpa_hiroshi.safetensors", "sd15", "grandpa_hiroshi", "ojiihiroshi", "man",
           ["old man", "grandfather"], "2024-03-03",
           a1111={"description": "Grandpa Hiroshi, 82, with his flat cap and round glasses.", "activation text": "ojiihiroshi"})
    _kohya(root, "Lora/characters/hiroshi_the_sock_puppet.safetensors", "sd15", "hiroshi_sock", "hiroshisock", "",
           ["puppet", "sock"], "2024-04-04",
           civitai={"name": "v1.0", "trainedWords": ["hiroshisock"], "baseModel": "SD 1.5",
                    "description": "<p>Hiroshi, the striped sock puppet from our kids' show.</p>",
                    "model": {"name": "Hiroshi the Sock Puppet", "type": "LORA", "tags": ["puppet", "character"]}})
    _kohya(root, "Lora/styles/charcoal_sketch.safetensors", "sd15", "charcoal_sketch", "charcoalsk", "",
           ["style", "charcoal", "sketch"], "2024-01-20",
           civitai={"name": "v1.0", "trainedWords": ["charcoalsk"], "baseModel": "SD 1.5",
                    "description": "<p>Loose charcoal sketch style, smudged shading.</p>",
                    "model": {"name": "Charcoal Sketch", "type": "LORA", "tags": ["style", "charcoal"]}})
    (root / "Downloads").mkdir(parents=True, exist_ok=True)
    shutil.copyfile(root / "Lora/styles/charcoal_sketch.safetensors", root / "Downloads/charcoal_sketch (copy).safetensors")
    for rel, base, day, version in (("Lora/dogs/ziggy_dachshund_v1.safetensors", "sd15", "2025-01-15", 1),
                                    ("Lora/dogs/ziggy_dachshund_v2.safetensors", "sd15", "2025-06-20", 2),
                                    ("Lora/dogs/xl/ziggy_dachshund_xl_v8.safetensors", "sdxl", "2026-03-02", 8)):
        _kohya(root, rel, base, Path(rel).stem, "zgydox", "dog", ["dog", "dachshund"], day,
               a1111={"description": "Ziggy, our wire-haired dachshund.", "activation text": "zgydox",
                      "notes": f"v{version}"})
    return root
