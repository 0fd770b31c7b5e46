"""English-like prose from small grammars: sentences, short stories, poems and facts."""
from __future__ import annotations

import random

from lm.training import lexicon as lx


def _noun_phrase(rng: random.Random, nouns: tuple[str, ...] = lx.PROSE_NOUNS) -> str:
    determiner = rng.choice(("the", "a", "the", "my", "our", "every", "that"))
    if determiner == "a" and rng.random() < 0.5:
        adjective = rng.choice(lx.PROSE_ADJECTIVES)
        determiner = "an" if adjective[0] in "aeiou" else "a"
        return f"{determiner} {adjective} {rng.choice(nouns)}"
    if rng.random() < 0.4:
        return f"{determiner} {rng.choice(lx.PROSE_ADJECTIVES)} {rng.choice(nouns)}"
    noun = rng.choice(nouns)
    if determiner == "a" and noun[0] in "aeiou":
        determiner = "an"
    return f"{determiner} {noun}"


def _clause(rng: random.Random) -> str:
    subject = _noun_phrase(rng)
    if rng.random() < 0.55:
        clause = f"{subject} {rng.choice(lx.TRANSITIVE_VERBS)} {_noun_phrase(rng, lx.OBJECT_NOUNS)}"
    else:
        clause = f"{subject} {rng.choice(lx.INTRANSITIVE_VERBS)}"
        if rng.random() < 0.5:
            clause += f" {rng.choice(lx.ADVERBS)}"
    if rng.random() < 0.35:
        clause += f" {rng.choice(lx.PREPOSITIONS)} {_noun_phrase(rng, lx.OBJECT_NOUNS)}"
    return clause


def sentence(rng: random.Random) -> str:
    """One grammatical (if odd) English sentence."""
    text = _clause(rng)
    if rng.random() < 0.3:
        text += f"{rng.choice((' and', ', but', ' because', ' while', ' so'))} {_clause(rng)}"
    return text[0].upper() + text[1:] + rng.choice((".", ".", ".", "!"))


def story(rng: random.Random) -> str:
    name = rng.choice(lx.FIRST_NAMES)
    animal = rng.choice(lx.ANIMALS)
    adjective = rng.choice(lx.ANIMAL_ADJECTIVES)
    he = "she" if name in lx.FEMININE_NAMES else "he"
    hobby = rng.choice(("play in the grass", "look at the stars", "sing songs", "read old books",
                        "run by the river", "collect stones", "bake bread", "watch the clouds"))
    found = f"a {rng.choice(lx.COLORS)} {rng.choice(lx.OBJECT_NOUNS)}"
    friend = f"a {rng.choice(lx.ANIMAL_ADJECTIVES)} {rng.choice(lx.ANIMALS)}"
    lines = [
        f"Once upon a time, there was a {adjective} {animal} named {name}.",
        f"{he.title()} lived in {rng.choice(lx.PLACES)}.",
        f"Every day, {he} liked to {hobby}.",
        f"One day, {name} found {found}.",
        rng.choice((f"{he.title()} showed it to {friend}.", f"{he.title()} did not know what to do with it.",
                    f"It was shiny and strange.", f"{name} took it home.")),
    ]
    for _ in range(rng.randint(0, 2)):
        lines.append(sentence(rng))
    lines.append(rng.choice((f"In the end, {name} was very happy.", f"{name} learned to be kind.",
                             f"From that day on, {name} and the {animal}s were friends.", "The end.")))
    return " ".join(lines)


def poem(rng: random.Random) -> str:
    lines = []
    for _ in range(rng.randint(2, 4)):
        line = f"{_noun_phrase(rng).capitalize()} {rng.choice(lx.INTRANSITIVE_VERBS)} {rng.choice(lx.ADVERBS)}"
        lines.append(line + rng.choice((",", "", ".")))
    return "\n".join(lines)


def fact(rng: random.Random) -> str:
    country, capital = rng.choice(lx.CAPITALS)
    if rng.random() < 0.5:
        return f"Fact: The capital of {country} is {capital}."
    return f"Q: What is the capital of {country}?\nA: {capital}."


def prose_document(rng: random.Random) -> str:
    """A labelled story, poem or fact, or a few bare sentences."""
    roll = rng.random()
    if roll < 0.35:
        return f"Story: {story(rng)}" if rng.random() < 0.7 else story(rng)
    if roll < 0.5:
        return f"A poem:\n{poem(rng)}"
    if roll < 0.6:
        return fact(rng)
    return " ".join(sentence(rng) for _ in range(rng.randint(1, 4)))
