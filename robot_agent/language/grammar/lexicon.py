"""The words the grammar knows (numbers, units, amounts, colours, nouns, verbs, directions,
fillers) and the amounts and limits they stand for.
"""

from __future__ import annotations

import math
import re


#: size (m) used to scale "a bit" when the correction's object is unknown
DEFAULT_OBJECT_SIZE = 0.05
#: largest object size (m) that word magnitudes scale with (a cabinet is not a unit of "a bit")
MAX_REFERENCE_SIZE = 0.10
#: word magnitude classes -> multiple of the reference object's size
MAGNITUDE_FACTORS = {"tiny": 0.25, "small": 0.5, "medium": 1.0, "large": 2.0}
#: bounds (m) of a displacement chosen from words ("a bit"), before the safety checks
WORD_STEP_BOUNDS = (0.005, 0.15)
#: rotation (degrees) chosen from words, per magnitude class
ROTATION_DEG = {"tiny": 5.0, "small": 15.0, "medium": 45.0, "large": 90.0}
#: speed factors for "slower" / "faster", per magnitude class
SLOWER = {"tiny": 0.85, "small": 0.75, "medium": 0.5, "large": 0.25}
FASTER = {"tiny": 1.15, "small": 1.25, "medium": 1.5, "large": 2.0}
#: extra pull / push distance (m) chosen from words, per magnitude class
EXTRA_DISTANCE = {"tiny": 0.01, "small": 0.03, "medium": 0.05, "large": 0.10}
#: longest utterance parsed (characters); longer text is answered with a question
MAX_TEXT_CHARS = 600

_SMALL_NUMBERS = {
    "zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
    "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15,
    "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19,
}
_TENS = {"twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80,
         "ninety": 90}
_DIST_UNITS = {
    "mm": 0.001, "millimeter": 0.001, "millimeters": 0.001, "millimetre": 0.001, "millimetres": 0.001,
    "mil": 0.001, "mils": 0.001, "mms": 0.001,
    "cm": 0.01, "cms": 0.01, "centimeter": 0.01, "centimeters": 0.01, "centimetre": 0.01,
    "centimetres": 0.01, "centi": 0.01, "centis": 0.01,
    "m": 1.0, "meter": 1.0, "meters": 1.0, "metre": 1.0, "metres": 1.0,
    "inch": 0.0254, "inches": 0.0254, "ft": 0.3048, "foot": 0.3048, "feet": 0.3048,
}
_ANGLE_UNITS = {"deg": math.pi / 180, "degree": math.pi / 180, "degrees": math.pi / 180,
                "rad": 1.0, "rads": 1.0, "radian": 1.0, "radians": 1.0,
                "turn": 2 * math.pi, "turns": 2 * math.pi, "revolution": 2 * math.pi}
_PERCENT = {"percent", "pct"}

_MAGNITUDES: list[tuple[str, str]] = [  # (class, regex); earlier entries win on overlap
    ("tiny", r"a (?:tiny|teeny|wee|teensy|very small|really small|little tiny|weeny) (?:bit|amount)|"
             r"ever so slightly|very slightly|just slightly|a hair(?:'s breadth)?|a smidge(?:n|on)?|"
             r"a fraction|barely|minimally|the tiniest bit|just a touch|a tiny nudge"),
    ("large", r"quite a (?:bit|lot|way)|a fair (?:bit|way)|a good (?:bit|deal|way)|a great deal|"
              r"a whole lot|a long way|a lot|lots|a ton|significantly|considerably|substantially|"
              r"much|way|far|really far|very far|loads|heaps|plenty"),
    ("small", r"just a (?:little )?bit|just a little|a little bit|a bit|a little|a touch|a tad|a few|"
              r"slightly|somewhat|a small amount|a nudge|nudge|marginally|little|bit|some"),
]
_MAGNITUDE_RE = [(cls, re.compile(rf"\b(?:{pat})\b")) for cls, pat in _MAGNITUDES]

_COLORS = {"red", "green", "blue", "yellow", "orange", "purple", "white", "black", "gray", "grey",
           "brown", "pink", "cyan", "wood", "wooden", "clear", "transparent", "violet", "beige", "silver",
           "gold", "golden", "dark", "light", "navy", "teal", "magenta", "lime"}
_COLOR_CANON = {"grey": "gray", "wooden": "wood", "transparent": "clear", "violet": "purple",
                "golden": "gold"}
_SIZE_ADJ = {"big": 1, "bigger": 1, "biggest": 1, "large": 1, "larger": 1, "largest": 1, "huge": 1,
             "small": -1, "smaller": -1, "smallest": -1, "tiny": -1, "little": -1, "mini": -1}
_POS_ADJ = {"left": "left", "leftmost": "left", "right": "right", "rightmost": "right",
            "front": "far", "far": "far", "farthest": "far", "furthest": "far", "back": "near",
            "near": "near", "nearest": "near", "closest": "near", "middle": "middle"}
_SHAPE_ADJ = {"tall", "short", "wide", "narrow", "standard", "round", "deep", "square", "flat", "long",
              "thin", "fat", "plastic", "metal", "ceramic", "coffee", "empty", "full", "open", "closed"}
#: noun -> catalog category; shape nouns also name the shape
_NOUN_CATEGORY = {
    "block": "block", "brick": "block", "cube": "block", "cuboid": "block", "cylinder": "block",
    "fruit": "fruit", "apple": "fruit", "banana": "fruit", "lemon": "fruit", "orange": "fruit",
    "pear": "fruit", "lime": "fruit",
    "mug": "mug", "cup": "mug", "glass": "glass", "tumbler": "glass", "flute": "glass",
    "wineglass": "glass", "bowl": "bowl", "plate": "plate", "dish": "plate", "tray": "tray",
    "bin": "tray", "basket": "tray", "shelf": "shelf", "rack": "shelf", "cabinet": "cabinet",
    "drawer": "cabinet", "cupboard": "cabinet", "dresser": "cabinet",
}
_SHAPE_NOUNS = {"cube": "block", "cuboid": "block", "cylinder": "block", "apple": "fruit",
                "banana": "fruit", "lemon": "fruit", "orange": "fruit", "pear": "fruit", "lime": "fruit",
                "tumbler": "glass", "flute": "glass"}
_RECEPTACLES = {"bowl", "plate", "tray", "shelf", "cabinet", "box", "basket", "bin", "container", "sink",
                "pan", "pot", "crate"}
#: household nouns known to the parser but not in the object catalog
_EXTRA_NOUNS = {"laptop", "bottle", "can", "box", "phone", "book", "pen", "pencil", "sponge", "toy",
                "ball", "spoon", "fork", "knife", "vase", "jar", "lid", "container", "sink", "pan", "pot",
                "crate", "keyboard", "mouse", "monitor", "screen", "towel", "cloth", "bag", "tool",
                "scissors", "tape", "candle", "plant", "remote", "kettle", "teapot", "saucer", "tablet",
                "cable", "wire", "egg", "bread", "carrot", "tomato", "potato", "peach", "grape", "grapes",
                "strawberry", "cookie", "marker", "eraser", "stapler", "wallet", "key", "keys", "coin"}
_GENERIC_HEADS = {"one", "ones", "thing", "things", "object", "objects", "item", "items", "stuff", "piece",
                  "pieces"}
_PARTS = {"handle": "handle", "handles": "handle", "rim": "rim", "edge": "rim", "lip": "rim",
          "top": "top", "side": "side", "sides": "side", "middle": "center", "center": "center",
          "centre": "center", "body": "center"}
_ROBOT_WORDS = {"gripper", "hand", "arm", "robot", "wrist", "fingers", "finger", "claw", "tool", "table",
                "surface", "base", "workspace", "camera", "position", "spot", "place", "way", "side",
                "speed", "pace", "velocity"}
_DETERMINERS = {"the", "a", "an", "that", "this", "those", "these", "my", "your", "its", "another", "each",
                "every", "all", "any", "some", "both"}
_PRONOUNS = {"it", "them"}
#: verb form -> skill ("" = a generic verb that takes its skill from the rest of the clause)
_VERBS = {
    "open": "open", "opens": "open", "opening": "open", "opened": "open",
    "close": "close", "closes": "close", "closing": "close", "shut": "close", "shuts": "close",
    "shutting": "close",
    "pick": "pick", "picks": "pick", "picking": "pick", "grab": "pick", "grabs": "pick",
    "grabbing": "pick", "grasp": "pick", "grasping": "pick", "take": "pick", "takes": "pick",
    "taking": "pick", "get": "pick", "getting": "pick", "fetch": "pick", "lift": "pick", "lifting": "pick",
    "collect": "pick", "grip": "pick", "hold": "pick", "use": "pick", "choose": "pick", "select": "pick",
    "put": "place", "puts": "place", "putting": "place", "place": "place", "places": "place",
    "placing": "place", "drop": "place", "dropping": "place", "set": "place", "setting": "place",
    "stack": "place", "stacking": "place", "bring": "place", "bringing": "place", "transfer": "place",
    "load": "place", "store": "place", "leave": "place",
    "push": "push", "pushing": "push", "pushes": "push", "slide": "push", "sliding": "push",
    "shove": "push",
    "move": "", "moving": "", "pull": "", "pulling": "",
}
_DEST_PREPS = {"in": "in", "into": "in", "inside": "in", "on": "on", "onto": "on", "to": "at",
               "towards": "at", "toward": "at", "next": "near", "beside": "near", "near": "near"}
_CONFIRM_CORE = {"yes", "yeah", "yep", "yup", "yea", "good", "great", "perfect", "ok", "okay", "k", "fine",
                 "correct", "exactly", "nice", "excellent", "awesome", "brilliant", "lovely", "thanks",
                 "thank", "sure", "cool", "bingo", "affirmative", "continue", "proceed", "right",
                 "superb", "wonderful", "works", "better", "alright", "done", "ahead", "carry", "keep"}
_CONFIRM_FILLER = {"that's", "that", "is", "it", "it's", "very", "really", "so", "job", "well", "now", "the",
                   "you", "robot", "on", "spot", "looks", "look", "just", "this", "there", "all", "much",
                   "way", "like", "do", "will", "that'll", "go", "going", "please", "indeed", "more", "or",
                   "less", "and", "a", "lot", "enough", "i", "think", "was", "we're",
                   "got", "good", "keep", "oh", "ah", "hmm", "um", "uh", "wow"}
_NEGATIVE = {"no", "nope", "not", "wrong", "incorrect", "bad", "nah", "don't", "isn't", "wasn't", "never",
             "ugh", "oops", "mistake", "worse"}
#: words that carry no meaning of their own in a correction
_FILLERS = {
    "please", "could", "can", "would", "will", "you", "just", "now", "then", "and", "or", "but", "so",
    "the", "a", "an", "it", "its", "it's", "is", "be", "to", "of", "for", "with", "that", "this", "there",
    "here", "i", "me", "my", "we", "us", "our", "your", "yours", "robot", "hey", "ok", "okay", "um", "uh",
    "hmm", "er", "erm", "oh", "ah", "well", "maybe", "perhaps", "try", "again", "go", "going", "do",
    "make", "let's", "lets", "let", "kindly", "thanks", "thank", "more", "less", "bit", "little", "by",
    "about", "around", "roughly", "approximately", "like", "need", "needs", "want", "wanted", "should",
    "must", "have", "has", "had", "too", "very", "really", "quite", "still", "yet", "also", "as",
    "than", "at", "in", "on", "into", "onto", "from", "over", "under", "up", "down", "out", "off",
    "what", "when", "where", "which", "who", "how", "why", "are", "was", "were", "been", "being", "am",
    "i'm", "you're", "don't", "does", "did", "not", "no", "yes", "one", "ones", "some", "any",
    "all", "same", "other", "another", "instead", "rather", "first", "next", "last", "after", "before",
    "afterwards", "later", "once", "thing", "things", "object", "side", "amount",
    "shift", "nudge", "adjust", "correct", "fix", "change", "tiny", "wee", "further",
    "farther", "way", "direction", "position", "spot", "place", "slightly", "somewhat", "carefully",
    "gently", "alright", "right", "if", "because", "since", "i'd", "i'll", "you'll", "we'll",
    "meant", "mean", "said", "say", "think", "guess", "know", "see", "look", "watch", "good", "great",
    "sorry", "actually", "basically", "anyway", "hm", "huh", "those", "these", "them",
    "they", "their", "he", "she", "him", "her", "his", "hers", "sir", "buddy", "pal", "mate",
}

_DIR_VEC = {"left": (0.0, 1.0, 0.0), "right": (0.0, -1.0, 0.0), "forward": (1.0, 0.0, 0.0),
            "back": (-1.0, 0.0, 0.0), "up": (0.0, 0.0, 1.0), "down": (0.0, 0.0, -1.0)}
_OPPOSITE = {"left": "right", "right": "left", "forward": "back", "back": "forward", "up": "down",
             "down": "up", "high": "down", "low": "up", "higher": "down", "lower": "up"}
_DIR_WORD = {"left": "left", "leftward": "left", "leftwards": "left", "right": "right", "rightward": "right",
             "rightwards": "right", "forward": "forward", "forwards": "forward", "ahead": "forward",
             "frontward": "forward", "frontwards": "forward", "back": "back", "backward": "back",
             "backwards": "back", "up": "up", "upward": "up", "upwards": "up", "higher": "up", "raise": "up",
             "down": "down", "downward": "down", "downwards": "down", "lower": "down", "high": "up",
             "low": "down"}

_QUANTIFIERS = {"all", "every", "any", "each", "both"}
_MISC_KNOWN = {
    "rails", "rail", "axis", "front", "limits", "limit", "safety", "floor", "ground", "air", "end", "start",
    "beginning", "bottom", "corner", "wall", "angle", "rest", "task", "step", "steps", "plan", "order",
    "time", "moment", "second", "sec", "way", "same", "idea", "job", "mistake", "problem", "issue", "one",
    "instructions", "instruction", "rules", "rule", "prompt", "speed", "force", "height", "distance",
    "grip", "grasp", "motion", "movement", "move", "path", "trajectory", "drop", "approach", "descent",
    "release", "opening", "rim", "lip", "body", "left", "right", "pace", "velocity", "priority", "sorting",
}
_WORD_MAG_WORDS = {w for _c, pat in _MAGNITUDES for w in re.findall(r"[a-z']+", pat)}
_KNOWN_WORDS = (set(_SMALL_NUMBERS) | set(_TENS) | set(_DIST_UNITS) | set(_ANGLE_UNITS) | _PERCENT | _COLORS
                | set(_SIZE_ADJ) | set(_POS_ADJ) | _SHAPE_ADJ | set(_NOUN_CATEGORY) | _EXTRA_NOUNS
                | _GENERIC_HEADS | set(_PARTS) | _ROBOT_WORDS | _DETERMINERS | _PRONOUNS | set(_VERBS)
                | set(_DEST_PREPS) | _CONFIRM_CORE | _CONFIRM_FILLER | _NEGATIVE | _FILLERS | set(_DIR_WORD)
                | _MISC_KNOWN | _WORD_MAG_WORDS | {"half", "quarter", "point", "hundred", "couple", "few",
                                                   "several", "and", "of"})
