#!/usr/bin/python3
"""Builds a stand-in for Omniglot in Omniglot's own layout, from Debian's Noto fonts.

Omniglot (Lake et al.) cannot be fetched on this machine. The few-shot experiment reads the real
data set's layout through --omniglot_dir, so this script writes exactly that layout:

  <out>/images_background/<alphabet>/character<NN>/<id>_<drawer>.png   (30 alphabets)
  <out>/images_evaluation/<alphabet>/character<NN>/<id>_<drawer>.png   (20 alphabets)

105x105 1-bit PNGs, black strokes on white, 20 drawers per character. An "alphabet" is one script
of fonts-noto-core (NotoSans<Script>/NotoSerif<Script>); a "character" one of its letters (Unicode
category L*, named after the script); the 20 "drawers" differ in font face (sans/serif, regular/
bold where the script has them), stroke width and a small random affine distortion (rotation,
shear, scale, shift). Everything is drawn from a seeded generator, so the same fonts and seed give
byte-identical files. STAND-IN.txt at the root says what this is; the C++ reader reports it.

  /usr/bin/python3 tools/omniglot_standin.py OUT_DIR [--seed=0]

Needs python3-pil, fontconfig (fc-query) and fonts-noto-core (tools/setup.sh installs them).
"""
import glob
import math
import os
import random
import re
import subprocess
import sys
import unicodedata

from PIL import Image, ImageDraw, ImageFont

FONT_DIR = "/usr/share/fonts/truetype/noto"
NUM_ALPHABETS = (30, 20)  # background, evaluation: Omniglot's split
MIN_CHARACTERS, MAX_CHARACTERS = 14, 40  # Omniglot's alphabets hold 14 to 55 characters
DRAWERS = 20
SIZE = 105


def script_fonts():
    """{script: [font files]} for every Noto script family with a Regular face."""
    families = {}
    for path in sorted(glob.glob(os.path.join(FONT_DIR, "Noto*-*.ttf"))):
        m = re.match(r"Noto(Sans|Serif)([A-Za-z]+)-(Regular|Bold)\.ttf$", os.path.basename(path))
        if m and m.group(2) not in ("Display", "Mono", "Math", "Symbols", "Symbols2", "Music"):
            families.setdefault(m.group(2), []).append(path)
    return families


def letters(script, font):
    """The code points `font` maps that Unicode names as letters of `script`."""
    word = re.sub(r"(?<!^)([A-Z])", r" \1", script).upper() + " "
    charset = subprocess.run(["fc-query", "--format=%{charset}", font], check=True,
                             capture_output=True, text=True).stdout.split()
    points = []
    for r in charset:
        a, _, b = r.partition("-")
        points.extend(range(int(a, 16), int(b or a, 16) + 1))
    return [c for c in points if unicodedata.category(chr(c)) in ("Lo", "Lu", "Ll")
            and unicodedata.name(chr(c), "").startswith(word)]


def draw(char, font_path, stroke, rng):
    """One 105x105 1-bit drawing of `char`, or None when the font draws (almost) nothing."""
    font = ImageFont.truetype(font_path, 56)
    canvas = Image.new("L", (2 * SIZE, 2 * SIZE), 255)
    pen = ImageDraw.Draw(canvas)
    left, top, right, bottom = pen.textbbox((0, 0), char, font=font, stroke_width=stroke)
    if right - left < 2 or bottom - top < 2:
        return None
    pen.text((SIZE - (left + right) / 2, SIZE - (top + bottom) / 2), char, font=font, fill=0,
             stroke_width=stroke, stroke_fill=0)
    # A random affine map about the centre: the inverse map PIL's transform takes.
    angle = math.radians(rng.uniform(-12, 12))
    shear = rng.uniform(-0.2, 0.2)
    scale = rng.uniform(0.75, 1.05) * 70.0 / max(right - left, bottom - top)  # ~70 px tall
    dx, dy = rng.uniform(-6, 6), rng.uniform(-6, 6)
    c, s = math.cos(angle), math.sin(angle)
    # Forward p' = M (p - C) + O with M = scale * rotation * shear, C the canvas centre and O the
    # output centre shifted by d; PIL's AFFINE takes the inverse, p = M^-1 (p' - O) + C.
    a, b, d, e = scale * c, scale * (c * shear - s), scale * s, scale * (s * shear + c)
    det = a * e - b * d
    ia, ib, id_, ie = e / det, -b / det, -d / det, a / det
    ox, oy = SIZE / 2 + dx, SIZE / 2 + dy  # where the canvas centre (SIZE, SIZE) lands
    image = canvas.transform((SIZE, SIZE), Image.AFFINE,
                             (ia, ib, SIZE - ia * ox - ib * oy, id_, ie, SIZE - id_ * ox - ie * oy),
                             resample=Image.BILINEAR, fillcolor=255)
    image = image.point(lambda v: 255 if v >= 128 else 0).convert("1", dither=Image.NONE)
    if sum(1 for v in image.getdata() if v == 0) < 20:
        return None
    return image


def main(argv):
    if len(argv) < 2 or argv[1].startswith("-"):
        sys.exit(__doc__)
    out, seed = argv[1], 0
    for arg in argv[2:]:
        if not arg.startswith("--seed="):
            sys.exit("omniglot_standin.py: unknown argument %r (try without arguments)" % arg)
        seed = int(arg[len("--seed="):])
    families = script_fonts()
    usable = {}
    for script, fonts in sorted(families.items()):
        regular = [f for f in fonts if f.endswith("-Regular.ttf")]
        if not regular:
            continue
        chars = letters(script, regular[0])
        if len(chars) >= MIN_CHARACTERS:
            usable[script] = (fonts, chars)
    need = sum(NUM_ALPHABETS)
    if len(usable) < need:
        sys.exit("omniglot_standin.py: only %d scripts with %d+ letters in %s; need %d "
                 "(is fonts-noto-core installed?)" % (len(usable), MIN_CHARACTERS, FONT_DIR, need))
    rng = random.Random(seed)
    scripts = rng.sample(sorted(usable), need)
    os.makedirs(out, exist_ok=True)
    char_id = 0
    for split, names in (("images_background", sorted(scripts[:NUM_ALPHABETS[0]])),
                         ("images_evaluation", sorted(scripts[NUM_ALPHABETS[0]:]))):
        for script in names:
            fonts, chars = usable[script]
            picked = sorted(random.Random("%d/%s" % (seed, script)).sample(
                chars, min(MAX_CHARACTERS, len(chars))))
            number = 0
            for c in picked:
                images = []
                for drawer in range(DRAWERS):
                    r = random.Random("%d/%s/%x/%d" % (seed, script, c, drawer))
                    image = draw(chr(c), fonts[drawer % len(fonts)], (drawer // len(fonts)) % 3, r)
                    if image is None:
                        break
                    images.append(image)
                if len(images) < DRAWERS:
                    continue  # a glyph some face leaves blank: not a character here
                number += 1
                char_id += 1
                folder = os.path.join(out, split, script, "character%02d" % number)
                os.makedirs(folder, exist_ok=True)
                for drawer, image in enumerate(images):
                    image.save(os.path.join(folder, "%04d_%02d.png" % (char_id, drawer + 1)),
                               optimize=False)
            print("omniglot_standin.py: %s/%s: %d characters" % (split, script, number),
                  file=sys.stderr)
    with open(os.path.join(out, "STAND-IN.txt"), "w") as f:
        f.write("A stand-in for Omniglot, not Omniglot: glyphs of %d scripts of Debian's "
                "fonts-noto-core, 20 'drawers' per character from font faces, stroke widths and "
                "random affine distortions (tools/omniglot_standin.py, seed %d).\n" % (need, seed))


if __name__ == "__main__":
    main(sys.argv)
