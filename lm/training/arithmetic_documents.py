"""Short arithmetic word problems with step-by-step solutions ending in 'Answer: N'."""
from __future__ import annotations

import random

from lm.training import lexicon as lx

_PRONOUNS = {"he": ("He", "him", "his"), "she": ("She", "her", "her")}


def _person(rng: random.Random) -> tuple[str, str, str, str]:
    name = rng.choice(lx.FIRST_NAMES)
    subject, obj, possessive = _PRONOUNS["she" if name in lx.FEMININE_NAMES else "he"]
    return name, subject, obj, possessive


def counting_problem(rng: random.Random, events: int | None = None) -> tuple[str, str, int]:
    """(problem, solution, answer) of a counting story; `events` fixes how many (the corpus draws 1 to 3)."""
    name, he, him, _ = _person(rng)
    friend = rng.choice([n for n in lx.FIRST_NAMES if n != name])
    things = rng.choice(lx.COUNTABLE_THINGS)
    count = rng.randint(2, 60)
    story = [f"{name} has {count} {things}."]
    steps = [f"{name} starts with {count} {things}."]
    for _ in range(rng.randint(1, 3) if events is None else events):
        kind = rng.random()
        if kind < 0.35:
            k = rng.randint(1, 30)
            story.append(rng.choice((f"{he} buys {k} more {things}.", f"{friend} gives {him} {k} {things}.",
                                     f"{he} finds {k} {things}.")))
            steps.append(f"After getting {k} more, {he.lower()} has {count} + {k} = {count + k} {things}.")
            count += k
        elif kind < 0.7 and count > 1:
            k = rng.randint(1, count - 1)
            story.append(rng.choice((f"{he} gives {k} {things} to {friend}.", f"{he} loses {k} {things}.",
                                     f"{he} sells {k} {things}.")))
            steps.append(f"After losing {k}, {he.lower()} has {count} - {k} = {count - k} {things}.")
            count -= k
        elif kind < 0.85:
            boxes, each = rng.randint(2, 6), rng.randint(2, 12)
            container = rng.choice(lx.CONTAINERS)
            story.append(f"{he} buys {boxes} {container}{'es' if container.endswith('x') else 's'} with {each} {things} in each {container}.")
            steps.append(f"The {container}{'es' if container.endswith('x') else 's'} hold {boxes} * {each} = {boxes * each} {things}, "
                         f"so {he.lower()} has {count} + {boxes * each} = {count + boxes * each} {things}.")
            count += boxes * each
        else:
            story.append(f"Then the number of {things} {he.lower()} has doubles.")
            steps.append(f"Doubling gives {count} * 2 = {count * 2} {things}.")
            count *= 2
    if rng.random() < 0.3:
        friends = rng.choice([d for d in range(2, 9) if count % d == 0] or [1])
        if friends > 1:
            story.append(f"{he} shares the {things} equally among {friends} friends. How many {things} does each friend get?")
            steps.append(f"Each friend gets {count} / {friends} = {count // friends} {things}.")
            return " ".join(story), " ".join(steps), count // friends
    story.append(f"How many {things} does {name} have now?")
    return " ".join(story), " ".join(steps), count


def _shopping_problem(rng: random.Random) -> tuple[str, str, int]:
    name, he, _, _ = _person(rng)
    item = rng.choice(lx.PRODUCT_NOUNS)
    price, count = rng.randint(1, 25), rng.randint(2, 9)
    cost = price * count
    story = f"A {item} costs {price} dollars. {name} buys {count} of them."
    steps = f"{count} {item}s cost {count} * {price} = {cost} dollars."
    if rng.random() < 0.5:
        bill = next(b for b in (5, 10, 20, 50, 100, 200, 500) if b >= cost)
        return (f"{story} {he} pays with a {bill} dollar bill. How much change does {he.lower()} get?",
                f"{steps} The change is {bill} - {cost} = {bill - cost} dollars.", bill - cost)
    return f"{story} How much does {name} spend?", steps, cost


def _travel_problem(rng: random.Random) -> tuple[str, str, int]:
    vehicle = rng.choice(("train", "car", "bus", "bicycle", "boat"))
    speed, hours = rng.randint(5, 120), rng.randint(2, 8)
    return (f"A {vehicle} travels at {speed} km per hour for {hours} hours. How far does it travel?",
            f"Distance is speed times time: {speed} * {hours} = {speed * hours} km.", speed * hours)


def _age_problem(rng: random.Random) -> tuple[str, str, int]:
    first, second = rng.sample(lx.FIRST_NAMES, 2)
    age, gap, later = rng.randint(3, 50), rng.randint(1, 30), rng.randint(1, 20)
    return (f"{first} is {age} years old. {second} is {gap} years older than {first}. "
            f"How old will {second} be in {later} years?",
            f"{second} is {age} + {gap} = {age + gap} years old now. "
            f"In {later} years {second} will be {age + gap} + {later} = {age + gap + later}.", age + gap + later)


def arithmetic_document(rng: random.Random) -> str:
    """One 'Problem: ... Solution: ... Answer: N' document."""
    kind = rng.choices((counting_problem, _shopping_problem, _travel_problem, _age_problem), (5, 3, 1, 1))[0]
    problem, solution, answer = kind(rng)
    return f"Problem: {problem}\nSolution: {solution}\nAnswer: {answer}"
