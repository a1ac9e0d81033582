"""What plantdb's webcache makes, for packages/io/test/webcache.test.ts (run once, commit the output).

    apt-get install -y --no-install-recommends python3-open3d python3-pil python3-numpy
    cd test-fixtures/io/webcache && /usr/bin/python3 make_golden.py

Made with Open3D 0.16.1, Pillow 9.4.0 and numpy 1.24.2 (Debian 12 packages). It repeats the two
computations of plantdb 0.15's `plantdb/server/webcache.py`:

- point clouds: `o3d.io.read_point_cloud`, `pcd.voxel_down_sample(voxel)`,
  `o3d.io.write_point_cloud` (binary little-endian PLY). Written as `*_voxel_*.ply`.
- images: `Image.open(src); img.load(); img.thumbnail((n, n))`, `convert("RGB")` when the mode is
  not RGB, `save(jpeg, quality=84, optimize=True)`. The JPEG is decoded again by Pillow and
  summarised in golden.json: size and mode, the mean of each channel, the 8x8-pixel block means
  (up to 16x16 blocks) and every pixel of the small ones; the JPEGs of 8 KB or less are kept in
  `pil/` for a comparison of every pixel.

golden.json also holds `thumbnail_sizes`: [width, height, n, thumb width, thumb height] for many
sizes, from `Image.thumbnail` itself, to check the rounding of the output size.
"""
import io
import json
import os

import numpy as np
import open3d as o3d
import PIL
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
REAL = os.path.join(HERE, "..", "real")
SRC = os.path.join(HERE, "src")
os.makedirs(SRC, exist_ok=True)
os.makedirs(os.path.join(HERE, "pil"), exist_ok=True)
golden = {
    "versions": {"open3d": o3d.__version__, "pillow": PIL.__version__, "numpy": np.__version__},
    "voxel": [],
    "thumbnails": [],
    "thumbnail_sizes": [],
}

# --- point clouds -------------------------------------------------------------------------------
for src, voxel in [("PointCloud.ply", 1.8), ("PointCloud.ply", 5.0), ("vplant_rec.ply", 1.0)]:
    pcd = o3d.io.read_point_cloud(os.path.join(REAL, src))
    down = pcd.voxel_down_sample(voxel)
    out = f"{os.path.splitext(src)[0]}_voxel_{voxel}.ply"
    o3d.io.write_point_cloud(os.path.join(HERE, out), down, write_ascii=False)
    golden["voxel"].append({
        "source": f"real/{src}",
        "voxel": voxel,
        "points_in": len(pcd.points),
        "points_out": len(down.points),
        "normals": down.has_normals(),
        "colors": down.has_colors(),
        "golden": out,
    })

# --- synthetic sources for the alpha and palette paths ------------------------------------------
# Smooth gradients (so that two resamplers agree closely), 64x48.
yy, xx = np.mgrid[0:48, 0:64].astype(np.float64)
r = (xx * 4).clip(0, 255)
g = (yy * 5).clip(0, 255)
b = 255 - (xx + yy) * 2
rgb = np.dstack([r, g, b]).astype(np.uint8)
# Alpha: transparent on the left (with colour under it), a ramp in the middle, opaque on the right.
alpha = np.clip((xx - 16) * 8, 0, 255).astype(np.uint8)
Image.fromarray(np.dstack([rgb, alpha]), "RGBA").save(os.path.join(SRC, "rgba_gradient.png"))
Image.fromarray(np.dstack([rgb[..., 1], alpha]), "LA").save(os.path.join(SRC, "la_gradient.png"))
Image.fromarray(rgb, "RGB").convert("P", palette=Image.ADAPTIVE, colors=32).save(os.path.join(SRC, "palette_gradient.png"))


def thumbnail(path, n):
    """plantdb's __image_cache, to bytes."""
    image = Image.open(path)
    image.load()
    mode_in = image.mode
    image.thumbnail((n, n))
    if image.mode != "RGB":
        image = image.convert(mode="RGB")
    buf = io.BytesIO()
    image.save(buf, format="jpeg", quality=84, optimize=True)
    return mode_in, buf.getvalue()


def summary(jpeg):
    im = Image.open(io.BytesIO(jpeg))
    a = np.asarray(im).astype(np.float64)
    h, w = a.shape[:2]
    bw = max(8, -(-w // 16))  # blocks of at least 8x8 pixels, at most 16 across
    bh = max(8, -(-h // 16))
    blocks = []
    for y0 in range(0, h - bh + 1, bh):
        row = []
        for x0 in range(0, w - bw + 1, bw):
            row.append([round(float(v), 2) for v in a[y0:y0 + bh, x0:x0 + bw].reshape(-1, 3).mean(0)])
        blocks.append(row)
    out = {
        "width": w,
        "height": h,
        "mode": im.mode,
        "jpeg_bytes": len(jpeg),
        "mean": [round(float(v), 3) for v in a.reshape(-1, 3).mean(0)],
        "block": [bw, bh],
        "blocks": blocks,
    }
    if w * h <= 16 * 12:
        out["pixels"] = np.asarray(im).ravel().tolist()
    return out


SIZES = {"thumb": 150, "large": 1500}
cases = [(f"real/{f}", s) for f in ["00000_rgb.jpg", "00000_rgb.png", "00000_leaf.png"] for s in ["thumb", 300, "large", 1000]]
cases += [("webcache/src/rgba_gradient.png", 16), ("webcache/src/rgba_gradient.png", 100),
          ("webcache/src/la_gradient.png", 16), ("webcache/src/la_gradient.png", 100),
          ("webcache/src/palette_gradient.png", 16)]
for src, size in cases:
    n = SIZES.get(size, size)
    mode_in, jpeg = thumbnail(os.path.join(HERE, "..", src), n)
    entry = {"source": src, "size": size, "max_side": n, "mode_in": mode_in, **summary(jpeg)}
    if len(jpeg) <= 8000:
        # Small enough to keep: the tests compare every pixel.
        entry["jpeg"] = f"pil/{os.path.basename(src).replace('.', '_')}_{size}.jpg"
        with open(os.path.join(HERE, entry["jpeg"]), "wb") as f:
            f.write(jpeg)
    golden["thumbnails"].append(entry)

# --- output sizes -------------------------------------------------------------------------------
rng = np.random.default_rng(2024)
dims = [(1, 1, 1), (7, 5, 1), (7, 5, 3), (5, 7, 3), (1, 1000, 10), (1000, 1, 10), (3, 1000, 150), (1000, 3, 150),
        (1440, 1080, 150), (1440, 1080, 300), (1080, 1440, 150), (896, 896, 150), (151, 150, 150), (150, 151, 150),
        (2, 3, 2), (3, 2, 2), (999, 333, 100), (333, 999, 100), (1001, 3, 1), (3, 1001, 1)]
for _ in range(400):
    w, h = (int(v) for v in rng.integers(1, 2000, 2))
    dims.append((w, h, int(rng.integers(1, max(2, max(w, h) + 50)))))
for w, h, n in dims:
    im = Image.new("1", (w, h))  # mode "1" resizes with NEAREST: cheap
    im.thumbnail((n, n))
    golden["thumbnail_sizes"].append([w, h, n, im.width, im.height])

with open(os.path.join(HERE, "golden.json"), "w") as f:
    json.dump(golden, f, separators=(",", ":"))
    f.write("\n")
print("wrote golden.json:", len(golden["voxel"]), "clouds,", len(golden["thumbnails"]), "thumbnails,",
      len(golden["thumbnail_sizes"]), "sizes")
