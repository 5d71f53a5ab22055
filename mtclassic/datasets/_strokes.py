"""Pen-stroke templates of the 36 characters and their compilation to curves.

Each character has one or more *variants* (the different ways people write
it), each a weight and a few pen strokes. A stroke is written as a string of
way-points ``"x,y x,y! x,y ..."`` in a 100 x 100 box (x to the right, y down).
The pen passes through the way-points on a Catmull-Rom spline; a ``!`` after a
point makes a corner there (the spline starts afresh), and a final ``z`` closes
the stroke smoothly onto its first point. Two points between corners draw a
straight line.

All templates were written by hand for this module; no font or data set was
copied. A compiled variant maps its way-points linearly to densely sampled
points along the strokes, so that a whole batch of jittered way-points is
turned into curves by one matrix product.
"""

from dataclasses import dataclass
from functools import cache

import numpy as np

# character -> tuple of (weight, strokes); the weights are relative frequencies
# of the variants within their character.
# fmt: off
GLYPHS = {
    "0": (
        (3, ("50,0 22,10 9,45 16,85 45,100 76,90 90,55 84,15 50,0 z",)),
        # written in one movement that overshoots its start
        (2, ("58,2 30,4 11,35 12,75 35,98 65,97 87,70 88,30 70,5 45,6",)),
        # narrow, with the pen starting at the top right
        (2, ("62,4 40,0 22,18 16,55 26,90 50,100 72,86 80,50 74,16 54,2 40,6",)),
    ),
    "1": (
        (6, ("52,0 48,100",)),
        (3, ("25,24! 55,0! 50,100",)),
        (2, ("25,24! 55,0! 52,100", "22,100! 82,100")),
    ),
    "2": (
        (5, ("12,24 30,4 58,0 82,15 80,42 55,68 12,100! 90,100",)),
        # a small loop where the diagonal meets the base line
        (3, ("10,25 30,4 60,1 82,18 76,45 48,74 20,96 8,88 18,80 34,92 60,100 92,96",)),
        (2, ("14,20 40,0 70,6 80,30 62,58 28,86 10,100! 50,96 92,100",)),
        # a large loop sitting on the base line
        (2, ("12,22 34,2 64,0 82,20 74,46 46,74 22,92 8,94 10,80 28,80 42,94 64,100 92,96",)),
        # a hooked start and a straight diagonal, like a Z with a round top
        (2, ("18,30 20,10 45,0 74,4 84,24 70,48! 12,100! 88,98",)),
    ),
    "3": (
        (4, ("14,14 40,0 70,4 80,24 65,42 40,48! 72,54 88,74 76,94 46,100 12,86",)),
        (2, ("10,10 36,0 70,2 82,20 70,40 45,47 70,52 86,72 75,93 45,100 10,90",)),
        # flat top, as in a printed 3
        (1, ("12,0! 82,0! 42,42! 72,50 88,72 75,94 45,100 12,88",)),
    ),
    "4": (
        # open: the left arm and the bar, then the stem
        (5, ("30,0! 12,60! 92,60", "70,18! 70,100")),
        # closed, as in print
        (3, ("70,100! 70,0! 8,66! 92,66",)),
        (2, ("26,0! 15,55! 56,56 90,52", "74,8! 70,100")),
    ),
    "5": (
        (4, ("25,2! 20,45! 45,36 74,42 88,64 78,90 50,100 16,90", "25,2! 84,0")),
        (3, ("84,0! 28,2! 20,46! 46,36 76,44 88,66 76,92 46,100 14,88",)),
        (1, ("26,0! 18,42! 50,34 82,46 86,74 64,96 34,98 14,86", "26,0! 80,4")),
        # a round belly that comes back up towards the stem
        (2, ("30,0! 22,40! 52,36 80,52 82,80 60,98 32,96 20,82", "30,0! 78,0")),
    ),
    "6": (
        (4, ("72,0 45,15 22,45 15,75 30,97 58,100 80,82 76,60 55,48 30,55 18,72",)),
        (3, ("64,0 36,25 18,60 22,90 50,100 78,88 80,64 58,50 32,58 22,74",)),
        # a straight stem ending in a small loop
        (3, ("66,0 24,70 30,94 54,100 74,86 70,66 48,60 28,72",)),
    ),
    "7": (
        (5, ("8,6! 90,4! 60,48 46,100",)),
        (3, ("8,6! 90,4! 62,46 44,100", "36,52! 80,50")),
        (2, ("6,22! 10,4! 88,2! 52,55 38,100",)),
        # a short bar and a long, steep stem
        (3, ("20,4! 82,0! 66,40 56,100",)),
        # the stem bends as it leaves the bar
        (2, ("10,6! 88,4! 72,30 58,62 52,100",)),
    ),
    "8": (
        (5, ("80,14 50,0 20,12 24,34 50,48 80,64 84,86 52,100 18,88 20,64 50,48 76,32 80,14",)),
        # two loops, one on top of the other
        (2, ("50,0 22,12 24,36 50,47 76,36 78,12 50,0 z", "50,47 16,62 18,90 50,100 84,90 84,62 50,47 z")),
        (2, ("24,16 50,0 78,14 74,34 50,48 22,64 18,86 50,100 82,86 78,64 50,48 26,32 24,16",)),
        # narrow, with a smaller top loop
        (3, ("68,12 50,0 32,10 34,30 50,42 70,58 72,84 50,100 28,86 30,60 50,42 64,26 68,12",)),
        # slanted: the small top loop sits to the right of the bottom one
        (3, ("78,10 62,0 44,6 42,22 50,40 62,60 60,84 44,100 24,96 16,78 26,58 52,46 70,34 78,10",)),
    ),
    "9": (
        # the tail drops straight down from the loop
        (5, ("82,22 64,2 36,0 16,18 22,42 48,50 72,40 82,22! 80,60 76,100",)),
        # a curved tail
        (3, ("82,20 62,2 34,2 16,22 24,42 50,48 76,36 84,20! 84,60 72,88 48,100 26,94",)),
        (2, ("80,18 58,0 30,4 16,26 28,46 56,46 80,30! 76,66 70,100",)),
        # a small loop on a long straight tail
        (3, ("76,14 56,0 34,4 26,22 36,38 60,36 76,16! 68,60 60,100",)),
        # slanted: the tail runs down to the left
        (3, ("80,16 64,2 44,2 34,20 44,36 64,34 80,16! 58,60 38,100",)),
    ),
    "A": (
        (4, ("4,100! 50,0! 96,100", "24,62! 78,62")),
        (2, ("4,100! 46,0! 52,0! 96,100", "18,68! 82,60")),
        # with small serifs at the feet
        (1, ("4,100! 50,0! 96,100", "24,62! 78,62", "0,100! 16,100", "84,100! 100,100")),
        # in one movement: up, down, and back to the bar
        (2, ("4,100! 50,0! 92,100! 74,58! 20,64",)),
    ),
    "B": (
        (3, ("12,0! 12,100", "12,0! 58,0 80,12 78,34 56,46 12,48", "12,48! 62,48 88,64 86,88 60,100 12,100")),
        (2, ("12,100! 12,0! 56,0 80,10 78,32 50,47! 28,48! 64,50 88,66 86,88 60,100 12,100",)),
    ),
    "C": (
        (4, ("86,16 62,0 32,2 10,30 8,66 26,93 56,100 86,86",)),
        (1, ("88,10 60,0 28,8 8,40 12,76 36,98 66,98 90,84",)),
    ),
    "D": (
        (3, ("12,0! 12,100", "12,0! 46,0 82,18 92,50 82,82 46,100 12,100")),
        (2, ("12,100! 12,0! 48,2 84,20 92,52 80,84 44,100 8,98",)),
    ),
    "E": (
        (3, ("90,0! 12,0! 12,100! 90,100", "12,50! 72,50")),
        (2, ("12,0! 12,100", "12,0! 86,0", "12,50! 70,50", "12,100! 90,100")),
    ),
    "F": (
        (3, ("90,0! 12,0! 12,100", "12,48! 70,48")),
        (2, ("12,0! 12,100", "12,0! 88,0", "12,48! 68,48")),
    ),
    "G": (
        (3, ("86,18 62,0 32,2 10,32 10,70 30,95 60,100 86,86 88,56! 54,56",)),
        # with a spur going down on the right
        (2, ("86,18 62,0 32,2 10,32 10,70 30,95 60,100 84,84 86,58! 86,100", "56,58! 92,58")),
        (1, ("88,16 62,0 30,4 8,36 12,76 36,98 64,98 84,80 84,56! 60,56",)),
    ),
    "H": (
        (3, ("12,0! 12,100", "88,0! 88,100", "12,50! 88,50")),
        # the bar and the right stem in one movement
        (1, ("12,0! 12,100", "12,52! 86,48! 86,0! 88,100")),
    ),
    "I": (
        (4, ("50,0 50,100",)),
        # with serifs
        (3, ("50,0 50,100", "20,0! 80,0", "20,100! 80,100")),
    ),
    "J": (
        (2, ("72,0! 72,70 62,94 38,100 16,84",)),
        (3, ("72,0! 72,70 62,94 38,100 16,84", "34,0! 96,0")),
    ),
    "K": (
        (3, ("14,0! 14,100", "86,0! 16,58! 88,100")),
        (2, ("14,0! 14,100", "84,0! 14,60", "38,42! 88,100")),
    ),
    "L": ((1, ("14,0! 14,100! 86,100",)),),
    "M": (
        (3, ("4,100! 12,0! 50,72! 88,0! 96,100",)),
        (2, ("8,100! 8,0! 50,100! 92,0! 92,100",)),
        (1, ("4,100! 16,0! 50,52! 84,0! 96,100",)),
    ),
    "N": (
        (3, ("12,100! 12,0! 88,100! 88,0",)),
        (1, ("12,100! 12,0", "12,0! 88,100! 88,0")),
    ),
    "O": (
        (3, ("50,0 16,14 4,52 20,90 52,100 86,84 96,46 80,10 50,0 z",)),
        (2, ("56,2 24,6 6,40 10,80 40,100 74,94 94,62 90,22 66,2 44,4",)),
    ),
    "P": (
        (3, ("12,100! 12,0! 56,0 84,14 84,38 56,52 12,52",)),
        (2, ("12,0! 12,100", "12,0! 58,2 86,16 82,40 52,52 12,54")),
    ),
    "Q": (
        (3, ("50,0 16,12 4,48 18,82 48,92 80,78 92,44 78,10 50,0 z", "56,66! 96,100")),
        # a tail that does not cross the loop
        (1, ("50,0 16,12 4,48 18,82 48,92 80,78 92,44 78,10 50,0 z", "70,84! 96,100")),
    ),
    "R": (
        (3, ("12,100! 12,0! 56,0 84,14 84,38 56,52 12,52! 44,52! 90,100",)),
        (2, ("12,0! 12,100", "12,0! 58,2 86,16 82,40 52,52 14,54", "44,54! 88,100")),
    ),
    "S": (
        (4, ("84,14 60,0 30,2 12,20 20,40 50,50 80,60 88,80 70,97 40,100 10,86",)),
        (1, ("86,10 56,0 22,6 12,26 32,44 62,52 86,68 82,92 52,100 12,92",)),
    ),
    "T": (
        (3, ("4,0! 96,0", "50,0! 50,100")),
        (1, ("4,4! 96,0", "52,0! 48,100")),
    ),
    "U": (
        (4, ("10,0! 10,62 24,92 50,100 76,92 90,62 90,0",)),
        # with a stem on the right
        (1, ("10,0! 10,62 24,92 50,100 76,92 88,62 88,0! 90,100",)),
    ),
    "V": ((1, ("4,0! 50,100! 96,0",)),),
    "W": (
        (3, ("0,0! 24,100! 50,28! 76,100! 100,0",)),
        (1, ("0,0! 20,100! 50,0! 80,100! 100,0",)),
    ),
    "X": ((1, ("10,0! 90,100", "90,0! 10,100")),),
    "Y": (
        (3, ("6,0! 50,50! 50,100", "94,0! 50,50")),
        (1, ("6,0! 50,52", "94,0! 50,52! 34,100")),
    ),
    "Z": (
        (4, ("10,0! 90,0! 10,100! 90,100",)),
        # with a bar across the diagonal
        (1, ("10,0! 90,0! 10,100! 90,100", "28,50! 72,50")),
    ),
    # Lower-case forms, used through make_characters' letter_case. Letters
    # without ascender or descender are written 100 high here and squashed
    # below (see _X_HEIGHT); c, o, p, s, v, w, x and z take their capital's
    # strokes.
    "a": (
        (3, ("84,18 60,0 28,6 8,48 20,92 48,100 74,80 84,40", "84,0! 84,84 96,100")),
        # the two-storey a of print
        (1, ("14,16 40,0 70,4 80,28! 80,86 92,100", "80,44 44,42 12,60 18,92 46,100 80,78")),
    ),
    "b": (
        (3, ("16,0! 16,100", "16,62 40,42 72,44 86,70 74,94 44,100 16,92")),
        (1, ("16,0! 16,100! 46,100 76,94 86,70 72,46 42,42 16,60",)),
    ),
    "d": (
        (3, ("84,62 60,42 28,44 12,70 24,94 54,100 84,88", "84,0! 84,100")),
        (1, ("84,58 60,42 28,44 12,70 24,94 54,100 84,84! 84,0! 86,100",)),
    ),
    "e": (
        (3, ("12,52! 86,50 80,18 54,0 24,6 8,44 14,84 44,100 82,88",)),
        (1, ("14,60 60,50 84,28 66,4 34,4 12,36 14,76 40,98 80,90",)),
    ),
    "f": (
        (3, ("84,8 66,0 48,6 40,26! 40,100", "12,38! 74,38")),
        (1, ("80,6 62,0 46,10 42,40 38,100", "14,42! 70,40")),
    ),
    "g": (
        (3, ("80,14 58,0 28,4 14,24 26,44 54,46 80,28", "82,2! 82,76 70,96 44,100 20,88")),
        (1, ("80,12 56,0 26,6 16,26 30,44 56,42 78,26! 80,70 60,100 36,92 40,76 62,70 88,80",)),
    ),
    "h": (
        (3, ("16,0! 16,100", "16,62 40,42 70,44 82,64! 82,100")),
        (1, ("16,0! 16,100! 18,70 40,44 68,44 82,66! 84,100",)),
    ),
    "i": (
        (3, ("50,34! 50,100", "50,4 51,8")),
        (1, ("36,46! 50,34! 50,100", "50,4 51,8")),
    ),
    "j": (
        (3, ("62,34! 62,80 52,98 32,100 16,88", "62,4 63,8")),
    ),
    "k": (
        (3, ("16,0! 16,100", "78,40! 16,72", "36,62! 82,100")),
        (1, ("16,0! 16,100", "16,72 56,42 74,50 56,66 30,70! 82,100")),
    ),
    "l": (
        (2, ("44,0! 44,86 56,100 72,96",)),
        # a loop, as in joined-up writing
        (1, ("20,86 54,46 66,14 52,0 38,16 36,60 44,94 62,100 80,90",)),
    ),
    "m": (
        (3, ("6,100! 6,0", "6,36 20,3 40,6 48,36! 48,100", "48,36 62,3 84,6 92,36! 92,100")),
        (1, ("6,100! 6,0! 8,30 22,0 40,6 48,33! 48,100! 50,33 64,0 84,6 92,36! 92,100",)),
    ),
    "n": (
        (3, ("10,100! 10,0", "10,34 32,2 66,4 80,32! 80,100")),
        (1, ("10,100! 10,0! 12,30 34,0 66,4 80,32! 80,100",)),
    ),
    "q": (
        (3, ("84,14 60,0 28,4 12,26 24,48 52,52 84,38", "84,0! 84,100")),
        (1, ("84,14 60,0 28,4 12,26 24,48 52,52 84,38", "84,0! 84,100! 98,88")),
    ),
    "r": (
        (3, ("14,100! 14,0", "14,40 32,8 56,0 80,8")),
        (1, ("14,100! 14,0! 16,36 34,6 58,0 80,10",)),
    ),
    "t": (
        (3, ("40,0! 40,84 54,100 76,92", "10,30! 76,30")),
        (1, ("46,0! 46,100", "12,30! 82,30")),
    ),
    "u": (
        (3, ("10,0! 10,66 24,94 50,100 74,90 84,62! 84,0! 86,100",)),
        (1, ("10,0! 10,66 24,94 50,100 76,92 88,66 88,0",)),
    ),
    "y": (
        (2, ("14,0! 50,50", "86,0! 50,50 22,100")),
        # a u with a tail
        (2, ("12,0! 12,30 28,48 54,48 80,30! 80,0! 80,76 66,96 40,100 18,88",)),
    ),
}
# fmt: on


def _squash(stroke, factor):
    """A stroke string with its y coordinates multiplied by ``factor``."""
    tokens = []
    for token in stroke.split():
        if token == "z":
            tokens.append(token)
            continue
        corner = "!" if token.endswith("!") else ""
        x, y = token.rstrip("!").split(",")
        tokens.append(f"{x},{float(y) * factor:g}{corner}")
    return " ".join(tokens)


# lower-case letters that share their capital's strokes
for _letter in "copsvwxz":
    GLYPHS[_letter] = GLYPHS[_letter.upper()]
# letters without ascender or descender are wider than high in handwriting
_X_HEIGHT = 0.7
for _letter in "acemnorsuvwxz":
    GLYPHS[_letter] = tuple(
        (weight, tuple(_squash(stroke, _X_HEIGHT) for stroke in strokes))
        for weight, strokes in GLYPHS[_letter]
    )
del _letter

# steps on which the length of a spline segment is measured
_FINE_STEPS = 64

DIGITS = tuple("0123456789")
LETTERS = tuple("ABCDEFGHIJKLMNOPQRSTUVWXYZ")
CHARACTERS = DIGITS + LETTERS


@dataclass(frozen=True)
class CompiledVariant:
    """One variant of a character, ready to be jittered and sampled.

    Attributes
    ----------
    waypoints : ndarray of shape (n_waypoints, 2)
        The way-points in the unit box (x, y), y pointing down.
    waypoint_stroke : ndarray of shape (n_waypoints,)
        Index of the stroke each way-point belongs to.
    sampling : ndarray of shape (n_points, n_waypoints)
        Dense points along the strokes are ``sampling @ waypoints``.
    joined : ndarray of shape (n_points - 1,)
        Whether point ``i`` and point ``i + 1`` lie on the same stroke.
    ends : ndarray of shape (n_ends, 2)
        The open ends of the strokes: the index of the end point and of its
        neighbour on the stroke (closed strokes have no ends).
    """

    waypoints: np.ndarray
    waypoint_stroke: np.ndarray
    sampling: np.ndarray
    joined: np.ndarray
    ends: np.ndarray

    @property
    def n_strokes(self):
        return int(self.waypoint_stroke.max()) + 1


def _parse_stroke(text):
    """Split a stroke string into way-points and the corner flags of each."""
    tokens = text.split()
    closed = tokens[-1] == "z"
    if closed:
        tokens = tokens[:-1]
    points, corners = [], []
    for token in tokens:
        corner = token.endswith("!")
        x, y = token.rstrip("!").split(",")
        points.append((float(x) / 100.0, float(y) / 100.0))
        corners.append(corner)
    if closed:
        # the closing way-point repeats the first one; the loop wraps onto it
        points, corners = points[:-1], corners[:-1]
    return np.array(points), corners, closed


def _hermite_rows(t):
    """Hermite basis weights (h00, h10, h01, h11) at parameters ``t``, (len(t), 4)."""
    t2, t3 = t * t, t * t * t
    return np.stack(
        [2 * t3 - 3 * t2 + 1, t3 - 2 * t2 + t, -2 * t3 + 3 * t2, t3 - t2], axis=1
    )


def _even_parameters(local, points, spacing, include_end):
    """Parameters ``t`` of points evenly spaced along one spline segment.

    ``local`` (4, n_waypoints) gives the segment's Hermite data over the
    stroke's way-points; the spline is not arc-length parametrised, so t is
    found from its length measured on a fine grid.
    """
    fine = np.linspace(0.0, 1.0, _FINE_STEPS + 1)
    curve = _hermite_rows(fine) @ local @ points
    length = np.concatenate(
        [[0.0], np.cumsum(np.linalg.norm(np.diff(curve, axis=0), axis=1))]
    )
    n_steps = max(2, int(np.ceil(length[-1] / spacing)))
    t = np.interp(np.linspace(0.0, length[-1], n_steps + 1), length, fine)
    return t if include_end else t[:-1]


def _run_tangents(n_run, closed):
    """Catmull-Rom tangents of a run as a (n_run, n_run) matrix over its points.

    The ends of an open run use the chord to their neighbour, which draws two
    points as a straight line.
    """
    tangents = np.zeros((n_run, n_run))
    for i in range(n_run):
        if closed:
            tangents[i, (i + 1) % n_run] += 0.5
            tangents[i, (i - 1) % n_run] -= 0.5
        elif i == 0:
            tangents[i, 1], tangents[i, 0] = 1.0, -1.0
        elif i == n_run - 1:
            tangents[i, i], tangents[i, i - 1] = 1.0, -1.0
        else:
            tangents[i, i + 1], tangents[i, i - 1] = 0.5, -0.5
    return tangents


def _stroke_sampling(points, corners, closed, spacing):
    """Sampling matrix (n_points, n_waypoints) of one stroke."""
    n = len(points)
    if closed:
        runs = [(list(range(n)) + [0], True)]
    else:
        breaks = [0] + [i for i in range(1, n - 1) if corners[i]] + [n - 1]
        runs = [
            (list(range(a, b + 1)), False)
            for a, b in zip(breaks[:-1], breaks[1:], strict=True)
        ]
    blocks = []
    for r, (run, run_closed) in enumerate(runs):
        # a closed run lists its first point again at the end; tangents wrap
        members = run[:-1] if run_closed else run
        tangents = _run_tangents(len(members), run_closed)
        n_segments = len(run) - 1
        for s in range(n_segments):
            i, j = s, (s + 1) % len(members) if run_closed else s + 1
            # express the ends and their tangents as weights over the stroke's points
            local = np.zeros((4, n))
            local[0, members[i]] = 1.0
            local[2, members[j]] = 1.0
            local[1, members] = tangents[i]
            local[3, members] = tangents[j]
            last = r == len(runs) - 1 and s == n_segments - 1
            t = _even_parameters(local, points, spacing, include_end=last)
            blocks.append(_hermite_rows(t) @ local)
    return np.vstack(blocks)


@cache
def compile_variant(character, variant, spacing):
    """Compile one variant of a character for dense sampling.

    Parameters
    ----------
    character : str
        A key of :data:`GLYPHS`: a character, or a lower-case letter for its
        lower-case forms.
    variant : int
        Index into ``GLYPHS[character]``.
    spacing : float
        Distance between neighbouring dense points, in units of the box.

    Returns
    -------
    CompiledVariant
    """
    strokes = GLYPHS[character][variant][1]
    waypoints, waypoint_stroke, blocks, joined, ends = [], [], [], [], []
    offset = row = 0
    for index, text in enumerate(strokes):
        points, corners, closed = _parse_stroke(text)
        block = _stroke_sampling(points, corners, closed, spacing)
        if not closed:
            last = row + len(block) - 1
            ends.extend([(row, row + 1), (last, last - 1)])
        row += len(block)
        blocks.append((offset, block))
        waypoints.append(points)
        waypoint_stroke.extend([index] * len(points))
        joined.extend([True] * (len(block) - 1) + [False])
        offset += len(points)
    sampling = np.zeros((sum(len(b) for _, b in blocks), offset))
    row = 0
    for start, block in blocks:
        sampling[row : row + len(block), start : start + block.shape[1]] = block
        row += len(block)
    return CompiledVariant(
        waypoints=np.vstack(waypoints),
        waypoint_stroke=np.array(waypoint_stroke),
        sampling=sampling,
        joined=np.array(joined[:-1]),
        ends=np.array(ends, dtype=np.intp).reshape(-1, 2),
    )


def variant_table(character, letter_case="upper"):
    """The forms a character is drawn in, with their probabilities.

    Parameters
    ----------
    character : str
        One of :data:`CHARACTERS`.
    letter_case : {"upper", "lower", "mixed"}, default="upper"
        For letters: capitals, lower-case forms, or both with equal
        probability, as in EMNIST's merged letter classes.

    Returns
    -------
    table : list of (str, int, float)
        ``(glyph key, variant index, probability)``; the probabilities sum to 1.
    """
    upper = _weighted(character)
    if character in DIGITS or letter_case == "upper":
        return upper
    lower = _weighted(character.lower())
    if letter_case == "lower":
        return lower
    return [(key, v, 0.5 * p) for key, v, p in upper + lower]


def _weighted(key):
    weights = np.array([weight for weight, _ in GLYPHS[key]], dtype=float)
    return [(key, v, w) for v, w in enumerate(weights / weights.sum())]
