"""Writes stories.txt: short TinyStories-style stories (simple words, one small plot each) built
from templates with a seeded generator, one story per paragraph. The fine-tuning test trains a
LoRA on some of them and checks the loss on the others falls. Run once: python3 make_stories.py"""
import random

rng = random.Random(2024)
names = ["Mia", "Ben", "Lily", "Tom", "Zoe", "Max", "Sam", "Anna", "Leo", "Ruby"]
animals = ["a little cat", "a big dog", "a small bird", "a happy frog", "a kind bear", "a shy bunny"]
things = ["a red ball", "a blue kite", "a shiny rock", "a yellow hat", "a toy boat", "a green box"]
places = ["the park", "the garden", "the beach", "the forest", "the farm", "the pond"]
feelings = ["happy", "sad", "scared", "excited", "tired", "proud"]
endings = [
    "From that day on, they were best friends.",
    "They laughed and played until the sun went down.",
    "{n} learned that sharing makes everyone happy.",
    "Then they went home and had a warm dinner.",
]

def story():
    n, m = rng.sample(names, 2)
    a, t, p, f = rng.choice(animals), rng.choice(things), rng.choice(places), rng.choice(feelings)
    s = [f"Once upon a time, there was a girl named {n}." if rng.random() < 0.5 else f"Once upon a time, there was a boy named {n}.",
         f"One day, {n} went to {p} with {m}.",
         f"At {p}, they found {t} under a tree.",
         f"{n} felt {f}. \"Look, {m}!\" said {n}.",
         f"Then {a} came and wanted to play with {t}.",
         f"{m} said, \"Let us share it with {a.split(' ', 1)[1]}.\"",
         rng.choice(endings).format(n=n)]
    return " ".join(s)

with open("stories.txt", "w") as f:
    f.write("\n\n".join(story() for _ in range(160)) + "\n")
