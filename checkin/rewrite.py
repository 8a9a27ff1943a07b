"""Rewrite a request into a generation prompt for one checkpoint: its trigger goes where the subject is named.

"my corgi at the beach" with trigger "sks" becomes "sks corgi at the beach": a possessive or article
in front of the subject is replaced by the trigger (DreamBooth's "a photo of sks dog" convention),
everything else the user wrote is kept. Selection-only words (version, time, base-model cues and
negations such as "not the puppet") are dropped, because they talk about the checkpoint, not the
picture. Textual-inversion tokens are used as written (`<honeycomb-wax>`, or the file stem A1111
prompts with); LoRA/A1111 activation text is inserted whole. The character span of the trigger is
returned so the engine can map it to tokenizer positions (TAQ keeps those positions in high precision).
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from catalog.card import Card
from catalog.names import file_stem
from checkin.intent import STOPWORDS, Intent, read_intent

DETERMINERS = {"my", "our", "your", "his", "her", "their", "the", "a", "an", "mom's", "dad's"}
NOISE = re.compile(r"^(?:v\d+.*|\d+|xl|sdxl|sd\d*|lora|loha|locon|lycoris|peft|dreambooth|final|new|better|real|"
                   r"safetensors|ckpt|pt|model|checkpoint|embedding|copy|pytorch|weights|learned|embeds|adapter)$")


@dataclass
class Rewrite:
    """The prompt to generate with; prompt[start:end] is the trigger (start == end == -1 when there is none)."""

    prompt: str
    trigger: str | None
    start: int = -1
    end: int = -1

    @property
    def span(self) -> tuple[int, int] | None:
        return (self.start, self.end) if self.trigger else None


def _words(text: str) -> list[str]:
    return [w for w in re.findall(r"[^\W_]+", re.sub(r"([a-z])([A-Z])", r"\1 \2", text or "").lower())]


def subject_words(card: Card) -> tuple[set[str], set[str]]:
    """(strong, weak) words that name the card's subject: name/file stem first, description and tags second."""
    stem = file_stem(card.path)
    strong = {w for w in _words(card.name) + _words(stem) if len(w) > 2 and w not in STOPWORDS and not NOISE.match(w)}
    weak = {w for w in _words(card.description) + [t for tag in card.tags for t in _words(tag)]
            if len(w) > 3 and w not in STOPWORDS and not NOISE.match(w)}
    return strong, weak - strong


GENERIC_TRIGGER_WORDS = {"style", "art", "artstyle", "photo", "picture", "look", "drawing", "aesthetic", "person",
                         "man", "woman", "character"}
# phrases that only pointed at a checkpoint and are left over once the version/time cue is cut out
LEFTOVER = re.compile(r"\b(?:the\s+|an?\s+)?(?:version|one|model|checkpoint)\s+(?:of|from|with)\s+", re.I)


def _find_trigger(prompt: str, card: Card) -> tuple[int, int, str] | None:
    """Where the request already holds a trigger: the whole one, or its distinctive word ("tvy" of "tvy style")."""
    triggers = card.triggers or ([card.canonical_trigger] if card.canonical_trigger else [])
    for trig in triggers:
        m = re.search(rf"(?<![\w<]){re.escape(trig)}(?![\w>])", prompt, re.I)
        if m:
            return m.start(), m.end(), trig
    for trig in triggers:
        for word in trig.split():
            if len(word) > 2 and word.lower() not in GENERIC_TRIGGER_WORDS:
                m = re.search(rf"(?<![\w<]){re.escape(word)}(?![\w>])", prompt, re.I)
                if m:
                    return m.start(), m.end(), prompt[m.start():m.end()]
    return None


def _close(word: str, vocab_word: str) -> bool:
    """A typo of the same word ("robto", "cactsu"): long enough, and at most about one slip apart."""
    import difflib

    if word in (vocab_word + "s", vocab_word + "es"):  # a plural is the user's word, not a slip
        return False
    if len(word) == 3 and len(vocab_word) == 4 and word[0] == vocab_word[0]:
        # a dropped double letter ("bal" for "ball"): otherwise the trigger lands on a description word
        return any(vocab_word[i] == vocab_word[i - 1] and vocab_word[:i] + vocab_word[i + 1:] == word for i in range(1, 4))
    return (len(word) > 3 and len(vocab_word) > 3 and abs(len(word) - len(vocab_word)) <= 1
            and word[0] == vocab_word[0] and difflib.SequenceMatcher(None, word, vocab_word).ratio() >= 0.8)


def _tidy(prompt: str) -> str:
    prompt = LEFTOVER.sub("", prompt)
    # "my robot from [March]": the cue is cut, its preposition would dangle
    prompt = re.sub(r"(?:\s+(?:i\s+)?(?:made|trained|created))?\s+(?:from|in|of|since|during|before|after)\s*(?=$|[,;.])",
                    "", prompt, flags=re.I)
    prompt = re.sub(r"\s{2,}", " ", prompt)
    return re.sub(r"^[\s,;:.-]+|[\s,;:-]+$", "", prompt)


def _fix_typos(prompt: str, card: Card) -> str:
    """A misspelt subject word becomes the card's own ("a cactsu" -> "a cactus"): the text encoder knows only that."""
    strong, weak = subject_words(card)
    vocab = strong | weak

    def fix(m: re.Match) -> str:
        word = m.group()
        low = word.lower()
        if low in vocab or low in STOPWORDS:
            return word
        near = [v for v in vocab if _close(low, v)]
        return near[0] if len(near) == 1 else word

    return re.sub(r"[^\W\d_]+", fix, prompt)


def _anchor(prompt: str, card: Card) -> tuple[int, int] | None:
    """Character range to replace by "trigger <word>": the first word naming the subject, with its determiner."""
    strong, weak = subject_words(card)
    tokens = list(re.finditer(r"[^\W_]+(?:'[^\W_]+)?", prompt))

    def matches(word: str, vocab: set[str]) -> bool:
        w = re.sub(r"'s$", "", word.lower())
        return any(w == v or (len(w) > 3 and len(v) > 3 and (w.startswith(v) or v.startswith(w)) and abs(len(w) - len(v)) <= 2)
                   for v in vocab)

    def plain_gap(a, b) -> bool:
        return prompt[a.end():b.start()].strip() in ("", "-")

    for vocab in (strong, weak):
        for i, tok in enumerate(tokens):
            if matches(tok.group(), vocab):
                # walk back over words of the same noun phrase that also describe the subject ("my orange tabby")
                while i > 0 and matches(tokens[i - 1].group(), strong | weak) and plain_gap(tokens[i - 1], tokens[i]):
                    i -= 1
                first = tokens[i]
                if i > 0 and tokens[i - 1].group().lower() in DETERMINERS and plain_gap(tokens[i - 1], first):
                    return tokens[i - 1].start(), first.start()
                return first.start(), first.start()
    return None


def rewrite_prompt(request: str, card: Card, intent: Intent | None = None) -> Rewrite:
    """Put the card's canonical trigger where the request names the subject or style, keep the rest."""
    intent = intent or read_intent(request)
    prompt = _tidy(intent.query.strip() or request.strip()) or request.strip()
    trigger = card.canonical_trigger or (card.triggers[0] if card.triggers else None)
    if not trigger:
        return Rewrite(prompt=prompt, trigger=None)
    found = _find_trigger(prompt, card)
    if found:
        start, end, matched = found
        if matched.lower() in {t.lower() for t in card.triggers or [trigger]}:
            if prompt[start:end] != trigger:  # a secondary trigger or other casing: use the canonical one
                prompt = prompt[:start] + trigger + prompt[end:]
            return Rewrite(prompt=prompt, trigger=trigger, start=start, end=start + len(trigger))
        # the user wrote the trigger's own word ("a tvy picture"): their words stay, that word is protected
        return Rewrite(prompt=prompt, trigger=matched, start=start, end=end)
    prompt = _fix_typos(prompt, card)
    anchor = _anchor(prompt, card)
    if anchor:
        start, end = anchor
        head, _, last = trigger.rpartition(" ")
        words = re.findall(r"[^\W_]+", prompt[end:])
        if head and last.lower() in GENERIC_TRIGGER_WORDS and last.lower() in [w.lower() for w in words[:3]]:
            # "outline style" + trigger "mlk style" -> "outline mlk style": no doubled "style", every word kept
            at = end + re.search(rf"\b{re.escape(last)}\b", prompt[end:], re.I).start()
            prompt = prompt[:start] + prompt[end:at] + trigger + prompt[at + len(last):]
            first = start + (at - end)
            return Rewrite(prompt=prompt, trigger=trigger, start=first, end=first + len(trigger))
        insert = trigger + " "
        prompt = prompt[:start] + insert + prompt[end:]
        return Rewrite(prompt=prompt, trigger=trigger, start=start, end=start + len(trigger))
    # nothing in the request names the subject ("a selfie of me"): lead with the trigger, A1111-style
    prompt = f"{trigger}, {prompt}" if prompt else trigger
    return Rewrite(prompt=prompt, trigger=trigger, start=0, end=len(trigger))
