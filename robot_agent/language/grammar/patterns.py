"""The regular expressions over the normalized text: tokens, prompt injection, directions,
speed, rotation, grasp regions, articulated objects, plan cues.
"""

from __future__ import annotations

import re

_TOKEN_RE = re.compile(r"@\d+|\d+(?:\.\d+)?|\.\d+|[a-z]+(?:'[a-z]+)*|[.,;:!?/]")
_CONTRACTIONS = {
    "dont": "don't",
    "doesnt": "doesn't",
    "cant": "can't",
    "wont": "won't",
    "thats": "that's",
    "im": "i'm",
    "youre": "you're",
    "isnt": "isn't",
    "didnt": "didn't",
    "shouldnt": "shouldn't",
    "okey": "okay",
    "lets": "let's",
    "whats": "what's",
    "youve": "you've",
    "ive": "i've",
    "colour": "color",
    "colours": "colors",
    "centre": "center",
}
_TRANS = str.maketrans(
    {
        "\u2019": "'",
        "\u2018": "'",
        "`": "'",
        "\u00b4": "'",
        "\u201c": '"',
        "\u201d": '"',
        "-": " ",
        "\u2013": " ",
        "\u2014": " ",
        "\u2010": " ",
        "\u2212": " ",
        "_": "_",
        "\u2044": "/",
        "\u00b0": " deg ",
        "%": " percent ",
        "~": " ",
    }
)

_INJECTION_RE = re.compile(
    "|".join(
        [
            r"\bignore (?:all |any |the |your |my |previous |prior |above |earlier |those |these |every "
            r"|safety |speed |of )*"
            r"(?:instructions?|rules?|prompts?|limits?|limitations?|constraints?|safety|restrictions?|guidelines?|"
            r"boundar(?:y|ies)|workspace|checks?|warnings?|programming|orders?)",
            r"\bdisregard\b",
            r"\bforget (?:all |your |the |previous |prior |about )*"
            r"(?:instructions?|rules?|prompt|training|limits?|safety)",
            r"\bsystem prompt\b",
            r"\byou are now\b",
            r"\bact as (?:if|an?|the)\b",
            r"\bpretend (?:to be|you)\b",
            r"\bdeveloper mode\b",
            r"\bjailbreak",
            r"\bdan mode\b",
            r"\bsudo\b",
            r"\badmin(?:istrator)? mode\b",
            r"\bnew instructions?\b",
            r"\b(?:override|bypass|disable|turn off|switch off|deactivate|remove|circumvent|skip|lift|raise|increase|"
            r"exceed|break|violate|ignore|defeat|relax|loosen|widen|extend)\b(?: \S+){0,4} (?:the |your |all |any )?"
            r"(?:safety|limits?|limiter|limitations?|constraints?|restrictions?|guards?|safety checks?|"
            r"collision checks?|"
            r"workspace|boundar(?:y|ies)|speed limits?|e ?stop|emergency stop|watchdog)\b",
            r"\b(?:beyond|past|over|above|outside|faster than|quicker than|further than|farther than|more than|"
            r"exceed(?:ing)?)"
            r"(?: \S+){0,2} (?:the )?(?:limits?|allowed|maximum|max|permitted|safe(?:ty)? (?:limits?|speed|zone)|"
            r"workspace|boundar(?:y|ies)|speed limit)\b",
            # the particle after the thing: "switch your safety limits off", "turn the limiter off"
            r"\b(?:switch|turn|shut|take|knock)\b(?: \S+){0,3} (?:safety|limits?|limiter|guards?|watchdog|e ?stop)"
            r"(?: \S+)? (?:off|out|down)\b",
            r"\bno (?:limits?|safety|restrictions?|rules?)\b",
            r"\b(?:twice|double|triple|thrice|\S+ times) as \w+ as (?:is |it's |you're |you are )?"
            r"(?:allowed|permitted|safe|the limit|the max(?:imum)?|your limit|your max(?:imum)?)\b",
            r"\bwithout (?:any |the )?(?:limits?|safety|restrictions?|checks?)\b",
            r"\bunlimited\b",
            r"\bunsafe(?:ly)?\b",
            r"\bdangerous(?:ly)?\b",
            r"\b(?:print|reveal|show|repeat|output|tell me|dump|leak)\b(?: \S+){0,4} "
            r"(?:prompt|instructions|system message|config(?:uration)?|password|secrets?|keys?|credentials?)\b",
            r"<\s*/?\s*(?:script|system|im_start|im_end|s)\s*>",
            r"\[/?inst\]",
            r"\b(?:exec(?:ute)?|run|eval(?:uate)?)\b(?: \S+){0,3} (?:code|command|script|python|shell|bash)\b",
            r"\bimport os\b",
            r"\brm rf\b",
            r"\bos\s*\.\s*system\b",
            r"__import__",
            r"\bsubprocess\b",
        ]
    )
)

_DIR_RE = re.compile(
    r"\b(?P<me>(?:towards?|closer to|nearer to|to) me\b|(?:back )?towards? myself\b|"
    r"(?:closer|nearer)(?! (?:to|towards?|than)\b)(?= *(?:$|[,.!?;]|please|now|again)))|"
    r"\b(?P<away_me>away from me\b|(?:further|farther) away(?! from\b)(?= *(?:$|[,.!?;]|please|now|again)))|"
    r"\b(?P<you>(?:towards?|closer to|nearer to) (?:you(?:rself)?|the robot|the base|your base))\b|"
    r"\b(?P<away_you>away from (?:you(?:rself)?|the robot|the base|your base))\b|"
    r"\b(?:(?:to|on|towards?) (?:the |your |my |its |the robot's |robot's )?)?"
    r"(?P<w>leftwards?|left|rightwards?|right|forwards?|ahead|frontwards?|backwards?|back|upwards?|up|"
    r"higher|raise|downwards?|down|lower)\b"
)
_DIR_MASKS = [
    re.compile(p)
    for p in (
        r"\b(?:that's|that is|thats|you're|you are|it's|is|exactly|quite|all|just|yes|yeah|alright|ok|okay|"
        r"good|perfect) (?P<m>right)\b",
        r"\b(?P<m>right) (?:now|away|there|here|above|below|over|under|on|in|at|next|behind|beside|before|after|"
        r"into|onto|where|then|side up|\?|!)",
        r"^(?P<m>right) [,.!]",
        # "go back to your rest spot", "put it back to where it was": a return to a place, not
        # the backward direction ("back to the left" keeps it: that place is a direction)
        r"\b(?P<m>back) to (?:the |your |its |my |where\b)(?!(?:left|right|front|back|middle|centre|center)\b)",
        # "once that's up, ...": a state the clause waits for, not a direction asked
        r"\b(?:once|when|after|as soon as|until)\s+(?:that|it|this|they|the \w+)(?:'s|'re|\s+is|\s+are)\s+"
        r"(?P<m>up|down)\b",
        # "go back the other way": back is a return, the other way says where
        r"\b(?P<m>back) (?:the )?(?:other|opposite) (?:way|direction)\b",
        r"^(?P<m>right) ?[?!.]? ?$",
        r"\b(?:pick|picks|picking|picked|speed|speeds|hurry|open|set|give|line|clean|wake|what's|cheer|sum)"
        r"(?: \S+){0,3}? (?P<m>up)\b",
        r"\b(?P<m>up) to\b",
        r"\b(?P<m>up) (?:the |your )?(?:speed|pace|velocity)\b",
        r"\b(?:slow|slows|calm|sit|tone|turn|shut|lay|settle)(?: \S+){0,2}? (?P<m>down)\b",
        r"\b(?:put|puts|putting|set|sets|setting|place|places|placing)(?: \S+){0,3}? (?P<m>down)\b"
        r"(?! (?:a |by |\d|more|lower|further))",
        r"\bupside (?P<m>down)\b",
        r"\b(?:put|puts|putting|place|places|placing|bring|set|give|send)(?: \S+){0,3}? (?P<m>back)\b"
        r"(?! (?:a |by |\d|more|further|slightly|some|little|towards?|to me))",
        r"\b(?:go|goes|going|come|get|return|head|move) (?P<m>back) "
        r"(?:home|to (?:the |your )?(?:start|home|beginning|where))\b",
        r"\b(?P<m>back) home\b",
        r"\b(?:the|its|at the|on the|from the) (?P<m>back)\b",
        r"\b(?P<m>back) (?:of|side|off)\b",
        r"\bgo (?P<m>ahead)\b",
        r"\b(?:you|i|we|they|have|has|had|i've|you've|is|are|was) (?P<m>left)\b",
        r"\b(?P<m>left) (?:over|it|them|the|open|behind)\b",
        r"\b(?:lower|higher|raise|reduce|increase) (?:the |your )?(?:speed|pace|velocity|force)\b",
        r"\b(?:high|low|higher|lower|full|top|max(?:imum)?) (?:speed|pace|velocity|force|priority)\b",
        r"\b(?:bottom|top) (?:one|block|shelf)\b",
        r"\b(?P<m>left|right) (?:hand )?(?:side )?of\b",
    )
]
_TOO_DIR_RE = re.compile(
    r"\btoo (?:far |much )?(?:(?:to|on|towards) (?:the |your |my )?)?"
    r"(?P<d>left|right|forward|back|high|low|up|down|far forward|far back)\b"
)
_HALF = r"(?:only |just )?half (?:of )?(?:that|it|as much|as far|the distance)|halve (?:it|that)"
_TOO_FAR_RE = re.compile(
    r"\b(?:overshot|overshoot|went too far|gone too far|too far|too much|overdid it|"
    r"not so (?:much|far)|not that (?:much|far)|not as (?:much|far)|less|back off a bit|"
    rf"{_HALF})\b"
)
#: "half that" alone takes back half the last move; said the same way ("half of that, same
#: direction", "half that again") it is half as much more
_SAME_WAY_RE = re.compile(r"\b(?:(?:in )?the same (?:way|direction)|same (?:way|direction)|again|keep going)\b")
_OTHER_WAY_RE = re.compile(
    r"\b(?:the )?(?:other|opposite) (?:way|direction|side)\b|\bwrong (?:way|direction)\b|"
    r"\b(?:reverse|go back the other way)\b"
)
#: taking the last change back, to where it was before it ("undo that", "reverse the last
#: adjustment", "put it back where it was"): the last change the other way, once
_UNDO_RE = re.compile(
    r"\b(?:undo|revert|take back|reverse)\s+(?:(?:the|that|your|this)\s+)?(?:(?:last|previous|preceding|earlier)\s+)?"
    r"(?:adjustment|change|correction|move|movement|nudge|shift|step|that|it)\b|\bundo\b|"
    r"\b(?:back|return|go back|put it back)\s+(?:to\s+)?(?:where|how)\s+(?:it|you|we)\s+(?:was|were|had it)\b"
)
#: "the other way": a reading relative to the previous correction (public for the layer)
OTHER_WAY = _OTHER_WAY_RE
#: every reading relative to the previous correction that takes it back, whole or in part
#: ("the other way", "undo that", "too far", "half that"): what the sentence models cannot see
TAKEN_BACK = re.compile(f"{_OTHER_WAY_RE.pattern}|{_UNDO_RE.pattern}|{_TOO_FAR_RE.pattern}")
_RETRY_RE = re.compile(
    r"\b(?:try (?:it |that )?again|retry|try once more|have another go|give it another (?:go|try)|"
    r"(?:that|it) didn't work|(?:that|it) did not work|(?:that|it) failed|"
    r"go again|do it over|redo(?: it| that)?|(?:try|do) it one more time|"
    # a failure said, then "again": the attempt again, not the last correction again
    r"(?:missed|dropped|fumbled|lost|slipped|botched)\b[^.;]*?\bagain)\b"
)
_MORE_RE = re.compile(
    r"\b(?:even )?(?:more|further|farther)\b|\b(?:do (?:that|it|the same) )?again\b|"
    r"\bonce more\b|\bsame again\b|\bsame (?:thing|amount)\b|\brepeat(?: that| it)?\b|"
    r"\bone more time\b|\bkeep going (?:that way|in that direction)\b|\bdouble (?:it|that)\b|\btwice as (?:much|far)\b"
)
#: "too" or "so" before a speed word makes it a complaint about the speed, asking for the other
#: way ("too slow", "so slow": faster); the bare words must not be read on their own there
_NOT_AFTER_EXCESS = r"(?<!too )(?<!so )"
_SLOWER_RE = re.compile(
    rf"\b(?:slower|slow (?:it |things )?down|more slowly|{_NOT_AFTER_EXCESS}slowly|not so fast|not as fast|"
    r"(?:too|so) fast|(?:too|so) quick(?:ly)?|less fast|"
    r"(?:reduce|lower|decrease|drop|cut) (?:the |your )?(?:speed|velocity|pace)|"
    rf"take it easy|easy does it|ease off|ease up|{_NOT_AFTER_EXCESS}slow)\b"
)
_FASTER_RE = re.compile(
    rf"\b(?:faster|quicker|speed (?:it |things )?up|hurry(?: up)?|more quickly|{_NOT_AFTER_EXCESS}quickly|"
    r"(?:too|so) slow(?:ly)?|"
    r"not so slow(?:ly)?|(?:increase|raise|up) (?:the |your )?(?:speed|velocity|pace)|pick up the pace|"
    rf"get a move on|rapidly|{_NOT_AFTER_EXCESS}fast|speedier|{_NOT_AFTER_EXCESS}quick)\b"
)
_GENTLE_RE = re.compile(
    r"\b(?:gentl[ey]|gentler|more gently|carefully|more carefully|careful|softly|softer|delicately|"
    r"with (?:more )?care|tenderly|smoothly|smoother|"
    r"(?:don't|do not|never) (?:drop|throw|toss|slam|bang) (?:it|that|them)|"
    r"(?:don't|do not) let (?:it|that) (?:fall|drop))\b"
)
#: parts of a whole said as words ("a quarter", "three fifths", "two thirds of an inch"): the one table
#: for a share of a speed (below) and a part of a unit (grammar.quantities)
_PART = {"half": 1 / 2, "third": 1 / 3, "quarter": 1 / 4, "fifth": 1 / 5, "tenth": 1 / 10}
_PARTS = {"halves": 1 / 2, "thirds": 1 / 3, "quarters": 1 / 4, "fifths": 1 / 5, "tenths": 1 / 10}
PARTS = _PART | _PARTS
#: a share of the whole said in words ("half", "a quarter of", "two thirds of")
FRACTIONS = {"half": 0.5} | {f"{a} {w}": v for a in ("a", "one") for w, v in _PART.items()}
FRACTIONS |= {
    f"{c} {w}": n * v for c, n in (("two", 2), ("three", 3), ("four", 4)) for w, v in _PARTS.items() if n * v < 1
}
_SPEED_SET_RE = re.compile(
    r"\b(?:(?P<frac>" + "|".join(sorted(FRACTIONS, key=len, reverse=True)) + r") (?:of )?(?:the |your )?"
    r"(?:full|max(?:imum)?|top|highest) speed|"
    r"(?P<full>full|max(?:imum)?|top|highest) speed|as fast as (?:you can|possible)|"
    r"(?P<min>min(?:imum)?|lowest) speed|as slow(?:ly)? as (?:you can|possible)|"
    r"(?P<norm>normal|default|usual|regular|original) speed|"
    r"(?P<half>half (?:the )?speed|half as fast|twice as slow(?:ly)?)|"
    r"(?P<twice>twice as fast|double (?:the )?speed))\b"
)
_ROT_VERB_RE = re.compile(
    r"\b(?:rotate|rotated|rotating|turn|turned|turning|twist|twisting|spin|swivel|"
    r"angle|orient|re orient|yaw)\b"
)
_ROT_DIR_RE = re.compile(
    r"\b(?P<ccw>counter ?clockwise|anti ?clockwise|ccw)\b|\b(?P<cw>clockwise|cw)\b|"
    r"\b(?:to the |to your |to my )?(?P<lr>left|right)\b|\b(?P<perp>sideways|perpendicular)\b"
)
_REGION_RE = re.compile(
    r"\b(?:by|at|on|from|around|near|using|with|via|for|use|grab|grasp|hold|take|grip|pick)"
    r"(?: (?:it|that|them|this))?(?: (?:up|by|at|from|on))?(?: (?:the|its|it's|a|their))? "
    r"(?P<r>handles?|rim|edge|lip|top|sides?|middle|center|body)\b(?! of)|"
    r"\bfrom (?P<r2>above|overhead|directly above)\b|\b(?P<r3>sideways)\b"
)
_GRASP_VERB_RE = re.compile(
    r"\b(?:grasp|grab|hold|take|grip|pick|catch|get|grasping|grabbing|holding|"
    r"gripping|picking|use)\b"
)
_PLACE_VERB_RE = re.compile(
    r"\b(?:put|place|drop|set|release|let go|lay|putting|placing|dropping|setting|"
    r"releasing|stack)\b"
)
_PULL_RE = re.compile(r"\b(?:pull|pulling|pulled|yank|yanking|tug)\b")
_OPEN_MORE_RE = re.compile(
    r"\bopen(?:ing)? (?:it |that |the (?:drawer|cabinet|cupboard) |@\d+ )?"
    r"(?:up )?(?:a (?:bit|little|lot) |much |way |even |some |slightly )?"
    r"(?:more|wider|further|farther|all the way|fully|completely|properly)\b"
)
_MORE_WORDS_RE = re.compile(
    r"\b(?:harder|more|further|farther|longer|wider|stronger|all the way|extra|fully|"
    r"completely|properly|firmer|firmly|"
    # "another 3 cm", "another couple of centimetres": an amount on top of the last one
    r"another(?= (?:\d|a |an |one |two |three |four |five |six |seven |eight |nine |ten |few |couple )))"
    r"(?:\b|(?= ))"
)
_LESS_WORDS_RE = re.compile(
    r"\b(?:less|not as far|not so far|shorter|too far|too much|not that far|"
    r"not as much|not so much|softer|less far)\b"
)
_STRAIGHT_RE = re.compile(
    r"\b(?:straight(?: out| back| towards? (?:me|you))?|along (?:the |its |it's )?(?:rails?|runners?|axis|"
    r"handle(?:'s)?(?: axis)?|drawer(?:'s)?(?: axis)?|slides?|direction it opens|track)|perpendicular(?: to (?:the )?"
    r"(?:front|cabinet|drawer|handle))?|in line(?: with (?:the )?(?:drawer|rails?|handle))?|head on|"
    r"parallel to (?:the )?(?:rails?|sides?)|directly out|square(?:ly)? out)\b"
)
_PUSH_RE = re.compile(r"\b(?:push|pushing|shove|shoving|press|pressing)\b")
_CLOSE_MORE_RE = re.compile(
    r"\b(?:close|shut|closing)(?: it| that| the (?:drawer|cabinet)| @\d+)?"
    r"(?: (?:all the way|fully|completely|properly|more|further|tight(?:ly)?|firmly))\b"
)
_LIFT_RE = re.compile(r"\blift(?:ing)?\b")
#: raising the object in hand, said without "lift": the pick's lift while picking ("bring it up higher")
_RAISE_RE = re.compile(r"\b(?:rais(?:e|ing)|hoist(?:ing)?|(?:bring|take|carry)(?:ing)? (?:it|them) up)\b")
_APPROACH_RE = re.compile(
    r"\bapproach(?:ing)?\b|\bstart (?:the )?(?:descent|approach)\b"
    # the way in, said as motion: "you're coming in too low", "on your way in"
    r"|\b(?:coming|come|comes) in\b(?! to\b)|\bon (?:the|your) way in\b"
)
_GO_HOME_RE = re.compile(
    r"\b(?:go|return|come|move|head|get)(?: back)? (?:to )?(?:the |your )?home"
    r"(?: position| pose)?\b|"
    r"\bhome (?:position|pose)\b|\bback home\b"
)
_RESTORE_RE = re.compile(
    r"\b(?:put|place|bring|set|move)(?: \S+){0,3}? back(?: (?:where (?:it|they) (?:was|were)|"
    r"to where (?:it|they) (?:was|were)|in (?:its|their) place|to (?:its|their) (?:place|spot)|"
    r"to the start))?\b"
)
_CONFIRM_PHRASE_RE = re.compile(
    r"(?:(?:that'?s |this is )?(?:it|right|good|fine)|keep going|carry on|go on|"
    r"go ahead|continue|well done|good job|spot on|looks good|that works|thats it)"
    r"(?: ,)?(?: please| thanks| thank you)?(?: [.!])*"
)
_NEG_CUE_RE = re.compile(
    r"^(?:no|nope|nah|not|wrong|incorrect|oops)\b|\b(?:not (?:that|this|the|in|on|into)|"
    r"wrong (?:one|object|block|item|thing|mug|cup|fruit|bowl|plate|target|place|container)|"
    r"instead|"
    r"rather|i meant|i mean|i said|should (?:be|have been)|supposed to|meant)\b|\bthe other\b"
)
_STEP_CUE_RE = re.compile(
    r"\b(?:you forgot to|forgot to|you need to|you have to|you must|you should|"
    r"don't forget to|remember to|you missed|you still need to|make sure (?:to|you)|"
    r"also|you skipped|you didn't)\b"
)
#: a placement said to come after the current one ("then the mug on the shelf", "... too")
_LATER_STEP_RE = re.compile(
    r"^(?:and |ok |okay |right |so )?(?:then|next)\b|\bafter (?:that|this|you(?:'ve| have) done that)\b|"
    r"\bafterwards?\b|\bwhen you(?:'ve| have) done that\b|\bonce (?:you(?:'re| are) done|that's done)\b|"
    r"\bas well\b|\btoo\W*$"
)
#: courtesy said after a request ("banana first, please"), which changes nothing of it
_COURTESY = (
    r"(?: ?,? ?(?:please|thanks|thank you|cheers|for me|if you can|if you could|if you would|if you don't mind))*"
)
_ORDER_PATTERNS = [  # group "a" happens first, then group "b"
    re.compile(
        r"^(?:first(?: of all)?|to begin with|to start with|start by|begin by|start with|begin with) ,? ?"
        r"(?P<a>.+?) ?,? (?:and )?(?:then|after that|afterwards|next|and only then) (?P<b>.+)$"
    ),
    re.compile(
        r"^(?P<a>.+?) (?:first|beforehand|before anything else|to begin with|at first) ?,? ?"
        r"(?:(?:and )?(?:then|after that|afterwards|next|and only then) (?P<b>.+))?" + _COURTESY + r"[.!]?$"
    ),
    re.compile(
        r"^(?:first(?: of all)?|to begin with|to start with|start by|begin by|start with|begin with) ,? ?"
        r"(?P<a>.+)$"
    ),
    re.compile(
        r"^before (?P<b>.+?) ,? (?P<a>(?:you |we )?(?:need to |have to |must |should )?"
        r"(?:open|close|shut|pick|grab|take|put|place|push|empty|clear).+)$"
    ),
    re.compile(r"^(?P<a>.+?) before (?P<b>.+)$"),
    re.compile(
        r"^after (?P<a>.+?) ,? (?P<b>(?:you |we )?(?:need to |have to |must |should |can )?"
        r"(?:open|close|shut|pick|grab|take|put|place|push|go).+)$"
    ),
    re.compile(r"^(?P<b>.+?) (?:only )?after (?P<a>.+)$"),
    re.compile(r"^(?P<a>.+?) ,? (?:and )?(?:then|after that|afterwards|and only then) (?P<b>.+)$"),
]
_LAST_RE = re.compile(
    r"\b(?:at the end|last|afterwards|when you(?:'re| are) done|when finished|after that|"
    r"after you(?:'re| are) done)\b"
)
_AVOID_RE = re.compile(
    r"\b(?:(?:don't|do not|never|try not to|careful not to|make sure (?:not to|you don't)) "
    r"(?:go|move|pass|fly|reach|swing|travel|hover|drive|cross|come|get)(?: \S+)? "
    r"(?:over|above|across|near|past|through|by|close to|around|into)|avoid(?:ing)?|stay away from|keep away from|"
    r"keep (?:your )?distance from|go around|"
    # keeping/staying clear, with any word or two between that names no object ("keep well clear
    # of", "stay right off", "steer your arm well away from", "keep it off")
    r"(?:keep|stay|steer|remain|hold)(?: it| them)?(?: (?!(?:it|them|the|a|an|this|that|these|those)\b)[a-z']+){0,2}? "
    r"(?:clear of|clear from|away from|off of|off|back from|out of the way of)|"
    r"watch out for|look out for|mind|watch|careful around|be careful around|(?:don't|do not|never|careful not to) "
    r"(?:touch|hit|bump|knock|disturb|brush|crash|collide)(?: into| over| against| with)?)\b"
)
_LEAVE_RE = re.compile(r"\bleave\b(?P<rest>.*?)\b(?:alone|be|where (?:it|they) (?:is|are)|as (?:it|they) (?:is|are))\b")
_FORBID_RE = re.compile(
    r"\b(?:don't|do not|never|no need to|(?:you )?don't need to|(?:you )?do not need to|"
    r"don't bother to|you shouldn't|you should not|there's no need to)\b"
)
#: a negation right before a step phrase ("don't ", "please never ", "no need to just ")
_NEG_BEFORE_RE = re.compile(r"(?:" + _FORBID_RE.pattern + r") *(?:(?:ever|yet|just|now|bother to|try to) )*$")
_SORT_RE = re.compile(
    r"\b(?:sort|sorted|group|grouped|organi[sz]e|arrange|separate|order)\b(?: \S+){0,4}? by "
    r"(?:what |which |their |its )?"
    r"(?P<k>colors?|size|sizes|type|types|kind|kinds|category|categories|shape|shapes|height)\b|"
    r"\b(?P<same>same|matching) (?P<k2>colors?|shapes?|types?|kinds?) "
    r"(?:go |goes |together|in the same)"
)
_PREF_CUE_RE = re.compile(
    r"\b(?:always )?(?:go|goes|belong|belongs|live|lives|should go|must go|has to go|"
    r"have to go|needs to go|need to go|are kept|is kept|stay|stays|are stored|is stored)\b"
)
_PREF_ALWAYS_RE = re.compile(
    r"\b(?:always|from now on|in general|generally|every time|in future|in the future|"
    r"by default)\b"
)
_PREF_WANT_RE = re.compile(r"\b(?:i (?:want|like|prefer)|i'd (?:like|prefer)|i would (?:like|prefer))\b")
_STACK_KEY_RE = re.compile(
    r"\b(?P<adj>biggest|largest|big|large|bigger|larger|heaviest|widest|smallest|small|smaller|little|lightest)"
    r"(?: ones?| blocks?| cubes?| items?| objects?)? (?:goes |go |should go |must go |is |are |)?"
    r"(?:at|on|to|in) (?:the )?(?P<pos>bottom|top)\b"
)
_STACK_POS_RE = re.compile(
    r"\b(?:goes |go |should go |must go |needs to go |is |at |on |to |in )?"
    r"(?:(?:at|on|to|in) )?(?:the )?(?P<pos>bottom|top)\b(?! of)(?! shelf)"
)
