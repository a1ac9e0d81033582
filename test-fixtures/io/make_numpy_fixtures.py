"""Write the numpy / tifffile fixtures used by packages/io/test (run once, commit the output).

Run with Debian's numpy, not a pyenv one, so that the files are reproducible:

    apt-get install -y --no-install-recommends python3-numpy python3-tifffile
    cd test-fixtures/io && /usr/bin/python3 make_numpy_fixtures.py

Made with numpy 1.24.2 and tifffile 2023.2.3 (Debian 12). Output goes to ./numpy/:
  *.npy          one array each: every dtype of the romidb API, big-endian, Fortran order,
                 0-d, empty, and the v2.0 / v3.0 header versions
  *.npz          savez (stored) and savez_compressed (deflated); vol_arr_0.npz is romidata's volume
  vol_*.tif      3-D volumes written by tifffile.imwrite (one page per index of axis 0)
  expected.json  for every array: dtype name, shape, and the values flattened in C order, as
                 strings ("nan", "inf", "-inf", "-0.0" kept; integers exact)
"""
import json
import os

import numpy as np

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "numpy")
os.makedirs(OUT, exist_ok=True)
expected = {}


def values_of(a):
    out = []
    for v in np.asarray(a).ravel(order="C").tolist():
        if isinstance(v, bool):
            out.append("1" if v else "0")
        elif isinstance(v, int):
            out.append(str(v))
        elif v != v:
            out.append("nan")
        elif v in (float("inf"), float("-inf")):
            out.append("inf" if v > 0 else "-inf")
        else:
            out.append(repr(float(v)))
    return out


def note(key, a):
    expected[key] = {
        "dtype": "bool" if a.dtype == np.bool_ else a.dtype.name,
        "shape": list(a.shape),
        "values": values_of(a),
    }


def save_npy(name, a, version=None):
    path = os.path.join(OUT, name + ".npy")
    if version is None:
        np.save(path, a)
    else:
        with open(path, "wb") as f:
            np.lib.format.write_array(f, a, version=version)
    note(name + ".npy", a)


rng = np.random.default_rng(20240611)
ints = {
    "int8": np.array([[-128, -1, 0], [1, 64, 127]], dtype=np.int8),
    "uint8": np.array([[0, 1, 2], [127, 128, 255]], dtype=np.uint8),
    "int16": np.array([-32768, -2, 0, 3, 32767], dtype=np.int16),
    "uint16": np.array([0, 1, 256, 65535], dtype=np.uint16),
    "int32": np.array([-(2**31), -5, 0, 7, 2**31 - 1], dtype=np.int32),
    "uint32": np.array([0, 1, 2**31, 2**32 - 1], dtype=np.uint32),
    "int64": np.array([-(2**63), -(2**53) - 1, 0, 2**53 + 1, 2**63 - 1], dtype=np.int64),
    "uint64": np.array([0, 1, 2**53 + 1, 2**64 - 1], dtype=np.uint64),
}
for name, a in ints.items():
    save_npy("le_" + name, a)
save_npy("le_bool", np.array([[True, False, True], [False, False, True]]))
special = [0.0, -0.0, 1.5, -2.25, np.nan, np.inf, -np.inf, 1e-30, 3.4e38]
save_npy("le_float32", np.array(special, dtype=np.float32).reshape(3, 3))
save_npy("le_float64", np.array(special + [5e-324, 1.7976931348623157e308, 0.1], dtype=np.float64).reshape(2, 2, 3))

# Big-endian: the same values in '>' byte order.
for name in ["int16", "uint16", "int32", "uint32", "int64", "uint64"]:
    save_npy("be_" + name, ints[name].astype(ints[name].dtype.newbyteorder(">")))
save_npy("be_float32", np.arange(12, dtype=">f4").reshape(3, 4) / 3)
save_npy("be_float64", np.linspace(-1, 1, 10, dtype=">f8").reshape(2, 5))

# Fortran order: np.save keeps fortran_order=True for F-contiguous arrays that are not C-contiguous.
save_npy("fortran_int32_2d", np.asfortranarray(np.arange(12, dtype=np.int32).reshape(3, 4)))
save_npy("fortran_float64_3d", np.asfortranarray(rng.standard_normal((2, 3, 4))))
save_npy("fortran_be_uint16_3d", np.asfortranarray(np.arange(24, dtype=">u2").reshape(2, 3, 4) * 1000))

# 0-d and empty arrays.
save_npy("scalar_float64", np.array(3.25))
save_npy("scalar_int64", np.array(-7, dtype=np.int64))
save_npy("empty_float32", np.zeros((0,), dtype=np.float32))
save_npy("empty_uint8_2x0x3", np.zeros((2, 0, 3), dtype=np.uint8))

# Header versions 2.0 and 3.0 (numpy only writes them by itself for huge or non-latin1 headers).
save_npy("v2_float32", np.arange(6, dtype=np.float32).reshape(2, 3), version=(2, 0))
save_npy("v3_int16", np.arange(6, dtype=np.int16).reshape(3, 2), version=(3, 0))

# NPZ, both ways numpy writes them, with plantdb-like keys.
arrays = {
    "a": np.arange(10, dtype=np.float64).reshape(2, 5),
    "labels": np.array([0, 1, 2, 255], dtype=np.uint8),
    "mask": np.array([[True, False], [False, True]]),
    "big": np.arange(2000, dtype=np.int32),
}
np.savez(os.path.join(OUT, "stored.npz"), **arrays)
np.savez_compressed(os.path.join(OUT, "compressed.npz"), **arrays)
for name, a in arrays.items():
    note("stored.npz/" + name, a)
    note("compressed.npz/" + name, a)
np.savez_compressed(os.path.join(OUT, "empty.npz"))

# romidata's volume format: imageio volwrite(format='npz') = savez_compressed with key arr_0.
vol = (rng.random((4, 5, 6)) * 10).astype(np.float32)
np.savez_compressed(os.path.join(OUT, "vol_arr_0.npz"), vol)
note("vol_arr_0.npz/arr_0", vol)

try:
    import tifffile

    vols = {
        "uint8": (rng.random((5, 6, 7)) * 255).astype(np.uint8),
        "uint16": (rng.random((5, 6, 7)) * 65535).astype(np.uint16),
        "float32": rng.standard_normal((5, 6, 7)).astype(np.float32),
        "float64": rng.standard_normal((5, 6, 7)),
    }
    for name, a in vols.items():
        tifffile.imwrite(os.path.join(OUT, "vol_" + name + ".tif"), a)
        note("vol_" + name + ".tif", a)
    # tifffile guesses colour images from the shape: (3, y, x) becomes one planar RGB page and
    # (z, y, 4) pages of RGBA pixels. The volume reader must still give back the original array.
    a = rng.standard_normal((3, 4, 5))
    tifffile.imwrite(os.path.join(OUT, "vol_float64_planar3.tif"), a)
    note("vol_float64_planar3.tif", a)
    # Big-endian and deflate-compressed, as plantdb may write when imagecodecs is present.
    a = rng.standard_normal((2, 3, 4)).astype(np.float32)
    tifffile.imwrite(os.path.join(OUT, "vol_float32_be_deflate.tif"), a, byteorder=">", compression="zlib")
    note("vol_float32_be_deflate.tif", a)
    # truncate=True writes one IFD for the whole series: read as not supported, never as one page.
    tifffile.imwrite(os.path.join(OUT, "vol_uint8_truncated.tif"), np.arange(120, dtype=np.uint8).reshape(5, 4, 6), truncate=True)
except ImportError:
    print("tifffile missing: TIFF volumes not written")

with open(os.path.join(OUT, "expected.json"), "w") as f:
    json.dump(expected, f, indent=1, sort_keys=True)
    f.write("\n")
print("wrote", len(expected), "arrays to", OUT)
