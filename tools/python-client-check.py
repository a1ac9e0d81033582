#!/usr/bin/env python3
"""The `romidb serve` REST API as plantdb's Python client and notebooks use it.

Copies test-fixtures/server-db to a temporary folder, starts the built CLI on it
(`node packages/cli/dist/bin.js serve --db <copy> --port 0 --json --no-rate-limit`; run
`pnpm exec tsc -b` first), and makes with `requests` (what plantdb.client uses) the requests of
plantdb.client (rest_api.py, plantdb_client.py, api_endpoints.py at romi/plantdb ab29155, read for
the request shapes, none of their code copied): the scan list and infos, metadata, filesets and
files, images (original, base64, thumbnails), a point-cloud preview, a byte range, an ETag
revalidation, the archive. Pillow decodes the images when it is importable (Debian's
python3-pil); without it the sizes are read from the JPEG header.

    /usr/bin/python3 tools/python-client-check.py [--keep]

Prints `ok <case>` or `FAIL <case>: <why>` per case, then `python client: N passed, N failed`;
exits 1 when a case failed. The server is always stopped (SIGTERM, then SIGKILL), and the
temporary copy removed unless --keep.
"""

import base64
import hashlib
import io
import json
import os
import shutil
import socket
import sys
import tempfile
import zipfile
from urllib.parse import urlencode, urlsplit

import requests

from romidb_check import FIXTURE, CheckError, Report, Server, expect, expect_eq, run_cases, short

try:
    from PIL import Image
except ImportError:  # the checks fall back to the JPEG header
    Image = None

SCANS = ['broken_index', 'no_images', 'real_plant', 'real_plant_analyzed', 'virtual_plant']
TIMEOUT = 60  # seconds per request: previews are computed on first request, on a shared machine


# ---------------------------------------------------------------------------------------------
# The server process

def serve_args(db, port):
    return ['serve', '--db', db, '--port', str(port), '--json', '--no-rate-limit']


def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


# ---------------------------------------------------------------------------------------------
# Small decoders (no numpy, plyfile or open3d needed)

def jpeg_size(data):
    """(width, height) from a JPEG's SOF marker."""
    expect(data[:2] == b'\xff\xd8', f'not a JPEG (starts with {data[:4]!r})')
    i = 2
    while i + 4 <= len(data):
        if data[i] != 0xFF:
            raise CheckError(f'bad JPEG marker at byte {i}')
        marker = data[i + 1]
        if marker == 0xFF:
            i += 1
            continue
        length = int.from_bytes(data[i + 2:i + 4], 'big')
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            height = int.from_bytes(data[i + 5:i + 7], 'big')
            width = int.from_bytes(data[i + 7:i + 9], 'big')
            return width, height
        i += 2 + length
    raise CheckError('no SOF marker in the JPEG')


def image_info(data):
    """(format, (width, height), mode) with Pillow, else from the JPEG header (mode None)."""
    if Image is not None:
        img = Image.open(io.BytesIO(data))
        img.load()  # decodes every pixel: a truncated image fails here
        return img.format, img.size, img.mode
    return 'JPEG', jpeg_size(data), None


PLY_SIZES = {'char': 1, 'uchar': 1, 'int8': 1, 'uint8': 1, 'short': 2, 'ushort': 2, 'int16': 2, 'uint16': 2,
             'int': 4, 'uint': 4, 'int32': 4, 'uint32': 4, 'float': 4, 'float32': 4, 'double': 8, 'float64': 8}


def ply_header(data):
    """{'format', 'elements': [(name, count, [(type, prop)])], 'header_bytes'} of a PLY."""
    end = data.find(b'end_header\n')
    expect(data[:4] == b'ply\n' and end > 0, f'not a PLY (starts with {data[:16]!r})')
    header = {'format': None, 'elements': [], 'header_bytes': end + len(b'end_header\n')}
    for line in data[:end].decode('ascii').splitlines()[1:]:
        words = line.split()
        if not words:
            continue
        if words[0] == 'format':
            header['format'] = words[1]
        elif words[0] == 'element':
            header['elements'].append((words[1], int(words[2]), []))
        elif words[0] == 'property':
            header['elements'][-1][2].append((words[1], words[-1]))
    return header


def ply_vertices(data):
    """The vertex count of a PLY, after checking that a binary body holds exactly what its header says."""
    header = ply_header(data)
    counts = {name: count for name, count, _ in header['elements']}
    expect('vertex' in counts, 'no vertex element')
    props = [p for _, _, props in header['elements'] for p in props]
    if header['format'].startswith('binary') and all(t != 'list' for t, _ in props):
        body = sum(count * sum(PLY_SIZES[t] for t, _ in props_) for _, count, props_ in header['elements'])
        expect_eq(len(data) - header['header_bytes'], body, 'PLY body bytes (header says so)')
    return counts['vertex']


# ---------------------------------------------------------------------------------------------
# The cases

CASES = []


def case(name):
    def register(fn):
        CASES.append((name, fn))
        return fn
    return register


class Ctx:
    def __init__(self, server, db):
        self.server = server
        self.db = db
        self.url = server.url
        # plantdb's PlantDBClient keeps one requests.Session; rest_api.py calls requests.get.
        self.session = requests.Session()
        self.state = {}

    def get(self, path, params=None, ok=True, **kwargs):
        res = self.session.get(self.url + path, params=params, timeout=TIMEOUT, **kwargs)
        if ok and res.status_code != 200:
            raise CheckError(f'GET {path} {params or ""}: {res.status_code} {res.text[:300]}')
        return res

    def json(self, path, params=None):
        res = self.get(path, params)
        expect(res.headers.get('Content-Type', '').startswith('application/json'), f'GET {path}: Content-Type {res.headers.get("Content-Type")}')
        return res.json()

    def disk(self, *parts):
        with open(os.path.join(self.db, *parts), 'rb') as f:
            return f.read()


@case('health')
def _(c):
    body = c.json('/health')
    expect_eq(body.get('status'), 'healthy', '/health status')
    expect_eq(body.get('database', {}).get('scan_count'), len(SCANS), '/health database.scan_count')
    expect('PlantDB' in c.json('/').get('name', ''), '/ name does not name PlantDB (plantdb tests check it)')


@case('scans')
def _(c):
    # request_scan_names_list / PlantDBClient.list_scans
    scans = c.json('/scans')
    expect(isinstance(scans, list) and all(isinstance(s, str) for s in scans), f'/scans is not a list of ids: {short(scans)}')
    expect_eq(sorted(scans), SCANS, '/scans')


@case('scans-filter-query')
def _(c):
    # PlantDBClient.list_scans_info(query=dict, fuzzy=True): filterQuery=json.dumps(query), fuzzy=True ("True")
    params = {'filterQuery': json.dumps({'object': {'environment': 'Lyon.*'}}), 'fuzzy': True}
    expect_eq(sorted(c.json('/scans', params)), ['real_plant', 'real_plant_analyzed'], '/scans?filterQuery=...&fuzzy=True')
    infos = c.json('/scans_info', params)
    expect_eq(sorted(i['id'] for i in infos), ['real_plant', 'real_plant_analyzed'], '/scans_info?filterQuery=...&fuzzy=True')
    params['fuzzy'] = False  # the client leaves fuzzy out when false; exact match then finds nothing
    expect_eq(c.json('/scans', {'filterQuery': params['filterQuery']}), [], '/scans?filterQuery=... (not fuzzy)')


@case('scans-info')
def _(c):
    # parse_scans_info: the list keyed by id
    infos = {i.pop('id'): i for i in c.json('/scans_info')}
    expect_eq(sorted(infos), SCANS, '/scans_info ids')
    expect_eq(infos['broken_index'].get('error'), True, 'broken_index error')
    for sid in SCANS:
        if sid != 'broken_index':
            expect_eq(infos[sid].get('error'), False, f'{sid} error')
    expect_eq(infos['real_plant']['metadata']['nbPhotos'], 6, 'real_plant metadata.nbPhotos')
    expect_eq(infos['virtual_plant']['isVirtual'], True, 'virtual_plant isVirtual')
    for key in ('metadata', 'thumbnailUri', 'images', 'tasks_fileset', 'filesUri', 'hasPointCloud', 'hasManualMeasures', 'workspace'):
        expect(key in infos['real_plant_analyzed'], f'scanInfo has no {key!r}')


@case('scan-info')
def _(c):
    # request_scan_data('real_plant') / GET /scan/<id>
    info = c.json('/scan/real_plant')
    expect_eq(info['id'], 'real_plant', 'id')
    expect_eq(info['images'], [f'0000{i}_rgb.jpg' for i in range(6)], 'images')
    expect_eq(info['thumbnailUri'], '/image/real_plant/images/00000_rgb?size=thumb', 'thumbnailUri')
    expect_eq(info['tasks_fileset'], {'images': 'images'}, 'tasks_fileset')
    expect_eq(info['metadata']['environment'], 'Lyon indoor', 'metadata.environment')
    expect_eq(info['metadata']['files']['archive'], '/archive/real_plant', 'metadata.files.archive')
    expect_eq((info['hasManualMeasures'], info['hasColmap'], info['isVirtual'], info['filesUri']), (True, False, False, {}), '(hasManualMeasures, hasColmap, isVirtual, filesUri)')
    expect_eq(info['workspace'], {'x': [340, 440], 'y': [330, 410], 'z': [-180, 105]}, 'workspace')
    c.state['thumbnailUri'] = info['thumbnailUri']


@case('scan-info-analyzed')
def _(c):
    # request_scan_tasks_fileset and the viewer's fields
    info = c.json('/scan/real_plant_analyzed')
    tasks = info['tasks_fileset']
    for task in ('images', 'Colmap', 'PointCloud', 'TriangleMesh', 'CurveSkeleton', 'AnglesAndInternodes'):
        expect(task in tasks, f'tasks_fileset has no {task}: {short(tasks)}')
    expect_eq([info[k] for k in ('hasColmap', 'hasPointCloud', 'hasTriangleMesh', 'hasCurveSkeleton', 'hasAnglesAndInternodes')], [True] * 5, 'has* of the tasks')
    expect_eq(info['filesUri'].get('pointCloud'), f'/files/real_plant_analyzed/{tasks["PointCloud"]}/PointCloud.ply', 'filesUri.pointCloud')
    poses = info['camera']['poses']
    expect_eq(len(poses), 6, 'camera.poses count')
    expect(all(len(p['tvec']) == 3 and len(p['rotmat']) == 3 for p in poses), 'poses without tvec/rotmat')
    expect(len(info['camera']['model']['params']) >= 4, 'camera.model.params')
    c.state['PointCloud'] = tasks['PointCloud']
    c.state['skeletonUri'] = info['filesUri'].get('skeleton')


@case('scan-errors')
def _(c):
    # request_scan_data prints response.json()['message'] on a 404
    res = c.get('/scan/no_such_scan', ok=False)
    expect_eq(res.status_code, 404, 'unknown scan status')
    expect(isinstance(res.json().get('message'), str), f'404 body has no message: {res.text[:200]}')
    res = c.get('/scan/bad$name', ok=False)
    expect_eq(res.status_code, 400, 'invalid name status')
    expect(res.json().get('message', '').startswith('Invalid name'), f'400 message: {res.text[:200]}')


@case('scan-metadata')
def _(c):
    # PlantDBClient.get_scan_metadata(scan_id) and (scan_id, key=...)
    md = c.json('/scan/real_plant/metadata')['metadata']
    expect_eq(md.get('object', {}).get('environment'), 'Lyon indoor', 'metadata.object.environment')
    expect_eq(c.json('/scan/real_plant/metadata', {'key': 'object'})['metadata'], md['object'], '?key=object')
    expect_eq(c.json('/scan/real_plant/metadata', {'key': 'no_such_key'})['metadata'], {}, '?key=<missing> (plantdb answers {})')
    analyzed = c.json('/scan/real_plant_analyzed/metadata', {'key': 'acquisition_date'})['metadata']
    expect_eq(analyzed, '2023-12-15 16:37:15', 'real_plant_analyzed ?key=acquisition_date')


@case('filesets')
def _(c):
    # PlantDBClient.list_scan_filesets, get_fileset_metadata
    fs = c.json('/scan/real_plant_analyzed/filesets')['filesets']
    expect_eq(sorted(fs), sorted(['images', c.state.get('PointCloud', 'PointCloud_1_0_1_0_10_0_7ee836e5a9'), 'Colmap_True_null_SIMPLE_RADIAL_ffcef49fdc',
                                  'TriangleMesh_9_most_connected_t_open3d_00e095c359', 'CurveSkeleton__TriangleMesh_0393cb5708',
                                  'AnglesAndInternodes_1_0_2_0_6_0_6dd64fc595']), 'real_plant_analyzed filesets')
    expect_eq(c.json('/scan/real_plant/filesets')['filesets'], ['images'], 'real_plant filesets')
    expect_eq(c.json('/fileset/real_plant/images/metadata', {'key': 'channels'})['metadata'], ['rgb'], 'images ?key=channels')
    expect('workspace' in c.json('/fileset/real_plant/images/metadata')['metadata'], 'images metadata has no workspace')


@case('files')
def _(c):
    # PlantDBClient.list_fileset_files, get_file_metadata
    expect_eq(c.json('/fileset/real_plant/images/files')['files'], [f'0000{i}_rgb' for i in range(6)], 'images files')
    md = c.json('/file/real_plant/images/00001_rgb/metadata')['metadata']
    expect_eq((md.get('channel'), md.get('shot_id')), ('rgb', '000001'), '00001_rgb (channel, shot_id)')
    expect_eq(md.get('approximate_pose', [None] * 4)[3], 276.0, 'approximate_pose[3]')
    expect_eq(c.json('/file/real_plant/images/00001_rgb/metadata', {'key': 'channel'})['metadata'], 'rgb', '?key=channel')
    query = {'query': json.dumps({'channel': 'rgb'})}
    expect_eq(len(c.json('/fileset/real_plant/images/files', query)['files']), 6, 'files ?query={"channel": "rgb"}')


@case('file-download')
def _(c):
    # /file/<scan>/<fs>/<id>, /files/<path> (scan_file_url, scan_config_url; the viewer's carousel)
    jpg = c.disk('real_plant', 'images', '00000_rgb.jpg')
    res = c.get('/file/real_plant/images/00000_rgb')
    expect(res.content == jpg, f'/file bytes differ from the stored file ({len(res.content)} vs {len(jpg)} bytes)')
    res = c.get('/files/real_plant/images/00000_rgb.jpg')
    expect(res.content == jpg, '/files bytes differ from the stored file')
    expect_eq(res.headers.get('Content-Type'), 'image/jpeg', '/files Content-Type')
    expect_eq(c.get('/files/real_plant/scan.toml').content, c.disk('real_plant', 'scan.toml'), 'scan.toml')
    index = json.loads(c.get('/files/real_plant/files.json').content)
    expect_eq(len(index['filesets'][0]['files']), 6, 'files.json entries')
    expect_eq(c.get('/files/real_plant/../romidb', ok=False).status_code, 404, '/files/<scan>/../romidb status')


@case('image-orig')
def _(c):
    # request_scan_image(size='orig', as_base64=False): ?size=orig&as_base64=false
    jpg = c.disk('real_plant', 'images', '00000_rgb.jpg')
    res = c.get('/image/real_plant/images/00000_rgb', {'size': 'orig', 'as_base64': 'false'})
    expect(res.content == jpg, f'size=orig bytes differ from the stored file ({len(res.content)} vs {len(jpg)} bytes)')
    expect_eq(res.headers.get('Content-Type'), 'image/jpeg', 'Content-Type')
    expect_eq(res.headers.get('X-Content-Encoding'), 'binary', 'X-Content-Encoding')
    fmt, size, _ = image_info(res.content)
    expect_eq((fmt, size), ('JPEG', (1440, 1080)), '(format, size)')


@case('image-base64')
def _(c):
    # request_scan_image(as_base64=True) / list_task_images_uri's default
    res = c.get('/image/real_plant/images/00001_rgb', {'size': 'orig', 'as_base64': 'true'})
    body = res.json()
    expect_eq(body.get('content-type'), 'image/jpeg', 'content-type')
    expect_eq(res.headers.get('X-Content-Encoding'), 'base64', 'X-Content-Encoding')
    expect(base64.b64decode(body['image']) == c.disk('real_plant', 'images', '00001_rgb.jpg'), 'decoded image differs from the stored file')


@case('thumbnail')
def _(c):
    # scan_preview_image_url: the scanInfo thumbnailUri (size=thumb), opened with PIL
    res = c.get(c.state.get('thumbnailUri', '/image/real_plant/images/00000_rgb?size=thumb'))
    expect_eq(res.headers.get('Content-Type'), 'image/jpeg', 'Content-Type')
    fmt, size, mode = image_info(res.content)
    expect_eq(fmt, 'JPEG', 'format')
    expect_eq(max(size), 150, f'longest side of {size}')
    expect_eq(size, (150, 113), 'size (1440x1080 scaled as PIL thumbnail)')
    expect(mode in (None, 'RGB'), f'mode {mode}')
    c.state['thumb'] = res.content
    # The default size is thumb; size=300 is another cached size.
    expect_eq(c.get('/image/real_plant/images/00000_rgb').content, res.content, 'no size (default thumb)')
    expect_eq(image_info(c.get('/image/real_plant/images/00000_rgb', {'size': 300}).content)[1], (300, 225), 'size=300')


@case('thumbnail-png-rgba')
def _(c):
    # virtual_plant's images are RGBA PNGs: the thumbnail is an RGB JPEG, as plantdb's
    res = c.get('/image/virtual_plant/images/00000_rgb', {'size': 'thumb', 'as_base64': 'false'})
    expect_eq(res.headers.get('Content-Type'), 'image/jpeg', 'Content-Type')
    fmt, size, mode = image_info(res.content)
    expect_eq((fmt, size), ('JPEG', (150, 150)), '(format, size) of the 896x896 PNG thumbnail')
    expect(mode in (None, 'RGB'), f'mode {mode}')
    orig = c.get('/image/virtual_plant/images/00000_rgb', {'size': 'orig'})
    expect_eq(orig.headers.get('Content-Type'), 'image/png', 'size=orig Content-Type')
    expect(orig.content == c.disk('virtual_plant', 'images', '00000_rgb.png'), 'size=orig bytes differ from the stored PNG')


@case('webcache-shared-with-plantdb')
def _(c):
    # plantdb's webcache name: sha1("image|<scan>|<fileset>|<file>|<size>").jpeg under <scan>/webcache/
    name = hashlib.sha1(b'image|real_plant|images|00000_rgb|thumb').hexdigest() + '.jpeg'
    path = os.path.join(c.db, 'real_plant', 'webcache', name)
    expect(os.path.isfile(path), f'no {os.path.relpath(path, c.db)} after the thumbnail request')
    if 'thumb' in c.state:
        expect(c.disk('real_plant', 'webcache', name) == c.state['thumb'], 'the cached file differs from the thumbnail served')


@case('pointcloud-preview')
def _(c):
    # /pointcloud/<scan>/<PointCloud fileset>/PointCloud?size=preview (parse_requests_pcd reads it with plyfile)
    fs = c.state.get('PointCloud', 'PointCloud_1_0_1_0_10_0_7ee836e5a9')
    path = f'/pointcloud/real_plant_analyzed/{fs}/PointCloud'
    preview = c.get(path, {'size': 'preview'})
    expect(preview.headers.get('Content-Type', '').split(';')[0] in ('application/octet-stream', 'application/ply'), f'Content-Type {preview.headers.get("Content-Type")}')
    header = ply_header(preview.content)
    expect_eq(header['format'], 'binary_little_endian', 'preview PLY format')
    n_preview = ply_vertices(preview.content)
    orig = c.get(path, {'size': 'orig'})
    stored = c.disk('real_plant_analyzed', fs, 'PointCloud.ply')
    expect(orig.content == stored, 'size=orig bytes differ from the stored PLY')
    n_orig = ply_vertices(orig.content)
    expect(0 < n_preview < n_orig, f'preview has {n_preview} points, orig {n_orig}')
    expect_eq(c.get(path).content, preview.content, 'no size (default preview)')
    name = hashlib.sha1(f'pointcloud|real_plant_analyzed|{fs}|PointCloud|preview'.encode()).hexdigest() + '.ply'
    expect(os.path.isfile(os.path.join(c.db, 'real_plant_analyzed', 'webcache', name)), f'no webcache/{name}')
    c.state['preview_points'] = (n_preview, n_orig)


@case('skeleton-sequence')
def _(c):
    # The viewer's and notebooks' measures: /skeleton/<scan>, /sequence/<scan>?type=
    skeleton = c.json('/skeleton/real_plant_analyzed')
    expect(len(skeleton.get('points', [])) > 0 and len(skeleton.get('lines', [])) > 0, 'skeleton without points or lines')
    if c.state.get('skeletonUri'):
        expect_eq(json.loads(c.get(c.state['skeletonUri']).content), skeleton, 'filesUri.skeleton vs /skeleton')
    seq = c.json('/sequence/real_plant_analyzed')
    for key in ('angles', 'internodes', 'manual_angles', 'manual_internodes'):
        expect(isinstance(seq.get(key), list), f'/sequence has no list {key!r}')
    expect_eq(c.json('/sequence/real_plant_analyzed', {'type': 'angles'}), seq['angles'], '?type=angles')


@case('range-206')
def _(c):
    jpg = c.disk('real_plant', 'images', '00002_rgb.jpg')
    res = c.get('/files/real_plant/images/00002_rgb.jpg', headers={'Range': 'bytes=0-99'}, ok=False)
    expect_eq(res.status_code, 206, 'status of Range: bytes=0-99')
    expect_eq(res.headers.get('Content-Range'), f'bytes 0-99/{len(jpg)}', 'Content-Range')
    expect(res.content == jpg[:100], f'body is not the first 100 bytes ({len(res.content)} bytes)')
    res = c.get('/file/real_plant/images/00002_rgb', headers={'Range': 'bytes=-100'}, ok=False)
    expect_eq(res.status_code, 206, 'status of Range: bytes=-100 on /file')
    expect(res.content == jpg[-100:], 'body is not the last 100 bytes')
    expect_eq(c.get('/files/real_plant/images/00002_rgb.jpg').headers.get('Accept-Ranges'), 'bytes', 'Accept-Ranges')


@case('etag-304')
def _(c):
    for path, params in (('/files/real_plant/images/00003_rgb.jpg', None), ('/image/real_plant/images/00003_rgb', {'size': 'thumb'})):
        first = c.get(path, params)
        etag = first.headers.get('ETag')
        expect(etag, f'{path}: no ETag')
        again = c.get(path, params, headers={'If-None-Match': etag}, ok=False)
        expect_eq(again.status_code, 304, f'{path} with If-None-Match: status')
        expect_eq(again.content, b'', f'{path} 304 body')
        changed = c.get(path, params, headers={'If-None-Match': '"not-the-etag"'})
        expect(changed.content == first.content, f'{path} with another ETag: body differs')


@case('archive')
def _(c):
    # request_archive_download (stream=True): a zip of the scan without webcache/
    expect(os.path.isdir(os.path.join(c.db, 'real_plant', 'webcache')), 'real_plant/webcache/ missing: nothing to leave out')
    res = c.session.get(c.url + '/archive/real_plant', stream=True, timeout=TIMEOUT)
    expect_eq(res.status_code, 200, 'status')
    expect_eq(res.headers.get('Content-Type'), 'application/zip', 'Content-Type')
    data = res.content
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        expect_eq(z.testzip(), None, 'first bad entry (testzip)')
        names = z.namelist()
        expect(not [n for n in names if n.startswith('webcache/') or '/webcache/' in n], f'webcache in the archive: {[n for n in names if "webcache" in n][:3]}')
        for n in ('files.json', 'images/00000_rgb.jpg', 'metadata/images.json', 'metadata/images/00005_rgb.json', 'scan.toml', 'measures.json'):
            expect(n in names, f'{n} not in the archive ({len(names)} entries: {short(sorted(names))})')
        expect(z.read('images/00004_rgb.jpg') == c.disk('real_plant', 'images', '00004_rgb.jpg'), 'images/00004_rgb.jpg differs from the stored file')
        expect_eq(json.loads(z.read('files.json')), json.loads(c.disk('real_plant', 'files.json')), 'files.json')


@case('refresh')
def _(c):
    # request_refresh / PlantDBClient.refresh
    expect(isinstance(c.json('/refresh', {'scan_id': 'real_plant'}).get('message'), str), '/refresh?scan_id= has no message')
    expect(isinstance(c.json('/refresh').get('message'), str), '/refresh has no message')
    expect_eq(sorted(c.json('/scans')), SCANS, '/scans after /refresh')


# ---------------------------------------------------------------------------------------------

def main(argv):
    keep = '--keep' in argv
    report = Report()
    if Image is None:
        print('# Pillow is not importable: images are checked from their JPEG headers only', flush=True)
    tmp = tempfile.mkdtemp(prefix='romidb-pyclient-')
    db = os.path.join(tmp, 'server-db')
    server = None
    try:
        shutil.copytree(FIXTURE, db)
        # --port 0: the printed url must name the port the server really listens on.
        try:
            server = Server(serve_args(db, 0))
            port = urlsplit(server.url).port
            expect(port not in (None, 0), f'printed url {server.url} has no real port')
            res = requests.get(server.url + '/health', timeout=TIMEOUT)
            expect_eq(res.status_code, 200, f'GET {server.url}/health')
            report('serve --port 0 --json')
        except (CheckError, requests.RequestException, OSError) as err:
            report('serve --port 0 --json', err)
            if server is not None:
                server.kill()
            server = Server(serve_args(db, free_port()))  # the other cases still run, on a port picked here
        run_cases(CASES, Ctx(server, db), server, report)
    except Exception as err:
        report('setup', err)
    finally:
        if server is not None:
            server.kill()
        if keep:
            print(f'# kept {tmp}', flush=True)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    print(f'python client: {report.passed} passed, {report.failed} failed', flush=True)
    return 1 if report.failed else 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
