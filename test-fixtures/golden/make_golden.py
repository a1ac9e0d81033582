#!/usr/bin/python3
"""Writes the golden JSON files the conformance suite compares our bytes against.

Run with Debian's /usr/bin/python3 (stdlib json only): `python3 make_golden.py`.
Every file is written exactly the way romidata/plantdb write files.json and metadata:
json.dump(obj, f, sort_keys=True, indent=4), no trailing newline.
"""
import json


def dump(name, obj):
    with open(name, "w") as f:
        json.dump(obj, f, sort_keys=True, indent=4)


# romidata's tests/testdata/testscan/files.json, built the way FSDB.store() builds it.
dump("testscan-files.json", {"filesets": [{"files": [{"file": "text.txt", "id": "text"}, {"file": "image.png", "id": "image"}], "id": "testfileset"}]})

# An empty scan, a fileset with a never-written file, and two filesets in creation order.
dump("empty-files.json", {"filesets": []})
dump("unwritten-files.json", {"filesets": [{"files": [{"file": None, "id": "x"}], "id": "fs_b"}, {"files": [], "id": "fs_a"}]})

# Metadata values JS and Python write alike: strings that need escaping, non-ASCII,
# ints, non-integral floats over the whole exponent range, nesting, empty containers.
dump("metadata-values.json", {
    "zeta": "last key",
    "Alpha": "upper case sorts first",
    "quote": 'say "hi" \\ back\\slash',
    "control": "tab\tnewline\ncr\rbell\x07del\x7f",
    "unicode": "\u00e9t\u00e9 \u4e2d\u6587 \U0001F331 plant",
    "\u00e9cl\u00e9": "non-ASCII key",
    "ints": [0, -1, 42, 9007199254740991],
    "floats": [0.1, -2.5, 1e-05, 0.0001, 123456.789, 1.5e16, 1e+22, 5e-324, 1.7976931348623157e308, 3.141592653589793],
    "nested": {"b": {"deep": [1, {"x": None}]}, "a": [], "c": {}},
    "bools": [True, False, None],
    "empty_string": "",
})

# A Python-written file metadata (real_plant 00001_rgb.json shape: 276.0 is a float, 80 an int)...
pose = {"approximate_pose": [76.64343138951801, 343.64146101970397, 80, 276.0, 0], "channel": "rgb", "shot_id": "000001"}
dump("pose-before.json", pose)
# ...and what Python writes after setting one more key: the floats keep their text.
pose["exposure"] = 0.25
dump("pose-after-set.json", pose)
