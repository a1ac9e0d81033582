#!/usr/bin/python3
"""Records what a running plantdb 0.15 REST server answers on a copy of test-fixtures/server-db.

A local tool, run by hand (never in CI, never by a test); see README.md in this folder for how
the server was started. Standard library only (urllib), plus Pillow when it is importable to
record decoded image sizes (Debian's python3-pil).

    /usr/bin/python3 test-fixtures/server-golden/record.py --base http://127.0.0.1:5099 \\
        --db /tmp/server-db-copy --broken /tmp/broken_index_held \\
        --out test-fixtures/server-golden/plantdb-0.15

--db is the database folder the server serves (a copy of test-fixtures/server-db WITHOUT
`broken_index`, on which plantdb cannot start); --broken is that scan's folder, which the
`broken` phase copies into --db while the server runs. The server must be fresh (just started on
a fresh copy): the phases change its state (webcache files, /refresh, rate-limit windows).

Writes into --out (deleted first):
- one `<name>.json` per request: {"name", "phase", "method", "url", "request_headers", "status",
  "headers": {...}, "json" | "text" | "bytes", ...}; images also get "image" (Pillow's
  width/height/mode/format), PLYs "ply" (header lines, vertex/face counts), zips "zip" (members);
- `index.json`: every request in the order sent, with its status;
- `webcache.json`: the files plantdb wrote under <scan>/webcache/, with sizes, sha256, the cache
  key each one is the sha1 of, and decoded image sizes / PLY headers;
- `webcache/<sha1>.ply`: the point cloud `preview` PLY (if < 200 KB).

The rate limits (per route and client, over 60 s) are respected by waiting; within a phase, a
request that would be refused waits at the end of the queue while others go first.
"""
import argparse
import hashlib
import io
import json
import os
import re
import shutil
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import zipfile

try:
    from PIL import Image as PILImage
except ImportError:  # pragma: no cover
    PILImage = None

LONG_FS = "VirtualPlant_arabidopsis_note___BRANCHON___fal___angles____inte_a7299a0b5f"
FS = {
    "Colmap": "Colmap_True_null_SIMPLE_RADIAL_ffcef49fdc",
    "PointCloud": "PointCloud_1_0_1_0_10_0_7ee836e5a9",
    "TriangleMesh": "TriangleMesh_9_most_connected_t_open3d_00e095c359",
    "CurveSkeleton": "CurveSkeleton__TriangleMesh_0393cb5708",
    "AnglesAndInternodes": "AnglesAndInternodes_1_0_2_0_6_0_6dd64fc595",
}
SCANS = ["real_plant", "virtual_plant", "real_plant_analyzed", "no_images"]
FILESETS = {
    "real_plant": ["images"],
    "virtual_plant": [LONG_FS, "images"],
    "real_plant_analyzed": ["images"] + list(FS.values()),
    "no_images": ["notes"],
}
PCD = "/real_plant_analyzed/%s/PointCloud" % FS["PointCloud"]
MESH = "/real_plant_analyzed/%s/TriangleMesh" % FS["TriangleMesh"]
LYON = urllib.parse.quote('{"object":{"environment":"Lyon.*"}}')
LYON_EXACT = urllib.parse.quote('{"object":{"environment":"Lyon indoor"}}')

# (max requests, per route) over 60 s, from the @rate_limit decorators of plantdb 0.15.
RATE = [
    (r"^/pointcloud/", 5), (r"^/pcGroundTruth/", 5), (r"^/mesh/", 5), (r"^/skeleton/", 5),
    (r"^/archive/", 5), (r"^/scans(\?|$)", 30), (r"^/refresh\?scan_id=", 60), (r"^/refresh$", 12),
    (r"^/sequence/", 60),
]
# JSON values summarised in the records (too big to keep; their sha256 is kept).
BIG_KEYS = ("image", "coordinates", "vertices", "triangles")
SECRET_URLS = ("/files/users.json",)  # password hashes: the body is not recorded


def R(url, method="GET", headers=None, name=None, conditional_on=None):
    return {"url": url, "method": method, "headers": headers or {}, "name": name, "conditional_on": conditional_on}


def main_requests():
    q = []
    q += [R("/"), R("/health"), R("/nonexistent-route"), R("/scans/real_plant")]
    q += [R("/scans", "OPTIONS", {"Origin": "http://example.org", "Access-Control-Request-Method": "GET",
                                   "Access-Control-Request-Headers": "Authorization"}, name="OPTIONS_scans_preflight")]
    q += [R("/scans"), R("/scans?filterQuery=%s&fuzzy=true" % LYON), R("/scans?filterQuery=%s" % LYON),
          R("/scans?filterQuery=%s&fuzzy=false" % LYON), R("/scans?filterQuery=%s" % LYON_EXACT),
          R("/scans?filterQuery=Lyon")]
    q += [R("/scans_info"), R("/scans_info?filterQuery=%s&fuzzy=true" % LYON), R("/scans_info?filterQuery=Lyon")]
    for s in SCANS + ["unknown"]:
        q += [R("/scan/%s" % s), R("/scan/%s/metadata" % s), R("/scan/%s/filesets" % s)]
    q += [R("/scan/bad%20id"), R("/scan/bad%20id/metadata"), R("/scan/real_plant/metadata?key=object"),
          R("/scan/real_plant/metadata?key=missing"), R("/scan/real_plant_analyzed/metadata?key=acquisition_date"),
          R("/scan/real_plant/filesets?query=x"), R("/scan/real_plant/filesets?query=%7B%7D")]
    for s, fss in FILESETS.items():
        for fs in fss:
            q += [R("/fileset/%s/%s/metadata" % (s, fs)), R("/fileset/%s/%s/files" % (s, fs))]
    q += [R("/fileset/real_plant/images/metadata?key=channels"), R("/fileset/real_plant/images/metadata?key=missing"),
          R("/fileset/real_plant/unknown/metadata"), R("/fileset/unknown/images/metadata"),
          R("/fileset/real_plant/unknown/files"), R("/fileset/real_plant/images/files?query=x"),
          R("/fileset/real_plant/images"), R("/fileset/bad%20id/images/files")]
    for path in ["real_plant/images/00000_rgb", "virtual_plant/images/00000_rgb", "virtual_plant/%s/VirtualPlant_mtl" % LONG_FS,
                 "real_plant_analyzed/%s/cameras" % FS["Colmap"], "real_plant_analyzed/%s/sparse" % FS["Colmap"],
                 "real_plant_analyzed/%s/CurveSkeleton" % FS["CurveSkeleton"], "no_images/notes/readme",
                 "real_plant/images/00000_rgb.jpg", "real_plant/images/unknown", "unknown/images/00000_rgb"]:
        q += [R("/file/%s" % path)]
    for path in ["real_plant/images/00000_rgb", "real_plant/images/00001_rgb", "real_plant_analyzed/images/00000_rgb",
                 "virtual_plant/images/00000_rgb", "real_plant_analyzed/%s/PointCloud" % FS["PointCloud"],
                 "real_plant_analyzed/%s/cameras" % FS["Colmap"], "real_plant/images/unknown"]:
        q += [R("/file/%s/metadata" % path)]
    q += [R("/file/real_plant/images/00001_rgb/metadata?key=channel"), R("/file/real_plant/images/00001_rgb/metadata?key=missing")]
    for path in ["real_plant/files.json", "real_plant/images/00000_rgb.jpg", "real_plant/metadata/images.json",
                 "real_plant/metadata/metadata.json", "real_plant_analyzed/metadata/metadata.json", "real_plant/scan.toml",
                 "real_plant/measures.json", "virtual_plant/images/00000_rgb.png",
                 "virtual_plant/%s/VirtualPlant_mtl.mtl" % LONG_FS, "real_plant_analyzed/%s/PointCloud.ply" % FS["PointCloud"],
                 "real_plant_analyzed/%s/CurveSkeleton.json" % FS["CurveSkeleton"], "no_images/notes/readme.txt",
                 "real_plant/images/unknown.jpg", "unknown/files.json", "users.json"]:
        q += [R("/files/%s" % path)]
    img = "/files/real_plant/images/00000_rgb.jpg"
    q += [R(img, "HEAD", name="HEAD_files_real_plant_images_00000_rgb.jpg"),
          R(img, headers={"Range": "bytes=0-99"}, name="GET_files_real_plant_images_00000_rgb.jpg_range_0-99"),
          R(img, headers={"Range": "bytes=70000-"}, name="GET_files_real_plant_images_00000_rgb.jpg_range_70000-"),
          R(img, headers={"Range": "bytes=999999-"}, name="GET_files_real_plant_images_00000_rgb.jpg_range_unsatisfiable"),
          R(img, conditional_on="GET_files_real_plant_images_00000_rgb.jpg", name="GET_files_real_plant_images_00000_rgb.jpg_if_none_match"),
          R(img, headers={"If-None-Match": '"not-the-etag"'}, name="GET_files_real_plant_images_00000_rgb.jpg_if_none_match_other")]
    base = "/image/real_plant/images/00000_rgb"
    q += [R(base)] + [R(base + "?size=" + s) for s in ("thumb", "large", "orig", "300", "bogus", "0", "-5")]
    q += [R(base + "?as_base64=true"), R(base + "?size=orig&as_base64=true"), R(base + "?size=thumb&as_base64=false")]
    q += [R("/image/virtual_plant/images/00000_rgb?size=thumb"), R("/image/virtual_plant/images/00000_rgb?size=orig"),
          R("/image/virtual_plant/images/00000_leaf?size=thumb"), R("/image/virtual_plant/images/00000_leaf?size=orig"),
          R("/image/real_plant_analyzed/images/00000_rgb?size=thumb"), R("/image/real_plant/images/00000_rgb.jpg?size=orig"),
          R("/image/real_plant/images/unknown"), R("/image/unknown/images/00000_rgb"),
          R("/image/real_plant_analyzed/%s/CurveSkeleton?size=orig" % FS["CurveSkeleton"])]
    for kind in ("pointcloud", "pcGroundTruth"):
        q += [R("/%s%s" % (kind, PCD))] + [R("/%s%s?size=%s" % (kind, PCD, s)) for s in ("preview", "orig", "5.0", "bogus")]
        q += [R("/%s%s?coords=true" % (kind, PCD))]
    q += [R("/pointcloud/real_plant_analyzed/%s/sparse?size=orig" % FS["Colmap"]),
          R("/pointcloud/real_plant_analyzed/unknown/PointCloud"), R("/pointcloud/unknown/%s/PointCloud" % FS["PointCloud"])]
    q += [R("/mesh" + MESH), R("/mesh" + MESH + "?coords=true"), R("/mesh" + MESH + "?size=preview"),
          R("/mesh/real_plant_analyzed/unknown/TriangleMesh")]
    q += [R("/skeleton/%s" % s) for s in SCANS + ["unknown", "bad%20id"]]
    q += [R("/sequence/real_plant_analyzed")]
    q += [R("/sequence/real_plant_analyzed?type=%s" % t)
          for t in ("all", "angles", "internodes", "fruit_points", "manual_angles", "manual_internodes", "bogus")]
    q += [R("/sequence/%s" % s) for s in ("real_plant", "virtual_plant", "no_images", "unknown")]
    q += [R("/archive/%s" % s) for s in ("real_plant", "virtual_plant", "no_images", "unknown")]
    return q


def phases():
    return [
        ("main", main_requests()),
        ("refresh", [R("/refresh?scan_id=real_plant"), R("/refresh"), R("/scans"),
                     R("/refresh?scan_id=unknown"), R("/scans"), R("/scan/unknown"), R("/scans_info?filterQuery=%s&fuzzy=true" % LYON),
                     R("/refresh"), R("/scans"), R("/refresh?scan_id=bad%20id")]),
        ("broken", [R("/refresh?scan_id=broken_index"), R("/scans"), R("/scan/broken_index"),
                    R("/scan/broken_index/metadata"), R("/scan/broken_index/filesets"), R("/refresh"), R("/scans"),
                    R("/health"), R("/scan/real_plant")]),
        ("ratelimit", [R("/skeleton/real_plant_analyzed", name="GET_skeleton_real_plant_analyzed_%d" % i) for i in range(1, 7)]),
    ]


def slug(method, url):
    s = re.sub(r"[^A-Za-z0-9._=,-]+", "_", urllib.parse.unquote(url).lstrip("/")).strip("_")
    s = "%s_%s" % (method, s or "root")
    if len(s) > 140:
        s = s[:120] + "_" + hashlib.sha1(s.encode()).hexdigest()[:10]
    return s


def summarise(value):
    text = value if isinstance(value, str) else json.dumps(value)
    out = {"_summary": True, "sha256": hashlib.sha256(text.encode()).hexdigest()}
    if isinstance(value, list):
        out.update(length=len(value), first=value[:3])
    else:
        out.update(length=len(value))
    return out


def ply_info(data):
    end = data.find(b"end_header\n")
    if not data.startswith(b"ply\n") or end < 0:
        return None
    header = data[:end + len(b"end_header\n")].decode("ascii", "replace")
    info = {"header": header.splitlines()}
    for line in info["header"]:
        parts = line.split()
        if parts[:1] == ["element"]:
            info["%s_count" % parts[1]] = int(parts[2])
    return info


def image_info(data):
    if PILImage is None:
        return None
    try:
        im = PILImage.open(io.BytesIO(data))
        return {"width": im.width, "height": im.height, "mode": im.mode, "format": im.format}
    except Exception:  # not an image
        return None


def zip_info(data):
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        return None
    return {"members": [{"name": i.filename, "size": i.file_size} for i in zf.infolist()]}


HEADER_NAMES = ["content-type", "content-length", "content-disposition", "etag", "last-modified", "cache-control",
                "accept-ranges", "content-range", "x-content-encoding", "access-control-allow-origin",
                "access-control-allow-methods", "access-control-allow-headers", "allow"]


def send(base, req, etags):
    headers = dict(req["headers"])
    if req["conditional_on"]:
        headers["If-None-Match"] = etags[req["conditional_on"]]
    r = urllib.request.Request(base + req["url"], method=req["method"], headers=headers)
    try:
        with urllib.request.urlopen(r, timeout=120) as resp:
            status, hdrs, body = resp.status, resp.headers, resp.read()
    except urllib.error.HTTPError as err:
        status, hdrs, body = err.code, err.headers, err.read()
    rec = {"method": req["method"], "url": req["url"], "request_headers": headers, "status": status}
    rec["headers"] = {h: hdrs.get(h) for h in HEADER_NAMES if hdrs.get(h) is not None}
    rec["headers"]["etag_present"] = hdrs.get("etag") is not None
    ctype = hdrs.get("content-type") or ""
    rec["body_length"] = len(body)
    rec["body_sha256"] = hashlib.sha256(body).hexdigest()
    if req["url"] in SECRET_URLS:
        rec["body_omitted"] = "password hashes"
        return rec, hdrs
    if ctype.startswith("application/json") and body:
        try:
            parsed = json.loads(body)
        except ValueError:
            rec["text"] = body.decode("utf-8", "replace")
        else:
            if isinstance(parsed, dict):
                for key in BIG_KEYS:
                    if key in parsed and len(json.dumps(parsed[key])) > 2000:
                        if key == "image" and isinstance(parsed[key], str):
                            import base64
                            decoded = base64.b64decode(parsed[key])
                            rec["image"] = image_info(decoded)
                            rec["image_bytes"] = {"length": len(decoded), "sha256": hashlib.sha256(decoded).hexdigest()}
                        parsed[key] = summarise(parsed[key])
            rec["json"] = parsed
    elif ctype.startswith("text/") or not body:
        rec["text"] = body.decode("utf-8", "replace")
    else:
        rec["bytes"] = {"length": len(body), "sha256": rec["body_sha256"]}
        for key, fn in (("image", image_info), ("ply", ply_info), ("zip", zip_info)):
            info = fn(body)
            if info is not None:
                rec[key] = info
                break
        if "ply" not in rec and "image" not in rec and "zip" not in rec and len(body) < 4000:
            try:
                rec["text"] = body.decode("utf-8")
            except UnicodeDecodeError:
                pass
    return rec, hdrs


def route_limit(url):
    path = url.split("#")[0]
    for pattern, limit in RATE:
        if re.search(pattern, path):
            return pattern, limit
    return None, None


def run_phase(base, phase, reqs, out, index, etags, names, pace=True):
    pending = list(reqs)
    while pending:
        now = time.time()
        chosen = None
        wait_until = None
        for req in pending:
            if req["conditional_on"] and req["conditional_on"] not in etags:
                continue
            pattern, limit = route_limit(req["url"])
            if not pace or pattern is None:
                chosen = req
                break
            recent = [t for t in SENT.get(pattern, []) if now - t < 60.5]
            SENT[pattern] = recent
            if len(recent) < limit:
                chosen = req
                break
            ready = recent[0] + 61.0
            wait_until = ready if wait_until is None else min(wait_until, ready)
        if chosen is None:
            time.sleep(max(0.1, wait_until - time.time()))
            continue
        pending.remove(chosen)
        pattern, _ = route_limit(chosen["url"])
        if pattern is not None:
            SENT.setdefault(pattern, []).append(time.time())
        rec, hdrs = send(base, chosen, etags)
        name = chosen["name"] or slug(chosen["method"], chosen["url"])
        if phase != "main":
            name = "%s__%s" % (phase, name)
        base_name, n = name, 2
        while name in names:
            name = "%s__%d" % (base_name, n)
            n += 1
        names.add(name)
        if hdrs.get("etag"):
            etags[chosen["name"] or slug(chosen["method"], chosen["url"])] = hdrs.get("etag")
        rec = dict({"name": name, "phase": phase}, **rec)
        with open(os.path.join(out, name + ".json"), "w") as f:
            json.dump(rec, f, indent=2, ensure_ascii=False)
            f.write("\n")
        index.append({"name": name, "phase": phase, "method": rec["method"], "url": rec["url"], "status": rec["status"]})
        print("%3d %-7s %s" % (rec["status"], rec["method"], rec["url"]), file=sys.stderr)


SENT = {}


def webcache_report(db, out, index):
    """The files plantdb wrote under <scan>/webcache/, with the cache key each is the sha1 of."""
    keys = {}
    for entry in index:
        m = re.match(r"^/(image|pointcloud|pcGroundTruth|mesh)/([^/?]+)/([^/?]+)/([^/?]+)(?:\?(.*))?$", entry["url"])
        if not m:
            continue
        kind, scan, fs, fid, query = m.groups()
        params = dict(urllib.parse.parse_qsl(query or ""))
        size = params.get("size", "thumb" if kind == "image" else "preview" if kind != "mesh" else "orig")
        rtype = {"pcGroundTruth": "pointcloud"}.get(kind, kind)
        for s in {size, str(float(size)) if re.match(r"^-?[0-9.]+$", size) else size,
                  str(int(float(size))) if re.match(r"^-?[0-9]+(\.0)?$", size) else size}:
            key = "%s|%s|%s|%s|%s" % (rtype, scan, fs, fid, s)
            keys[hashlib.sha1(key.encode()).hexdigest()] = key
    files = []
    for scan in sorted(os.listdir(db)):
        wc = os.path.join(db, scan, "webcache")
        if not os.path.isdir(wc):
            continue
        for name in sorted(os.listdir(wc)):
            path = os.path.join(wc, name)
            with open(path, "rb") as f:
                data = f.read()
            rec = {"scan": scan, "name": name, "size": len(data), "sha256": hashlib.sha256(data).hexdigest(),
                   "key": keys.get(name.split(".")[0])}
            info = ply_info(data)
            if info is not None:
                rec["ply"] = info
                if len(data) < 200 * 1024:
                    os.makedirs(os.path.join(out, "webcache"), exist_ok=True)
                    shutil.copyfile(path, os.path.join(out, "webcache", name))
                    rec["committed"] = "webcache/" + name
            else:
                rec["image"] = image_info(data)
            files.append(rec)
    with open(os.path.join(out, "webcache.json"), "w") as f:
        json.dump({"files": files, "db_root_entries_after": sorted(os.listdir(db))}, f, indent=2)
        f.write("\n")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--base", default="http://127.0.0.1:5099")
    ap.add_argument("--db", required=True)
    ap.add_argument("--broken", required=True)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    shutil.rmtree(args.out, ignore_errors=True)
    os.makedirs(args.out)
    index, etags, names = [], {}, set()
    for phase, reqs in phases():
        if phase == "broken":
            shutil.copytree(args.broken, os.path.join(args.db, "broken_index"))
        if phase == "ratelimit":
            time.sleep(61)  # an empty window for /skeleton, then 6 at once: the 6th is refused
        run_phase(args.base, phase, reqs, args.out, index, etags, names, pace=(phase != "ratelimit"))
    with open(os.path.join(args.out, "index.json"), "w") as f:
        json.dump(index, f, indent=1)
        f.write("\n")
    webcache_report(args.db, args.out, index)


if __name__ == "__main__":
    main()
