#!/usr/bin/python3
"""Copies the small subset of the project's `shared/realdata` snapshot that the interop tests use.

Run once, with Debian's /usr/bin/python3 (stdlib only), from anywhere:

    /usr/bin/python3 test-fixtures/realdata/make_subset.py /work/shared/realdata

- Every copied file is copied byte for byte and its sha256 is checked against the snapshot's
  MANIFEST.sha256 (so the bytes are the ones of the public repository at the recorded commit).
- The `files.json` of `real_plant` and `virtual_plant` are *trimmed*: loaded with `json.load`,
  filtered to the files copied here (original order kept), and written back with
  `json.dump(obj, f, sort_keys=True, indent=4)` and no trailing newline, exactly the way
  romidata/plantdb write files.json. Nothing else is changed.
- Everything else is copied as is, including `models/files.json` (which ends with a newline,
  so it is not what json.dump writes: it was edited by hand upstream; kept as a real quirk).

The script prints the sha256 of every file it wrote, so PROVENANCE.md can be checked.
It deletes and recreates `plant-3d-vision-db/` and `plant-imager-db/` next to itself.
"""
import hashlib
import json
import os
import shutil
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "/work/shared/realdata")

P3DV = "plant-3d-vision/tests/testdata"
IMAGER = "plant-imager/database_example"
LONG_FS = "VirtualPlant_arabidopsis_note___BRANCHON___fal___angles____inte_a7299a0b5f"

# The images kept in each scan (ids, in files.json order).
REAL_IMAGES = ["00000_rgb", "00001_rgb", "00002_rgb", "00003_rgb"]
VIRTUAL_IMAGES = ["00000_rgb", "00000_leaf", "00000_stem"]


def load_manifest():
    sums = {}
    with open(os.path.join(SRC, "MANIFEST.sha256")) as f:
        for line in f:
            digest, path = line.rstrip("\n").split("  ", 1)
            sums[os.path.normpath(path)] = digest
    return sums


MANIFEST = load_manifest()
WRITTEN = []


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def copy(src_rel, dst_rel):
    """Byte-for-byte copy, checked against the snapshot's manifest."""
    src = os.path.join(SRC, src_rel)
    dst = os.path.join(HERE, dst_rel)
    expected = MANIFEST.get(os.path.normpath(src_rel))
    if expected is None:
        raise SystemExit("not in MANIFEST.sha256: " + src_rel)
    if sha256(src) != expected:
        raise SystemExit("sha256 mismatch with MANIFEST.sha256: " + src_rel)
    os.makedirs(os.path.dirname(dst), exist_ok=True)
    shutil.copyfile(src, dst)  # bytes only; mode comes from the umask (0644)
    WRITTEN.append((dst_rel, "copied", src_rel))


def trim_index(src_rel, dst_rel, keep):
    """files.json keeping, per fileset, only the file ids in keep[fileset] (None: all)."""
    src = os.path.join(SRC, src_rel)
    if sha256(src) != MANIFEST[os.path.normpath(src_rel)]:
        raise SystemExit("sha256 mismatch with MANIFEST.sha256: " + src_rel)
    with open(src) as f:
        index = json.load(f)
    for fs in index["filesets"]:
        wanted = keep.get(fs["id"])
        if wanted is not None:
            fs["files"] = [entry for entry in fs["files"] if entry["id"] in wanted]
            missing = set(wanted) - {entry["id"] for entry in fs["files"]}
            if missing:
                raise SystemExit("not listed in %s: %s" % (src_rel, sorted(missing)))
    dst = os.path.join(HERE, dst_rel)
    os.makedirs(os.path.dirname(dst), exist_ok=True)
    with open(dst, "w") as f:
        json.dump(index, f, sort_keys=True, indent=4)  # as romidata/plantdb write it, no newline
    WRITTEN.append((dst_rel, "trimmed", src_rel))


def main():
    for name in ("plant-3d-vision-db", "plant-imager-db"):
        shutil.rmtree(os.path.join(HERE, name), ignore_errors=True)

    # ---- plant-3d-vision tests/testdata ----
    db = "plant-3d-vision-db"
    copy(P3DV + "/romidb", db + "/romidb")

    scan = "/real_plant"
    trim_index(P3DV + scan + "/files.json", db + scan + "/files.json", {"images": REAL_IMAGES})
    for rel in ("scan.toml", "measures.json", "metadata/images.json"):
        copy(P3DV + scan + "/" + rel, db + scan + "/" + rel)
    for fid in REAL_IMAGES:
        copy(P3DV + scan + "/images/" + fid + ".jpg", db + scan + "/images/" + fid + ".jpg")
        copy(P3DV + scan + "/metadata/images/" + fid + ".json", db + scan + "/metadata/images/" + fid + ".json")

    scan = "/virtual_plant"
    # The long fileset keeps both entries: VirtualPlant.obj (3.6 MB) is not copied, so it is
    # listed but missing; VirtualPlant_mtl.mtl (763 B) is copied.
    trim_index(P3DV + scan + "/files.json", db + scan + "/files.json", {"images": VIRTUAL_IMAGES, LONG_FS: None})
    for rel in (
        "scan.toml",
        "metadata/images.json",
        "metadata/" + LONG_FS + ".json",
        "metadata/" + LONG_FS + "/VirtualPlant.json",
        LONG_FS + "/VirtualPlant_mtl.mtl",
    ):
        copy(P3DV + scan + "/" + rel, db + scan + "/" + rel)
    for fid in VIRTUAL_IMAGES:
        copy(P3DV + scan + "/images/" + fid + ".png", db + scan + "/images/" + fid + ".png")
        copy(P3DV + scan + "/metadata/images/" + fid + ".json", db + scan + "/metadata/images/" + fid + ".json")

    scan = "/models"  # as is: its listed Resnet_896_896_epoch50.pt was never committed upstream
    for rel in ("files.json", "metadata/models.json", "metadata/models/Resnet_896_896_epoch50.json"):
        copy(P3DV + scan + "/" + rel, db + scan + "/" + rel)

    # ---- plant-imager database_example, as is ----
    db = "plant-imager-db"
    copy(IMAGER + "/romidb", db + "/romidb")
    for rel in (
        "files.json",
        "metadata/hdri.json",
        "metadata/lpy.json",
        "metadata/palette.json",
        "metadata/scenes.json",
        "palette/palette_arabi.png",
    ):
        copy(IMAGER + "/vscan_data/" + rel, db + "/vscan_data/" + rel)

    total = 0
    for dst_rel, how, src_rel in sorted(WRITTEN):
        path = os.path.join(HERE, dst_rel)
        size = os.path.getsize(path)
        total += size
        print("%s  %8d  %-7s  %s" % (sha256(path), size, how, dst_rel))
    print("total: %d files, %d bytes" % (len(WRITTEN), total))


if __name__ == "__main__":
    main()
