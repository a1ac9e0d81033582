#!/usr/bin/python3
"""Golden files for packages/fsdb/test/interop.test.ts: what Python writes after the same changes.

Run once, with Debian's /usr/bin/python3 (stdlib json only), after make_subset.py:

    /usr/bin/python3 test-fixtures/realdata/golden/make_golden.py

It reads the fixture databases next to this folder (never modifies them), applies with Python the
changes the test makes through the romidb API, and writes every JSON file those changes rewrite or
create the way romidata/plantdb write them: json.load, change the dict, then
json.dump(obj, f, sort_keys=True, indent=4) with no trailing newline.

    writes/<db>/<path>   the expected bytes of <path> after the test's writes (see WRITES below)
    fix/<db>/<path>      the expected files.json after check({fix: true}) (entries whose data is
                         missing dropped, nothing else changed)

The test compares these bytes with what romidb wrote, and compares every other file with the
fixture, byte for byte. Keep the changes here and in the test in step.
"""
import json
import os
import shutil

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.dirname(HERE)
LONG_FS = "VirtualPlant_arabidopsis_note___BRANCHON___fal___angles____inte_a7299a0b5f"


def load(db, rel):
    with open(os.path.join(FIXTURES, db, rel)) as f:
        return json.load(f)


def dump(kind, db, rel, obj):
    path = os.path.join(HERE, kind, db, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        json.dump(obj, f, sort_keys=True, indent=4)


def fileset(index, fs_id):
    return next(fs for fs in index["filesets"] if fs["id"] == fs_id)


def drop_file(index, fs_id, file_id):
    fs = fileset(index, fs_id)
    fs["files"] = [f for f in fs["files"] if f["id"] != file_id]


def writes():
    db = "plant-3d-vision-db"

    # real_plant: set a key on a real image's metadata (276.0 and the float text must stay).
    meta = load(db, "real_plant/metadata/images/00001_rgb.json")
    meta["exposure"] = 0.25
    dump("writes", db, "real_plant/metadata/images/00001_rgb.json", meta)
    # real_plant: replace one number of a pose (z: 80 -> 81); the other numbers keep their text.
    meta = load(db, "real_plant/metadata/images/00003_rgb.json")
    meta["approximate_pose"][2] = 81
    dump("writes", db, "real_plant/metadata/images/00003_rgb.json", meta)
    # real_plant: set a key on the fileset metadata (ints stay ints).
    meta = load(db, "real_plant/metadata/images.json")
    meta["note"] = "subset of 4 images"
    dump("writes", db, "real_plant/metadata/images.json", meta)
    # real_plant: a new file 00004_rgb.jpg with metadata, and 00002_rgb deleted.
    dump("writes", db, "real_plant/metadata/images/00004_rgb.json",
         {"approximate_pose": [1.5, 343.25, 80, 276.5, 0], "channel": "rgb", "shot_id": "000004"})
    index = load(db, "real_plant/files.json")
    drop_file(index, "images", "00002_rgb")
    fileset(index, "images")["files"].append({"file": "00004_rgb.jpg", "id": "00004_rgb"})
    dump("writes", db, "real_plant/files.json", index)
    # real_plant: scan metadata, which did not exist (metadata/metadata.json is created).
    dump("writes", db, "real_plant/metadata/metadata.json",
         {"object": {"species": "Arabidopsis thaliana"}, "operator": "\u00c9quipe RDP", "weight_g": 12.5})

    # virtual_plant: set a key on a mask's metadata (camera floats such as -5.886437293156632e-08, 0.0).
    meta = load(db, "virtual_plant/metadata/images/00000_leaf.json")
    meta["reviewed"] = True
    dump("writes", db, "virtual_plant/metadata/images/00000_leaf.json", meta)
    # virtual_plant: set a key on the long fileset's metadata (1.3, 0.09, false).
    meta = load(db, "virtual_plant/metadata/" + LONG_FS + ".json")
    meta["reviewed"] = True
    dump("writes", db, "virtual_plant/metadata/" + LONG_FS + ".json", meta)
    # virtual_plant: 00000_stem deleted.
    index = load(db, "virtual_plant/files.json")
    drop_file(index, "images", "00000_stem")
    dump("writes", db, "virtual_plant/files.json", index)

    db = "plant-imager-db"
    # palette fileset metadata: one more key ("task_parameters": {} stays {}).
    meta = load(db, "vscan_data/metadata/palette.json")
    meta["checked"] = True
    dump("writes", db, "vscan_data/metadata/palette.json", meta)
    # palette_arabi had no file metadata: it is created.
    dump("writes", db, "vscan_data/metadata/palette/palette_arabi.json", {"channel": "rgb", "size": [421, 152]})
    # a new file palette_copy.png; forest_slope_2k (listed, data missing) deleted.
    index = load(db, "vscan_data/files.json")
    fileset(index, "palette")["files"].append({"file": "palette_copy.png", "id": "palette_copy"})
    drop_file(index, "hdri", "forest_slope_2k")
    dump("writes", db, "vscan_data/files.json", index)
    # scan metadata, which did not exist.
    dump("writes", db, "vscan_data/metadata/metadata.json", {"scan_id": "vscan_data", "z_offset": 1e-05})


def fixes():
    # check({fix: true}) drops the entries whose data is missing and changes nothing else.
    db = "plant-3d-vision-db"
    index = load(db, "models/files.json")
    drop_file(index, "models", "Resnet_896_896_epoch50")
    dump("fix", db, "models/files.json", index)
    index = load(db, "virtual_plant/files.json")
    drop_file(index, LONG_FS, "VirtualPlant")
    dump("fix", db, "virtual_plant/files.json", index)

    db = "plant-imager-db"
    index = load(db, "vscan_data/files.json")
    drop_file(index, "hdri", "felsenlabyrinth_2k")
    drop_file(index, "hdri", "forest_slope_2k")
    drop_file(index, "lpy", "arabidopsis_notex")
    dump("fix", db, "vscan_data/files.json", index)


if __name__ == "__main__":
    for kind in ("writes", "fix"):
        shutil.rmtree(os.path.join(HERE, kind), ignore_errors=True)
    writes()
    fixes()
    for root, _, files in sorted(os.walk(HERE)):
        for name in sorted(files):
            if name.endswith(".json"):
                print(os.path.relpath(os.path.join(root, name), HERE))
