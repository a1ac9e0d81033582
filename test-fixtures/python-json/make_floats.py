#!/usr/bin/python3
"""Writes floats.json: [bits as hex, Python's json text] for doubles across the whole range.

Run with Debian's /usr/bin/python3. The core's number writer must produce the same text.
"""
import json
import random
import struct

random.seed(20261125)
rows = []
special = [0.1, 0.2, 0.3, 1e-05, 1e-04, 0.0001, 1e16, 1e15, 123456789012345678.0, 1.5, -0.5,
           2.0 ** 53, 2.0 ** 53 + 2, 1e21, 1e22, 5e-324, 2.2250738585072014e-308, 1.7976931348623157e308,
           299792458.5, 6.02214076e23, 1.0 / 3, 2.0 / 3, 100.125, 276.75, 9.999999999999999e15, 1e-07]
values = special + [random.uniform(-1e6, 1e6) for _ in range(500)]
while len(values) < 3000:
    bits = random.getrandbits(64)
    v = struct.unpack("<d", struct.pack("<Q", bits))[0]
    if v == v and v not in (float("inf"), float("-inf")):
        values.append(v)
for v in values:
    if v.is_integer() and abs(v) < 2 ** 53:
        continue  # JS writes these as integers (it cannot tell 276.0 from 276)
    rows.append([struct.pack(">d", v).hex(), json.dumps(v)])
with open("floats.json", "w") as f:
    json.dump(rows, f)
