"""Write small PNG/JPEG/TIFF variants with Pillow for packages/io/test (run once, commit the output).

    apt-get install -y --no-install-recommends python3-pil python3-numpy
    cd test-fixtures/io && /usr/bin/python3 make_image_fixtures.py

Made with Pillow 9.4.0 (Debian 12). These are the colour types and bit depths a PNG or JPEG
header can announce, so the image reader's header shortcut can be checked against libvips.
"""
import os

import numpy as np
from PIL import Image

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "images")
os.makedirs(OUT, exist_ok=True)
rng = np.random.default_rng(7)
grey = (rng.random((5, 7)) * 255).astype(np.uint8)
rgb = (rng.random((5, 7, 3)) * 255).astype(np.uint8)


def save(name, im, **kw):
    im.save(os.path.join(OUT, name), **kw)


save("grey.png", Image.fromarray(grey, "L"))
save("grey_trns.png", Image.fromarray(grey, "L"), transparency=int(grey[0, 0]))
save("grey_alpha.png", Image.fromarray(np.dstack([grey, grey[::-1]]), "LA"))
save("grey_1bit.png", Image.fromarray(grey > 128).convert("1"))
save("grey_16bit.png", Image.fromarray(grey.astype(np.uint16) * 257, "I;16"))
save("rgb.png", Image.fromarray(rgb, "RGB"))
save("rgb_trns.png", Image.fromarray(rgb, "RGB"), transparency=tuple(int(v) for v in rgb[0, 0]))
save("rgba.png", Image.fromarray(np.dstack([rgb, grey]), "RGBA"))
save("palette.png", Image.fromarray(rgb, "RGB").convert("P", palette=Image.ADAPTIVE, colors=16))
save("palette_trns.png", Image.fromarray(rgb, "RGB").convert("P", palette=Image.ADAPTIVE, colors=16), transparency=0)
save("interlaced.png", Image.fromarray(rgb, "RGB"), interlace=1)
save("grey.jpg", Image.fromarray(grey, "L"), quality=90)
save("rgb.jpg", Image.fromarray(rgb, "RGB"), quality=90)
save("progressive.jpg", Image.fromarray(rgb, "RGB"), quality=90, progressive=True)
save("cmyk.jpg", Image.fromarray(rgb, "RGB").convert("CMYK"), quality=90)
save("rgb.tif", Image.fromarray(rgb, "RGB"))
save("rgb.webp", Image.fromarray(rgb, "RGB"), lossless=True)
# What Pillow decodes, for the lossless files whose meaning is unambiguous.
import json

expected = {}
for name, mode in [("grey.png", None), ("grey_16bit.png", None), ("grey_alpha.png", None), ("rgb.png", None),
                   ("rgba.png", None), ("palette.png", "RGB"), ("palette_trns.png", "RGBA"), ("interlaced.png", None),
                   ("rgb.tif", None), ("rgb.webp", None)]:
    with Image.open(os.path.join(OUT, name)) as im:
        a = np.asarray(im.convert(mode) if mode else im)
    expected[name] = {"shape": list(a.shape), "values": a.ravel().tolist()}
with open(os.path.join(OUT, "expected.json"), "w") as f:
    json.dump(expected, f, sort_keys=True)
    f.write("\n")
print("wrote", len(os.listdir(OUT)), "files to", OUT)
