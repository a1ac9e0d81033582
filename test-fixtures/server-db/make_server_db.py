#!/usr/bin/python3
"""Builds test-fixtures/server-db: the FSDB database that the @romi/server tests serve.

Run with Debian's /usr/bin/python3 (stdlib only), from anywhere:

    /usr/bin/python3 test-fixtures/server-db/make_server_db.py /work/shared/realdata

It deletes and recreates every scan folder and the `romidb` marker next to itself (this script,
PROVENANCE.md and nothing else are kept), and prints the sha256 and size of every file it wrote.
Running it again gives the same bytes (nothing depends on the clock, the machine or dict order).

Sources (see PROVENANCE.md for commits and licences):
- shared/realdata/plant-3d-vision/tests/testdata/{real_plant,virtual_plant}: every copied file is
  checked against shared/realdata/MANIFEST.sha256 and copied byte for byte;
- test-fixtures/io/real/{PointCloud,TriangleMesh}.ply (romicgal sample outputs, already committed;
  their sha256 is checked too);
- everything else of `real_plant_analyzed`, `no_images` and `broken_index` is generated here and is
  SYNTHETIC (plausible, not measured): see PROVENANCE.md.

JSON is written the way the Python tools write it:
- files.json and every metadata JSON: json.dump(obj, f, sort_keys=True, indent=4,
  separators=(',', ': ')), no trailing newline (plantdb.commons.fsdb file_ops/_store_metadata);
- task outputs (Colmap cameras/images/points3d, CurveSkeleton, AnglesAndInternodes): plantdb's
  io.write_json, i.e. json.dumps(data, indent=2), keys in insertion order, no trailing newline;
- the Colmap `sparse` PLY: the bytes Open3D's write_point_cloud writes for a coloured point cloud
  (binary little endian, double x y z, uchar red green blue).
"""
import array
import hashlib
import json
import math
import os
import shutil
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
SRC = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "/work/shared/realdata")

P3DV = "plant-3d-vision/tests/testdata"
LONG_FS = "VirtualPlant_arabidopsis_note___BRANCHON___fal___angles____inte_a7299a0b5f"

REAL_IMAGES = ["00000_rgb", "00001_rgb", "00002_rgb", "00003_rgb", "00004_rgb", "00005_rgb"]
VIRTUAL_IMAGES = ["00000_rgb", "00000_leaf", "00000_stem"]

# The fileset ids of plantdb's Zenodo `real_plant_analyzed` (plantdb test_database/docstrings).
FS_COLMAP = "Colmap_True_null_SIMPLE_RADIAL_ffcef49fdc"
FS_PCD = "PointCloud_1_0_1_0_10_0_7ee836e5a9"
FS_MESH = "TriangleMesh_9_most_connected_t_open3d_00e095c359"
FS_SKEL = "CurveSkeleton__TriangleMesh_0393cb5708"
FS_ANGLES = "AnglesAndInternodes_1_0_2_0_6_0_6dd64fc595"

# Committed copies of the romicgal sample outputs (test-fixtures/io/PROVENANCE.md).
PLY_SOURCES = {
    "PointCloud.ply": ("test-fixtures/io/real/PointCloud.ply",
                       "ab4fa1561918dfe9a6150aaedddb57b89cb299d04459c05124b584a11bcb721e"),
    "TriangleMesh.ply": ("test-fixtures/io/real/TriangleMesh.ply",
                         "7e3472cebbeb47189d85a151316b5906576a5496a0f00f08cc9a605c31581cd6"),
}

# real_plant's ScanPath (its scan.toml): a circle of radius 300 around (375, 375) at z = 80.
CENTER_X, CENTER_Y = 375.0, 375.0
# The camera model plantdb's docstrings show for the Zenodo real_plant_analyzed (a COLMAP
# SIMPLE_RADIAL model converted to OPENCV by plant-3d-vision's cameras_model_to_opencv_model).
CAMERA_MODEL = {
    "id": 1,
    "model": "OPENCV",
    "width": 1440,
    "height": 1080,
    "params": [1166.9518889440105, 1166.9518889440105, 720.0, 540.0,
               -0.0013571157486977348, -0.0013571157486977348, 0.0, 0.0],
}
ACQUISITION_DATE = "2023-12-15 16:37:15"


# The snapshot's MANIFEST.sha256, read by the realdata fixtures' script (same argument).
sys.dont_write_bytecode = True  # leave no __pycache__ in test-fixtures/realdata
sys.path.insert(0, os.path.join(REPO, "test-fixtures", "realdata"))
from make_subset import MANIFEST  # noqa: E402
WRITTEN = []


def sha256_bytes(data):
    return hashlib.sha256(data).hexdigest()


def sha256(path):
    with open(path, "rb") as f:
        return sha256_bytes(f.read())


def read_src(src_rel):
    """Bytes of a snapshot file, checked against MANIFEST.sha256."""
    expected = MANIFEST.get(os.path.normpath(src_rel))
    if expected is None:
        raise SystemExit("not in MANIFEST.sha256: " + src_rel)
    with open(os.path.join(SRC, src_rel), "rb") as f:
        data = f.read()
    if sha256_bytes(data) != expected:
        raise SystemExit("sha256 mismatch with MANIFEST.sha256: " + src_rel)
    return data


def read_src_json(src_rel):
    return json.loads(read_src(src_rel).decode("utf-8"))


def write_bytes(dst_rel, data, how):
    dst = os.path.join(HERE, dst_rel)
    os.makedirs(os.path.dirname(dst), exist_ok=True)
    with open(dst, "wb") as f:
        f.write(data)
    WRITTEN.append((dst_rel, how))


def copy(src_rel, dst_rel):
    write_bytes(dst_rel, read_src(src_rel), "copied")


def copy_repo_ply(name, dst_rel):
    rel, digest = PLY_SOURCES[name]
    with open(os.path.join(REPO, rel), "rb") as f:
        data = f.read()
    if sha256_bytes(data) != digest:
        raise SystemExit("sha256 mismatch: " + rel)
    write_bytes(dst_rel, data, "copied")
    return data


def fsdb_json(obj):
    """files.json and metadata JSON, as plantdb.commons.fsdb writes them."""
    return json.dumps(obj, sort_keys=True, indent=4, separators=(",", ": ")).encode("utf-8")


def io_json(obj):
    """A task output JSON, as plantdb.commons.io.write_json writes it."""
    return json.dumps(obj, indent=2).encode("utf-8")


def write_fsdb_json(dst_rel, obj, how="generated"):
    write_bytes(dst_rel, fsdb_json(obj), how)


def index(filesets):
    """A files.json structure from [(fileset_id, [(file_id, filename), ...]), ...]."""
    return {"filesets": [{"files": [{"file": fn, "id": fid} for fid, fn in files], "id": fsid}
                         for fsid, files in filesets]}


def trimmed_index(src_rel, keep):
    """The source files.json keeping, per fileset, only the ids in keep[fileset] (original order);
    filesets absent from keep are dropped; keep[fs] = None keeps them all."""
    idx = read_src_json(src_rel)
    out = []
    for fs in idx["filesets"]:
        if fs["id"] not in keep:
            continue
        wanted = keep[fs["id"]]
        if wanted is not None:
            listed = {e["id"] for e in fs["files"]}
            missing = set(wanted) - listed
            if missing:
                raise SystemExit("not listed in %s: %s" % (src_rel, sorted(missing)))
            fs["files"] = [e for e in fs["files"] if e["id"] in wanted]
        out.append(fs)
    idx["filesets"] = out
    return idx


def clean(v):
    """-0.0 -> 0.0 (keeps the JSON readable), everything else unchanged."""
    return v + 0.0


# ---------------------------------------------------------------------------------------------
# Geometry of the synthetic reconstruction

def read_ply_xyz(data):
    """(x, y, z) of every vertex of an Open3D binary PLY with double x y z first."""
    head_end = data.index(b"end_header\n") + len(b"end_header\n")
    header = data[:head_end].decode("ascii").splitlines()
    n = None
    props = []
    in_vertex = False
    for line in header:
        parts = line.split()
        if parts[:2] == ["element", "vertex"]:
            n = int(parts[2])
            in_vertex = True
        elif parts and parts[0] == "element":
            in_vertex = False
        elif parts and parts[0] == "property" and in_vertex:
            props.append(parts[1])
    if props[:3] != ["double", "double", "double"] or any(p != "double" for p in props):
        raise SystemExit("unexpected PLY vertex layout: %r" % props)
    stride = len(props)
    a = array.array("d")
    a.frombytes(data[head_end:head_end + n * stride * 8])
    if sys.byteorder != "little":
        a.byteswap()
    return [(a[i * stride], a[i * stride + 1], a[i * stride + 2]) for i in range(n)]


def camera_pose(approximate_pose):
    """COLMAP extrinsics (rotmat, tvec) of a camera at approximate_pose[:3] looking horizontally at
    the circle's centre (CENTER_X, CENTER_Y, same z). Camera frame as COLMAP's: x right, y down,
    z forward. f = unit vector from the camera to the centre, d = (0, 0, -1) (down),
    r = d x f = (f_y, -f_x, 0); R = [r; d; f]; t = -R C."""
    x, y, z = (float(v) for v in approximate_pose[:3])
    fx, fy = CENTER_X - x, CENTER_Y - y
    norm = math.hypot(fx, fy)
    fx, fy = fx / norm, fy / norm
    rot = [[fy, -fx, 0.0], [0.0, 0.0, -1.0], [fx, fy, 0.0]]
    c = (x, y, z)
    tvec = [-sum(rot[i][j] * c[j] for j in range(3)) for i in range(3)]
    return [[clean(v) for v in row] for row in rot], [clean(v) for v in tvec]


def rotmat_to_qvec(r):
    """COLMAP's (w, x, y, z) quaternion of a rotation matrix, w >= 0."""
    tr = r[0][0] + r[1][1] + r[2][2]
    if tr > 0:
        s = math.sqrt(tr + 1.0) * 2
        q = [0.25 * s, (r[2][1] - r[1][2]) / s, (r[0][2] - r[2][0]) / s, (r[1][0] - r[0][1]) / s]
    elif r[0][0] > r[1][1] and r[0][0] > r[2][2]:
        s = math.sqrt(1.0 + r[0][0] - r[1][1] - r[2][2]) * 2
        q = [(r[2][1] - r[1][2]) / s, 0.25 * s, (r[0][1] + r[1][0]) / s, (r[0][2] + r[2][0]) / s]
    elif r[1][1] > r[2][2]:
        s = math.sqrt(1.0 + r[1][1] - r[0][0] - r[2][2]) * 2
        q = [(r[0][2] - r[2][0]) / s, (r[0][1] + r[1][0]) / s, 0.25 * s, (r[1][2] + r[2][1]) / s]
    else:
        s = math.sqrt(1.0 + r[2][2] - r[0][0] - r[1][1]) * 2
        q = [(r[1][0] - r[0][1]) / s, (r[0][2] + r[2][0]) / s, (r[1][2] + r[2][1]) / s, 0.25 * s]
    if q[0] < 0:
        q = [-v for v in q]
    return [clean(v) for v in q]


def project(rot, tvec, p):
    """Pinhole projection with CAMERA_MODEL's fx, fy, cx, cy (distortion ignored)."""
    xc = [sum(rot[i][j] * p[j] for j in range(3)) + tvec[i] for i in range(3)]
    if xc[2] <= 0:
        return None
    fx, fy, cx, cy = CAMERA_MODEL["params"][:4]
    u, v = fx * xc[0] / xc[2] + cx, fy * xc[1] / xc[2] + cy
    if not (0 <= u < CAMERA_MODEL["width"] and 0 <= v < CAMERA_MODEL["height"]):
        return None
    return [round(u, 4), round(v, 4)]


def open3d_colored_ply(points, colors):
    """The bytes open3d.io.write_point_cloud writes for points + colours (no normals)."""
    header = ("ply\nformat binary_little_endian 1.0\ncomment Created by Open3D\n"
              "element vertex %d\nproperty double x\nproperty double y\nproperty double z\n"
              "property uchar red\nproperty uchar green\nproperty uchar blue\nend_header\n" % len(points))
    body = b"".join(struct.pack("<dddBBB", *p, *c) for p, c in zip(points, colors))
    return header.encode("ascii") + body


# ---------------------------------------------------------------------------------------------

def copy_scan(scan, keep, extra, ext):
    """A real scan: its files.json trimmed to `keep`, the `extra` files, and the images in
    keep["images"] (data + per-image metadata), all byte for byte."""
    src = P3DV + "/" + scan
    write_fsdb_json(scan + "/files.json", trimmed_index(src + "/files.json", keep), "trimmed")
    for rel in extra:
        copy(src + "/" + rel, scan + "/" + rel)
    for fid in keep["images"]:
        copy(src + "/images/" + fid + ext, scan + "/images/" + fid + ext)
        copy(src + "/metadata/images/" + fid + ".json", scan + "/metadata/images/" + fid + ".json")


def make_real_plant():
    copy_scan("real_plant", {"images": REAL_IMAGES}, ["scan.toml", "measures.json", "metadata/images.json"], ".jpg")


def make_virtual_plant():
    # VirtualPlant.obj (3.6 MB) is not copied and its entry is dropped; VirtualPlant_mtl is kept.
    # metadata/<LONG_FS>/VirtualPlant.json is the metadata of the dropped VirtualPlant.obj: not
    # copied either (it would be orphan metadata).
    copy_scan("virtual_plant", {"images": VIRTUAL_IMAGES, LONG_FS: ["VirtualPlant_mtl"]},
              ["scan.toml", "metadata/images.json", "metadata/" + LONG_FS + ".json", LONG_FS + "/VirtualPlant_mtl.mtl"],
              ".png")


def make_real_plant_analyzed():
    scan = "real_plant_analyzed"
    src = P3DV + "/real_plant"

    # ---- scan-level files: as the plant-imager Scan task and the pipeline leave them
    images_md = read_src_json(src + "/metadata/images.json")
    images_md["object"]["species"] = "Arabidopsis thaliana"
    images_md["object"]["plant_id"] = "Col-0_real_plant"
    images_md["acquisition_date"] = ACQUISITION_DATE
    write_fsdb_json(scan + "/metadata/images.json", images_md)
    # plant-imager writes the same metadata to the scan (metadata.json) and the 'images' fileset.
    scan_md = {"acquisition_date": ACQUISITION_DATE, "object": images_md["object"],
               "workspace": images_md["workspace"]}
    write_fsdb_json(scan + "/metadata/metadata.json", scan_md)
    copy(src + "/scan.toml", scan + "/scan.toml")
    copy(src + "/measures.json", scan + "/measures.json")

    # ---- images + Colmap extrinsics in their metadata
    poses = {}
    for fid in REAL_IMAGES:
        copy(src + "/images/" + fid + ".jpg", scan + "/images/" + fid + ".jpg")
        md = read_src_json(src + "/metadata/images/" + fid + ".json")
        rot, tvec = camera_pose(md["approximate_pose"])
        poses[fid] = (rot, tvec)
        md["colmap_camera"] = {"camera_model": CAMERA_MODEL, "rotmat": rot, "tvec": tvec}
        # plant-3d-vision's compute_estimated_pose: -R^T t (the camera centre).
        md["estimated_pose"] = [clean(-sum(rot[j][i] * tvec[j] for j in range(3))) for i in range(3)]
        md["pose_estimation"] = "correct"  # Colmap's distance_threshold check passed
        write_fsdb_json(scan + "/metadata/images/" + fid + ".json", md)

    # ---- PointCloud, TriangleMesh: the real romicgal outputs
    pcd = copy_repo_ply("PointCloud.ply", scan + "/" + FS_PCD + "/PointCloud.ply")
    copy_repo_ply("TriangleMesh.ply", scan + "/" + FS_MESH + "/TriangleMesh.ply")
    write_fsdb_json(scan + "/metadata/" + FS_PCD + "/PointCloud.json", {"voxel_size": 0.5})
    xyz = read_ply_xyz(pcd)
    xs, ys, zs = ([p[i] for p in xyz] for i in range(3))
    bbox = {"x": [min(xs), max(xs)], "y": [min(ys), max(ys)], "z": [min(zs), max(zs)]}

    # ---- Colmap: a tiny sparse model: 20 points of the point cloud, each seen by >= 2 cameras
    # (taken evenly, in file order, among the points that at least 2 of the 6 cameras see)
    visible = [p for p in xyz if sum(project(*poses[fid], p) is not None for fid in REAL_IMAGES) >= 2]
    sparse = [visible[i] for i in range(0, len(visible), len(visible) // 20)][:20]
    colors = [(40 + (7 * i) % 50, 90 + (13 * i) % 80, 30 + (5 * i) % 40) for i in range(len(sparse))]
    images_json = {}
    seen = {pid: ([], []) for pid in range(1, len(sparse) + 1)}
    for image_id, fid in enumerate(REAL_IMAGES, start=1):
        rot, tvec = poses[fid]
        xys, ids = [], []
        for pid, p in enumerate(sparse, start=1):
            uv = project(rot, tvec, p)
            if uv is None:
                continue
            seen[pid][0].append(image_id)
            seen[pid][1].append(len(xys))
            xys.append(uv)
            ids.append(pid)
        name = fid + ".jpg"
        images_json[name] = {"id": image_id, "qvec": rotmat_to_qvec(rot), "tvec": tvec, "rotmat": rot,
                             "camera_id": 1, "name": name, "xys": xys, "point3D_ids": ids}
    points_json = {}
    for pid, p in enumerate(sparse, start=1):
        points_json[str(pid)] = {"id": pid, "xyz": list(p), "rgb": list(colors[pid - 1]),
                                 "error": round(0.4 + 0.05 * (pid % 7), 2),
                                 "image_ids": seen[pid][0], "point2D_idxs": seen[pid][1]}
    col = scan + "/" + FS_COLMAP
    write_bytes(col + "/points3d.json", io_json(points_json), "generated")
    write_bytes(col + "/images.json", io_json(images_json), "generated")
    write_bytes(col + "/cameras.json", io_json({"1": CAMERA_MODEL}), "generated")
    write_bytes(col + "/sparse.ply", open3d_colored_ply(sparse, colors), "generated")

    # ---- CurveSkeleton: a stem up the middle of the point cloud's bounding box, 6 branches
    cx = round((bbox["x"][0] + bbox["x"][1]) / 2, 3)
    cy = round((bbox["y"][0] + bbox["y"][1]) / 2, 3)
    z0, z1 = bbox["z"][0], bbox["z"][1]
    n_stem = 12
    points = [[cx, cy, round(z0 + (z1 - z0) * k / (n_stem - 1), 3)] for k in range(n_stem)]
    lines = [[k, k + 1] for k in range(n_stem - 1)]
    branch_nodes = [3, 4, 6, 7, 9, 10]  # stem nodes where a branch starts
    golden = math.radians(137.5)
    azimuths = [(k * golden + 0.15 * math.sin(3 * k)) % (2 * math.pi) for k in range(len(branch_nodes))]
    fruit_points = []
    for k, node in enumerate(branch_nodes):
        base = points[node]
        dx, dy = math.cos(azimuths[k]), math.sin(azimuths[k])
        prev = node
        branch = []
        for step in (1, 2, 3):
            p = [round(base[0] + 9.0 * step * dx, 3), round(base[1] + 9.0 * step * dy, 3),
                 round(base[2] + 6.0 * step, 3)]
            points.append(p)
            lines.append([prev, len(points) - 1])
            prev = len(points) - 1
            branch.append(p)
        fruit_points.append(branch)
    write_bytes(scan + "/" + FS_SKEL + "/CurveSkeleton.json", io_json({"points": points, "lines": lines}),
                "generated")

    # ---- AnglesAndInternodes: consistent with the skeleton's branches (angles in radians)
    angles = [(azimuths[k] - azimuths[k - 1]) % (2 * math.pi) for k in range(1, len(azimuths))]
    internodes = [round(points[branch_nodes[k]][2] - points[branch_nodes[k - 1]][2], 3)
                  for k in range(1, len(branch_nodes))]
    measures = {"angles": angles, "internodes": internodes, "fruit_points": fruit_points}
    write_bytes(scan + "/" + FS_ANGLES + "/AnglesAndInternodes.json", io_json(measures), "generated")

    # ---- fileset metadata: task_name + task_params as romitask's RomiTask.output() writes them
    def task_md(name, params, **extra):
        md = {"task_name": name, "task_params": dict(params, scan_id=scan, output_file_id="out")}
        md.update(extra)
        return md

    ws = images_md["workspace"]
    write_fsdb_json(scan + "/metadata/" + FS_COLMAP + ".json", task_md("Colmap", {
        "upstream_task": "ImagesFilesetExists", "query": {}, "matcher": "exhaustive", "compute_dense": False,
        "align_pcd": True, "intrinsic_calibration_scan_id": "", "extrinsic_calibration_scan_id": "",
        "use_calibration_camera": True, "camera_model": "SIMPLE_RADIAL", "use_gpu": True,
        "single_camera": True, "alignment_max_error": 10, "bounding_box": None, "cli_args": {},
        "distance_threshold": 5.0, "max_blind_angle": 20.0}, bounding_box=ws))
    write_fsdb_json(scan + "/metadata/" + FS_PCD + ".json", task_md("PointCloud", {
        "upstream_task": "Voxels", "level_set_value": 1.0, "background_prior": 1.0, "min_contrast": 10.0,
        "min_score": 0.2}))
    write_fsdb_json(scan + "/metadata/" + FS_MESH + ".json", task_md("TriangleMesh", {
        "upstream_task": "PointCloud", "library": "open3d", "filtering": "most connected triangles",
        "depth": 9}))
    write_fsdb_json(scan + "/metadata/" + FS_SKEL + ".json", task_md("CurveSkeleton", {
        "upstream_task": "TriangleMesh"}))
    write_fsdb_json(scan + "/metadata/" + FS_ANGLES + ".json", task_md("AnglesAndInternodes", {
        "upstream_task": "TreeGraph", "characteristic_length": 1.0, "min_elongation_ratio": 2.0,
        "min_fruit_size": 6.0, "node_sampling_dist": 10.0, "organ_type": "fruit", "stem_axis": 2,
        "stem_axis_inverted": False}))

    # ---- files.json (fileset order: as the pipeline creates them)
    write_fsdb_json(scan + "/files.json", index([
        ("images", [(fid, fid + ".jpg") for fid in REAL_IMAGES]),
        (FS_COLMAP, [("points3d", "points3d.json"), ("images", "images.json"), ("cameras", "cameras.json"),
                     ("sparse", "sparse.ply")]),
        (FS_PCD, [("PointCloud", "PointCloud.ply")]),
        (FS_MESH, [("TriangleMesh", "TriangleMesh.ply")]),
        (FS_SKEL, [("CurveSkeleton", "CurveSkeleton.json")]),
        (FS_ANGLES, [("AnglesAndInternodes", "AnglesAndInternodes.json")]),
    ]))


def make_no_images():
    scan = "no_images"
    write_fsdb_json(scan + "/files.json", index([("notes", [("readme", "readme.txt")])]))
    write_bytes(scan + "/notes/readme.txt",
                b"A scan with no 'images' fileset: plantdb 0.15 answers 404 on /scan/no_images.\n", "generated")
    write_fsdb_json(scan + "/metadata/metadata.json",
                    {"object": {"environment": "none", "plant_id": "no_images", "species": "none"}})
    write_fsdb_json(scan + "/metadata/notes.json", {"description": "free-form notes"})


def make_broken_index():
    scan = "broken_index"
    full = fsdb_json(index([("images", [("00000_rgb", "00000_rgb.jpg")])]))
    write_bytes(scan + "/files.json", full[:len(full) // 2], "generated")  # cut mid-write: not valid JSON
    write_fsdb_json(scan + "/metadata/metadata.json", {"object": {"environment": "none", "plant_id": "broken_index"}})


def main():
    for name in sorted(os.listdir(HERE)):
        path = os.path.join(HERE, name)
        if name in ("make_server_db.py", "PROVENANCE.md"):
            continue
        if os.path.isdir(path):
            shutil.rmtree(path)
        else:
            os.unlink(path)
    copy(P3DV + "/romidb", "romidb")
    make_real_plant()
    make_virtual_plant()
    make_real_plant_analyzed()
    make_no_images()
    make_broken_index()

    total = 0
    for dst_rel, how in sorted(WRITTEN):
        path = os.path.join(HERE, dst_rel)
        size = os.path.getsize(path)
        total += size
        print("%s  %9d  %-9s  %s" % (sha256(path), size, how, dst_rel))
    print("total: %d files, %d bytes" % (len(WRITTEN), total))


if __name__ == "__main__":
    main()
