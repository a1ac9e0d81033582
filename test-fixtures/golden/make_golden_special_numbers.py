#!/usr/bin/python3
"""Writes golden metadata holding what Python's json writes and JSON.parse refuses or loses.

Run with Debian's /usr/bin/python3 (stdlib json only): `python3 make_golden_special_numbers.py`.
json.dump(obj, f, sort_keys=True, indent=4) writes NaN, Infinity and -Infinity by default
(allow_nan=True), and keeps the sign of -0.0.
"""
import json

nan, inf = float("nan"), float("inf")


def dump(name, obj):
    with open(name, "w") as f:
        json.dump(obj, f, sort_keys=True, indent=4)


# Scan metadata of a Python pipeline that met missing and unbounded values...
special = {
    "angle": -0.0,
    "bounds": [-inf, inf],
    "mean": nan,
    "nested": {"offset": -0.0, "scores": [0.5, nan, 276.0, -inf]},
    "plant": "arabidopsis",
}
dump("special-numbers-before.json", special)
# ...and what Python writes after setting one more key: every other value keeps its text.
special["exposure"] = 0.25
dump("special-numbers-after-set.json", special)
