"""The built-in pool of names for sampled personas: diverse first names by gender, and
surnames from many origins, so a sampled panel does not read as one town's phone book."""

from __future__ import annotations

from simfocus.characters.schemas import Gender

FEMALE_FIRST: tuple[str, ...] = (
    "Amara", "Ana", "Beatriz", "Chloe", "Chiara", "Deborah", "Elena", "Fatima", "Grace",
    "Hana", "Ifeoma", "Ingrid", "Jasmine", "Kavya", "Leila", "Lucy", "Maria", "Mei",
    "Nadia", "Niamh", "Olivia", "Priya", "Rosa", "Sakura", "Sarah", "Siobhan", "Tamsin",
    "Ursula", "Valentina", "Wanjiru", "Yasmin", "Zainab", "Aoife", "Bronwen", "Claire",
    "Dina", "Esther", "Freya", "Gulnara", "Halima",
)  # fmt: skip

MALE_FIRST: tuple[str, ...] = (
    "Adam", "Ahmed", "Bilal", "Carlos", "Daniel", "Dmitri", "Emeka", "Farhan", "George",
    "Hamza", "Hiroshi", "Ian", "Jamal", "James", "Kofi", "Liam", "Luca", "Malik", "Marek",
    "Mohammed", "Nikhil", "Oliver", "Omar", "Pavel", "Rahul", "Rhys", "Samuel", "Tariq",
    "Thomas", "Tunde", "Vikram", "Wei", "Yusuf", "Zoltan", "Aled", "Benedict", "Callum",
    "Diego", "Eamon", "Finn",
)  # fmt: skip

# For non-binary and unspecified personas: names commonly used across genders.
NEUTRAL_FIRST: tuple[str, ...] = (
    "Alex", "Ash", "Avery", "Charlie", "Eden", "Frankie", "Jesse", "Jordan", "Kai", "Morgan",
    "Noor", "Quinn", "Reese", "Riley", "Robin", "Rowan", "Sam", "Sasha", "Sky", "Taylor",
)  # fmt: skip

LAST: tuple[str, ...] = (
    "Adeyemi", "Ahmed", "Andersen", "Baker", "Banerjee", "Begum", "Brennan", "Campbell",
    "Chowdhury", "Clarke", "Costa", "Davies", "Dubois", "Evans", "Fernandes", "Fischer",
    "Garcia", "Gonzalez", "Greenberg", "Hassan", "Hughes", "Ibrahim", "Ivanova", "Jones",
    "Kaur", "Kowalski", "Kumar", "Lee", "Li", "Lopez", "MacLeod", "Mensah", "Morris",
    "Murphy", "Nakamura", "Nguyen", "Novak", "Nowak", "O'Brien", "Okafor", "Okonkwo",
    "Olsen", "Patel", "Popescu", "Quinn", "Rahman", "Reid", "Rossi", "Santos", "Schmidt",
    "Shah", "Singh", "Smith", "Sokolov", "Taylor", "Thompson", "Walker", "Wang", "Williams",
    "Wilson", "Wright", "Yilmaz", "Zhang",
)  # fmt: skip

FIRST_BY_GENDER: dict[Gender, tuple[str, ...]] = {
    Gender.FEMALE: FEMALE_FIRST,
    Gender.MALE: MALE_FIRST,
    Gender.NON_BINARY: NEUTRAL_FIRST,
    Gender.UNSPECIFIED: NEUTRAL_FIRST,
}
