"""Word pools the corpus generator draws concepts and requests from.

Each concept is a set of canonical *facts* (its subject word, attributes, name, trigger); a request is
built from a few facts in some surface form (the word itself, a synonym, a translation), and its label
is the set of concepts whose facts cover those cues. Scene words are kept apart from every fact so a
scene never decides a label.
"""
from __future__ import annotations

# domain -> subject heads; each head -> the attribute kinds its concepts draw from
PETS = {
    "cat": ["tabby", "siamese", "persian", "bengal", "ragdoll", "sphynx", "calico", "tuxedo", "maine coon",
            "british shorthair", "abyssinian", "burmese"],
    "dog": ["beagle", "corgi", "dachshund", "husky", "poodle", "labrador", "pug", "shiba", "collie", "greyhound",
            "dalmatian", "terrier", "spaniel", "boxer", "akita", "samoyed"],
    "rabbit": ["lop", "angora", "dwarf", "rex"],
    "parrot": ["macaw", "cockatoo", "cockatiel", "budgie"],
    "horse": ["mustang", "pony", "arabian", "clydesdale"],
    "hamster": ["syrian", "roborovski"],
    "tortoise": ["sulcata", "leopard"],
    "ferret": ["albino", "sable"],
    "goat": ["pygmy", "nubian"],
    "hedgehog": ["pygmy", "african"],
}
PET_COLORS = ["orange", "black", "white", "grey", "brown", "cream", "golden", "spotted"]
PET_QUIRKS = [("with a crooked tail", "tail"), ("with one blue eye", "eye"), ("who loves cardboard boxes", "boxes"),
              ("with a torn ear", "ear"), ("who sleeps all day", "sleepy"), ("with huge paws", "paws"),
              ("with a pink nose", "nose"), ("who steals socks", "socks"), ("with a bushy mane", "mane"),
              ("who loves snow", "snow"), ("with a red collar", "collar"), ("with freckled whiskers", "whiskers")]
PET_NAMES = ["luna", "mochi", "biscuit", "pepper", "olive", "ziggy", "nacho", "pickles", "maple", "juniper", "tofu",
             "bramble", "clementine", "waffles", "pretzel", "noodle", "sprout", "cinder", "hazel", "kiwi", "dumpling",
             "saffron", "tater", "wasabi", "pumpkin", "gizmo", "moxie", "rufus", "sable", "pistachio", "marble",
             "fennel", "quince", "barley", "toffee", "jelly", "cosmo", "nimbus", "figaro", "pip", "bean", "crumpet",
             "doodle", "mango", "paprika", "yuzu", "basil", "churro", "sesame", "truffle", "boba", "ramses", "ozzy"]

PEOPLE = {  # relation -> head
    "grandmother": "woman", "grandfather": "man", "sister": "woman", "brother": "man", "niece": "girl",
    "nephew": "boy", "aunt": "woman", "uncle": "man", "daughter": "girl", "son": "boy", "wife": "woman",
    "husband": "man", "coworker": "woman", "neighbor": "man", "cousin": "girl", "godfather": "man",
}
PEOPLE_LOOKS = [("curly red hair", ["curly", "red", "hair"]), ("round glasses", ["glasses"]),
                ("a grey beard", ["grey", "beard"]), ("freckles", ["freckles"]), ("a silver bun", ["silver", "bun"]),
                ("braided hair", ["braided", "hair"]), ("a buzz cut", ["buzz"]), ("a straw hat", ["straw", "hat"]),
                ("a nose ring", ["nose", "ring"]), ("dimples", ["dimples"]), ("a mustache", ["mustache"]),
                ("long black hair", ["long", "black", "hair"]), ("a wool cap", ["wool", "cap"])]
PEOPLE_NAMES = ["priya", "hiroshi", "amara", "tomasz", "ingrid", "mateo", "leilani", "oskar", "farida", "dmitri",
                "sunniva", "kwame", "rosalind", "bao", "esperanza", "anouk", "rafferty", "yetunde", "ilse", "joaquin",
                "marisol", "teodor", "nkechi", "alasdair", "chiara", "benedikt", "soraya", "lachlan", "ottilie",
                "ravi", "ximena", "gunnar", "wren", "cosima", "eamon", "fenna", "idris", "juno", "kasimir", "lorna"]

PLACES = ["lighthouse", "cabin", "bridge", "cafe", "greenhouse", "canyon", "waterfall", "temple", "market",
          "library", "vineyard", "harbor", "windmill", "castle", "observatory", "chapel", "pier", "campsite",
          "bakery", "barn", "lagoon", "quarry", "orchard", "monastery"]
PLACE_ADJS = ["stone", "abandoned", "seaside", "mossy", "snowy", "wooden", "misty", "crumbling", "sunlit",
              "hidden", "crimson", "tiny"]
PLACE_NAMES = ["saltmarsh", "redhollow", "kestrel", "brightwater", "thornbury", "ashcombe", "willowmere",
               "blackrock", "fernvale", "greystone", "larkspur", "oakhaven", "pinecrest", "silverlake",
               "stormhold", "wyndham", "elderfield", "copperton", "mistral", "holloway", "ravenscar", "amberley"]

OBJECTS = ["teapot", "guitar", "backpack", "lamp", "camera", "watch", "sneaker", "mug", "typewriter", "vase",
           "armchair", "kite", "umbrella", "radio", "journal", "lantern", "violin", "skateboard", "clock",
           "telescope", "globe", "accordion", "thermos", "hourglass"]
OBJECT_ATTRS = ["brass", "ceramic", "leather", "wooden", "red", "green", "blue", "copper", "vintage", "chipped",
                "hand-painted", "striped"]
OWNERS = ["grandpa", "grandma", "mom", "dad"]

STYLE_MEDIA = {  # medium -> modifiers that make look-alike styles
    "watercolor": ["loose", "botanical", "splashy"], "ink": ["brush", "sumi", "crosshatch"],
    "pixel": ["retro", "isometric"], "charcoal": ["smudged", "gestural"], "gouache": ["flat", "storybook"],
    "linocut": ["bold", "two-tone"], "pastel": ["chalky", "dreamy"], "collage": ["paper", "magazine"],
    "mosaic": ["roman", "glass"], "neon": ["noir", "synth"], "embroidery": ["cross-stitch", "sashiko"],
    "cyanotype": ["blueprint", "botanical"], "risograph": ["grainy", "zine"], "claymation": ["stopmotion", "chunky"],
    "woodcut": ["ukiyo", "medieval"], "graffiti": ["wildstyle", "stencil"],
}

POSES = [("thumbs up", ["thumbs"]), ("jumping in the air", ["jumping"]), ("sitting cross-legged", ["cross-legged"]),
         ("hands on hips", ["hips"]), ("looking over the shoulder", ["shoulder"]), ("peace sign", ["peace"]),
         ("arms crossed", ["arms", "crossed"]), ("kneeling", ["kneeling"]), ("dancing a twirl", ["twirl"]),
         ("waving hello", ["waving"]), ("yoga tree pose", ["yoga"]), ("superhero landing", ["landing"])]

CLOTHES = ["raincoat", "jacket", "dress", "sweater", "kimono", "armor", "boots", "spacesuit", "scarf", "overalls",
           "poncho", "tuxedo", "apron", "cardigan"]
CLOTH_ATTRS = ["yellow", "denim", "knitted", "silk", "plaid", "sequined", "patched", "velvet", "quilted", "embroidered"]

FOODS = ["ramen", "croissant", "cake", "sushi", "tacos", "pancakes", "dumplings", "pizza", "macarons", "paella",
         "curry", "pie", "bagel", "gelato", "bibimbap", "tiramisu"]
FOOD_ATTRS = ["spicy", "homemade", "glazed", "smoky", "layered", "steaming", "rustic", "frosted"]

VEHICLES = ["van", "tractor", "scooter", "sailboat", "locomotive", "motorcycle", "truck", "tram", "balloon",
            "canoe", "bus", "jeep", "caravan", "seaplane"]
VEHICLE_ATTRS = ["vintage", "rusty", "red", "mint", "teal", "battered", "polished", "two-tone"]
VEHICLE_NAMES = ["bluebell", "rosie", "thunder", "daisy", "comet", "buttercup", "rocket", "ladybird", "goliath",
                 "marigold", "zephyr", "bessie", "nugget", "sparrow"]

DOMAINS = ("pets", "people", "places", "objects", "styles", "poses", "clothing", "food", "vehicles")

# category words a request can use for a whole domain (they are facts of every concept in it)
DOMAIN_WORDS = {"pets": ["pet", "animal"], "people": ["person"], "styles": ["style"], "poses": ["pose"],
                "food": ["food", "dish"], "vehicles": ["vehicle"], "clothing": ["outfit"], "places": ["place"],
                "objects": []}

# surface forms a paraphrase may use for a canonical fact word
SYNONYMS = {
    "cat": ["kitty", "feline", "kitty cat"], "dog": ["pup", "doggo", "pooch", "puppy"], "rabbit": ["bunny"],
    "parrot": ["bird"], "woman": ["lady"], "man": ["guy", "gentleman"], "boy": ["lad"], "grandmother": ["grandma", "nana", "granny"], "grandfather": ["grandpa", "granddad"],
    "sister": ["sis"], "brother": ["bro"], "orange": ["ginger"], "grey": ["gray"], "golden": ["gold"],
    "cafe": ["coffee shop"], "cabin": ["log hut", "cottage"], "harbor": ["port"], "lighthouse": ["light tower"],
    "guitar": ["six-string"], "mug": ["cup"], "sneaker": ["trainer", "running shoe"],
    "watercolor": ["watercolour", "aquarelle"], "armchair": ["chair"], "backpack": ["rucksack"],
    "motorcycle": ["motorbike"], "van": ["camper"], "truck": ["pickup"], "sweater": ["jumper"],
    "raincoat": ["rain jacket"], "boots": ["shoes"], "sleepy": ["lazy"], "vintage": ["old-school", "retro"],
    "neighbor": ["neighbour"], "coworker": ["colleague"], "pet": ["furry friend"], "style": ["look", "aesthetic"],
    "homemade": ["home-made"], "spicy": ["hot"], "tram": ["streetcar"], "canoe": ["kayak"], "abandoned": ["derelict"],
    "snowy": ["snow-covered"], "tiny": ["little", "small"], "huge": ["giant"], "glasses": ["specs", "spectacles"],
}

# translations of the words multilingual requests use (es, fr, de, pt, it, zh, ja)
LANGS = ("es", "fr", "de", "pt", "it", "zh", "ja")
TRANSLATE = {
    "cat": {"es": "gato", "fr": "chat", "de": "Katze", "pt": "gato", "it": "gatto", "zh": "猫", "ja": "猫"},
    "dog": {"es": "perro", "fr": "chien", "de": "Hund", "pt": "cachorro", "it": "cane", "zh": "狗", "ja": "犬"},
    "rabbit": {"es": "conejo", "fr": "lapin", "de": "Hase", "pt": "coelho", "it": "coniglio", "zh": "兔子", "ja": "うさぎ"},
    "horse": {"es": "caballo", "fr": "cheval", "de": "Pferd", "pt": "cavalo", "it": "cavallo", "zh": "马", "ja": "馬"},
    "woman": {"es": "mujer", "fr": "femme", "de": "Frau", "pt": "mulher", "it": "donna", "zh": "女人", "ja": "女性"},
    "man": {"es": "hombre", "fr": "homme", "de": "Mann", "pt": "homem", "it": "uomo", "zh": "男人", "ja": "男性"},
    "grandmother": {"es": "abuela", "fr": "grand-mère", "de": "Oma", "pt": "avó", "it": "nonna", "zh": "奶奶", "ja": "おばあちゃん"},
    "grandfather": {"es": "abuelo", "fr": "grand-père", "de": "Opa", "pt": "avô", "it": "nonno", "zh": "爷爷", "ja": "おじいちゃん"},
    "lighthouse": {"es": "faro", "fr": "phare", "de": "Leuchtturm", "pt": "farol", "it": "faro", "zh": "灯塔", "ja": "灯台"},
    "bridge": {"es": "puente", "fr": "pont", "de": "Brücke", "pt": "ponte", "it": "ponte", "zh": "桥", "ja": "橋"},
    "castle": {"es": "castillo", "fr": "château", "de": "Burg", "pt": "castelo", "it": "castello", "zh": "城堡", "ja": "城"},
    "guitar": {"es": "guitarra", "fr": "guitare", "de": "Gitarre", "pt": "violão", "it": "chitarra", "zh": "吉他", "ja": "ギター"},
    "teapot": {"es": "tetera", "fr": "théière", "de": "Teekanne", "pt": "bule", "it": "teiera", "zh": "茶壶", "ja": "急須"},
    "umbrella": {"es": "paraguas", "fr": "parapluie", "de": "Regenschirm", "pt": "guarda-chuva", "it": "ombrello", "zh": "雨伞", "ja": "傘"},
    "watercolor": {"es": "acuarela", "fr": "aquarelle", "de": "Aquarell", "pt": "aquarela", "it": "acquerello", "zh": "水彩", "ja": "水彩"},
    "ramen": {"es": "ramen", "fr": "ramen", "de": "Ramen", "pt": "lámen", "it": "ramen", "zh": "拉面", "ja": "ラーメン"},
    "tractor": {"es": "tractor", "fr": "tracteur", "de": "Traktor", "pt": "trator", "it": "trattore", "zh": "拖拉机", "ja": "トラクター"},
    "orange": {"es": "naranja", "fr": "roux", "de": "rote", "pt": "laranja", "it": "rosso", "zh": "橘色", "ja": "茶トラの"},
    "black": {"es": "negro", "fr": "noir", "de": "schwarze", "pt": "preto", "it": "nero", "zh": "黑色", "ja": "黒い"},
    "white": {"es": "blanco", "fr": "blanc", "de": "weiße", "pt": "branco", "it": "bianco", "zh": "白色", "ja": "白い"},
}
# "a photo of X {scene}" frames per language; {x} is the subject (a name, trigger or translated word)
FRAMES = {
    "es": ["una foto de {x} en la playa al atardecer", "{x} durmiendo junto a la ventana", "dibuja a {x} en el parque"],
    "fr": ["une photo de {x} sur la plage au coucher du soleil", "{x} qui dort près de la fenêtre", "dessine {x} dans un jardin public"],
    "de": ["ein Foto von {x} am Strand bei Sonnenuntergang", "{x} schläft am Fenster", "zeichne {x} im Park"],
    "pt": ["uma foto de {x} na praia ao pôr do sol", "{x} dormindo perto da janela", "desenhe {x} no parque"],
    "it": ["una foto di {x} sulla spiaggia al tramonto", "{x} che dorme vicino alla finestra", "disegna {x} nel parco"],
    "zh": ["{x}在海边看日落的照片", "{x}在窗边睡觉", "画一张{x}在公园里的图"],
    "ja": ["夕暮れの海辺にいる{x}の写真", "窓辺で眠る{x}", "公園で遊ぶ{x}を描いて"],
}
# the own-language card description templates (a card written by a user who does not write English)
CARD_LANG = {
    "es": "Modelo entrenado con fotos de {name}.", "de": "Modell trainiert mit Fotos von {name}.",
    "fr": "Modèle entraîné sur des photos de {name}.", "pt": "Modelo treinado com fotos de {name}.",
    "it": "Modello addestrato con foto di {name}.", "ja": "{name}の写真で学習したモデル。", "zh": "用{name}的照片训练的模型。",
}

# neutral scenes: none of their words is a fact of any concept (checked when the corpus is generated)
SCENES = ["at sunset", "in the rain", "under string lights", "at golden hour", "on a snowy morning",
          "in soft morning light", "with confetti falling", "on a windy hilltop", "in a cozy living room",
          "by the fireplace", "at night under the stars", "on a sunny beach", "in a busy city street",
          "in a field of sunflowers", "surrounded by autumn leaves", "next to a window", "in a forest clearing",
          "on a rooftop at dusk", "floating in space", "in a studio with a plain backdrop", "on a picnic blanket",
          "during a thunderstorm", "in a flower shop", "on a train platform", "at a birthday party"]
STYLE_SUBJECTS = ["a fox in a meadow", "a city skyline", "a bowl of fruit", "a sleeping dragon", "a sailing ship",
                  "a mountain village", "an old bicycle", "a jazz trio", "a koi pond", "a desert highway",
                  "a cup of coffee", "a ballerina", "a robot reading", "a street market"]
# where a card's photos were taken, said by some owners in passing ("Photos from the beach."): a word a
# request may share with the card without meaning it (a crab on the beach is not the dog on the beach)
PHOTO_SETTINGS = ["Photos from the beach.", "Mostly shot in the garden.", "Pictures taken in the kitchen.",
                  "Photographed by the lake.", "Shot in the snow last winter.", "Photos on the balcony.",
                  "Trained on pictures from the park.", "Taken at sunset.", "Photos by the window.",
                  "Shot on the couch.", "Photos from the forest trail.", "Pictures from a rainy street.",
                  "Taken at a birthday party.", "Photos from our road trip.", "Shot at the market.",
                  "Photos by the fireplace.", "Pictures from the mountains.", "Shot under the string lights."]
SETTING_DOMAINS = ("pets", "people", "objects", "food", "vehicles", "clothing")
SETTING_SHARE = 0.4
# subjects no library holds: what no-match requests ask for
ABSENT = ["giraffe", "penguin", "octopus", "flamingo", "zebra", "koala", "walrus", "llama", "owl", "panda",
          "submarine", "helicopter", "piano", "chandelier", "pyramid", "igloo", "volcano", "skyscraper",
          "sandcastle", "cactus", "jellyfish", "astronaut", "pirate", "knight", "wizard", "mermaid", "snowman",
          "robot", "dinosaur", "unicorn", "tiger", "lion", "whale", "bee", "crab", "windsurfer", "juggler"]
ABSENT_NAMES = ["bartholomew", "genevieve", "archibald", "philippa", "montgomery", "seraphina", "ignatius", "evangeline",
                "cornelius", "rosamund", "thaddeus", "winifred"]

RAMBLE_HEAD = ["so I've been meaning to make something for the fridge door, could you do",
               "ok this is for a birthday card and I don't really know how to say it, but maybe",
               "hi! long day, I just want something nice, um,",
               "my sister keeps asking for this and I finally have time, please make",
               "I'm not sure this is possible but here goes:", "for the newsletter this month I'd love"]
RAMBLE_TAIL = ["thanks so much!", "nothing too fancy, just nice colors I guess", "if that makes sense lol",
               "it doesn't have to be perfect", "she'll love it", "whatever looks best to you"]

# broader words a person uses for a group of subjects; they are facts of the concepts (so they label
# requests) but cards rarely say them: "a hound" for a beagle and a greyhound
HYPERNYMS = {
    "hound": ["beagle", "greyhound", "dachshund"], "bird": ["macaw", "cockatoo", "cockatiel", "budgie"],
    "grandparent": ["grandmother", "grandfather"], "sibling": ["sister", "brother"], "kid": ["niece", "nephew", "daughter", "son"],
    "boat": ["sailboat", "canoe"], "train": ["locomotive", "tram"], "dessert": ["cake", "macarons", "gelato", "tiramisu", "pie"],
    "noodles": ["ramen"], "shoes": ["boots", "sneaker"], "instrument": ["guitar", "violin", "accordion"],
    "coat": ["raincoat", "jacket", "poncho"], "printmaking": ["linocut", "woodcut", "risograph", "cyanotype"],
    "painting": ["watercolor", "gouache"], "drawing": ["charcoal", "ink", "pastel"],
    "building": ["lighthouse", "cabin", "temple", "library", "windmill", "castle", "observatory", "chapel", "bakery", "barn"],
    "waterside": ["harbor", "pier", "lagoon", "waterfall"],
}
HYPERNYM_PHRASES = {
    "hound": ["a hound", "a hound dog"], "bird": ["my bird", "a pet bird"], "grandparent": ["one of my grandparents", "a grandparent"],
    "sibling": ["my sibling", "one of my siblings"], "kid": ["one of the kids", "my kid"], "boat": ["the boat", "a boat on the water"],
    "train": ["the train"], "dessert": ["a dessert", "something sweet"], "noodles": ["a bowl of noodles"],
    "shoes": ["the shoes"], "instrument": ["a musical instrument", "the instrument"], "coat": ["the coat"],
    "printmaking": ["a print", "as a printmaking piece"], "painting": ["as a painting", "a painted look"],
    "drawing": ["as a drawing", "a hand-drawn look"], "building": ["the building", "an old building"],
    "waterside": ["somewhere by the water", "a spot by the water"],
}
ABSENT_RELATIONS = ["stepdad", "goddaughter", "mother-in-law", "fiance", "roommate", "landlord", "grandson", "pen pal"]
FAMOUS = ["albert einstein", "frida kahlo", "napoleon", "cleopatra", "mozart", "marie curie"]
