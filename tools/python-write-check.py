#!/usr/bin/env python3
"""The `romidb serve` write API as plantdb's Python client uses it, with accounts.

Copies test-fixtures/server-db to a temporary folder, writes a random signing key (48 bytes,
base64url, mode 0600) to a temporary file, adds an administrator with the built CLI (`romidb
--db <copy> user add pyadmin --role admin --password-stdin`: the password on stdin, never in
argv), starts `node packages/cli/dist/bin.js --db <copy> serve --port 0 --json --no-rate-limit
--jwt-secret-file <key>` (run `pnpm exec tsc -b` first), and makes with `requests` only (what
plantdb.client uses; no plantdb package) the requests of plantdb's client: login (JSON body;
access and refresh tokens), token validation, a scan created with metadata (owner, created,
last_modified, created_by added by the server), a fileset, a file uploaded as multipart with its
metadata and read back byte for byte, a scan uploaded as a ZIP archive (POST /archive/<id>), the
token refresh (the used refresh token then refused) and logout (the access token then refused).

    /usr/bin/python3 tools/python-write-check.py [--keep]

Prints `ok <case>` or `FAIL <case>: <why>` per case, then `python write: N passed, N failed`;
exits 1 when a case failed. Every case runs, whatever the one before did (a case that needs what
an earlier one made fails, naming it). The server is always stopped (SIGTERM, then SIGKILL), and
the temporary folder removed unless --keep.
"""

import base64
import io
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import zipfile

import requests

from romidb_check import FIXTURE, ROOT, START_TIMEOUT, CheckError, Report, Server, cli_bin, expect, expect_eq, run_cases, short

TIMEOUT = 60  # seconds per request, on a shared machine
ADMIN = 'pyadmin'
ADMIN_FULLNAME = 'Python Admin'
PASSWORD = secrets.token_urlsafe(18)
SCAN = 'py_scan'
FILESET = 'py_fileset'
FILE = 'py_file'
ARCHIVED = 'py_archived'
# plantdb's dates: datetime.now().isoformat(), local time without a zone.
PYTHON_DATE = re.compile(r'^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{6})?$')


def expect_status(res, status, what):
    if res.status_code != status:
        raise CheckError(f'{what}: {res.status_code}, expected {status}: {res.text[:300]}')


# ---------------------------------------------------------------------------------------------
# The CLI and the server process

def add_admin(db):
    """`romidb user add` with the password as one line of stdin."""
    cmd = ['node', cli_bin(), '--db', db, 'user', 'add', ADMIN, '--role', 'admin', '--fullname', ADMIN_FULLNAME, '--password-stdin']
    run = subprocess.run(cmd, cwd=ROOT, input=(PASSWORD + '\n').encode(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=START_TIMEOUT)
    if run.returncode != 0:
        raise CheckError(f'romidb user add: exit {run.returncode}: {run.stderr.decode("utf-8", "replace")[-500:]}')


def secret_file(tmp):
    """A signing key of 48 random bytes (base64url, one line), readable by its owner only."""
    path = os.path.join(tmp, 'jwt-secret')
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, 'w') as f:
        f.write(base64.urlsafe_b64encode(secrets.token_bytes(48)).decode().rstrip('=') + '\n')
    return path


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
        self.session = requests.Session()
        self.state = {}

    def need(self, key, made_by):
        if key not in self.state:
            raise CheckError(f'no {key}: case {made_by!r} failed')
        return self.state[key]

    def auth(self):
        return {'Authorization': 'Bearer ' + self.need('access_token', 'login')}

    def get(self, path, params=None, ok=True, **kwargs):
        res = self.session.get(self.url + path, params=params, timeout=TIMEOUT, **kwargs)
        if ok and res.status_code != 200:
            raise CheckError(f'GET {path} {params or ""}: {res.status_code} {res.text[:300]}')
        return res

    def post(self, path, **kwargs):
        return self.session.post(self.url + path, timeout=TIMEOUT, **kwargs)


@case('login-wrong-password')
def _(c):
    res = c.post('/login', json={'username': ADMIN, 'password': PASSWORD + 'x'})
    expect_status(res, 401, 'POST /login, wrong password')
    expect(res.headers.get('WWW-Authenticate', '').startswith('Bearer'), f'no WWW-Authenticate: Bearer ({res.headers.get("WWW-Authenticate")!r})')


@case('login')
def _(c):
    # plantdb.client: POST /login {"username", "password"} -> access_token, refresh_token
    res = c.post('/login', json={'username': ADMIN, 'password': PASSWORD})
    expect_status(res, 200, 'POST /login')
    body = res.json()
    expect_eq(body.get('message'), 'Login successful', 'message')
    expect_eq(body.get('user'), {'username': ADMIN, 'fullname': ADMIN_FULLNAME}, 'user')
    for key in ('access_token', 'refresh_token'):
        expect(isinstance(body.get(key), str) and body[key].count('.') == 2, f'{key} is not a JWT: {short(body.get(key))}')
    c.state['access_token'] = body['access_token']
    c.state['refresh_token'] = body['refresh_token']


@case('token-validation')
def _(c):
    res = c.post('/token-validation', headers=c.auth())
    expect_status(res, 200, 'POST /token-validation')
    expect_eq(res.json().get('user', {}).get('username'), ADMIN, 'user.username')
    res = c.post('/token-validation', headers={'Authorization': 'Bearer not.a.token'})
    expect_status(res, 401, 'POST /token-validation with a bad token')


@case('write-without-token')
def _(c):
    res = c.post(f'/scan/{SCAN}_anonymous', json={'metadata': {}})
    expect_status(res, 401, 'POST /scan/<id> without a token')
    expect(f'{SCAN}_anonymous' not in c.get('/scans').json(), 'the scan was created anyway')


@case('create-scan')
def _(c):
    given = {'object': {'species': 'Arabidopsis thaliana', 'plant_id': 'py-1'}, 'owner': 'someone else'}
    res = c.post(f'/scan/{SCAN}', json={'metadata': given}, headers=c.auth())
    expect_status(res, 201, f'POST /scan/{SCAN}')
    expect_eq(res.json(), {'message': 'Scan created successfully', 'id': SCAN}, 'answer')
    expect(SCAN in c.get('/scans').json(), f'{SCAN} not in /scans')
    md = c.get(f'/scan/{SCAN}/metadata').json()['metadata']
    expect_eq(md.get('object'), given['object'], 'metadata.object')
    expect_eq(md.get('owner'), ADMIN, 'metadata.owner (the user, whatever the body says)')
    expect_eq(md.get('created_by'), ADMIN_FULLNAME, 'metadata.created_by')
    for key in ('created', 'last_modified'):
        expect(isinstance(md.get(key), str) and PYTHON_DATE.match(md[key]), f'metadata.{key} is not a Python isoformat date: {short(md.get(key))}')
    expect_eq(md['last_modified'], md['created'], 'last_modified at creation')
    res = c.post(f'/scan/{SCAN}', json={'metadata': {}}, headers=c.auth())
    expect_status(res, 409, f'POST /scan/{SCAN} again')
    c.state['scan'] = SCAN


@case('update-scan-metadata')
def _(c):
    c.need('scan', 'create-scan')
    res = c.post(f'/scan/{SCAN}/metadata', json={'metadata': {'note': 'updated', 'owner': 'nobody'}}, headers=c.auth())
    expect_status(res, 200, f'POST /scan/{SCAN}/metadata')
    md = res.json()['metadata']
    expect_eq((md.get('note'), md.get('owner')), ('updated', ADMIN), '(note, owner) after the update')
    expect_eq(c.get(f'/scan/{SCAN}/metadata', {'key': 'note'}).json()['metadata'], 'updated', '?key=note')


@case('create-fileset')
def _(c):
    c.need('scan', 'create-scan')
    res = c.post(f'/fileset/{SCAN}/{FILESET}', json={'metadata': {'task': 'python'}}, headers=c.auth())
    expect_status(res, 201, f'POST /fileset/{SCAN}/{FILESET}')
    expect_eq(res.json().get('id'), FILESET, 'id')
    expect(FILESET in c.get(f'/scan/{SCAN}/filesets').json()['filesets'], f'{FILESET} not in /scan/{SCAN}/filesets')
    expect_eq(c.get(f'/fileset/{SCAN}/{FILESET}/metadata').json()['metadata'], {'task': 'python'}, 'fileset metadata')
    c.state['fileset'] = FILESET


@case('upload-file')
def _(c):
    c.need('fileset', 'create-fileset')
    data = json.dumps({'values': list(range(100)), 'text': 'é ü'}, indent=1).encode('utf-8')
    metadata = {'channel': 'py', 'nested': {'a': [1, 2]}}
    # plantdb.client: files={'file': (name, f, type)}, data={'ext': ..., 'metadata': json.dumps(...)}
    res = c.post(f'/file/{SCAN}/{FILESET}/{FILE}', headers=c.auth(),
                 files={'file': (f'{FILE}.json', io.BytesIO(data), 'application/json')},
                 data={'ext': 'json', 'metadata': json.dumps(metadata)})
    expect_status(res, 201, f'POST /file/{SCAN}/{FILESET}/{FILE}')
    expect_eq(res.json().get('id'), FILE, 'id')
    got = c.get(f'/files/{SCAN}/{FILESET}/{FILE}.json')
    expect(got.content == data, f'/files/{SCAN}/{FILESET}/{FILE}.json differs from the upload ({len(got.content)} vs {len(data)} bytes)')
    expect(c.get(f'/file/{SCAN}/{FILESET}/{FILE}').content == data, f'/file/{SCAN}/{FILESET}/{FILE} differs from the upload')
    expect_eq(c.get(f'/file/{SCAN}/{FILESET}/{FILE}/metadata').json()['metadata'], metadata, 'file metadata')
    expect(FILE in c.get(f'/fileset/{SCAN}/{FILESET}/files').json()['files'], 'the upload is not in the fileset')
    res = c.post(f'/file/{SCAN}/{FILESET}/{FILE}', headers=c.auth(), files={'file': ('x.json', io.BytesIO(b'{}'), 'application/json')}, data={'ext': 'json'})
    expect_status(res, 409, 'the same upload again')


@case('upload-dataset-file')
def _(c):
    c.need('fileset', 'create-fileset')
    # plantdb.client's request_dataset_file_upload: the raw body with Content-Disposition and X-File-Path.
    data = bytes(range(256)) * 40
    headers = {**c.auth(), 'Content-Disposition': 'attachment; filename=raw.ply', 'X-File-Path': f'{FILESET}/raw.ply', 'Content-Type': 'application/octet-stream'}
    res = c.post(f'/files/{SCAN}', headers=headers, data=data)
    expect_status(res, 201, f'POST /files/{SCAN}')
    expect_eq(res.json().get('message'), f'File {FILESET}/raw.ply received and saved', 'message')
    expect(c.get(f'/file/{SCAN}/{FILESET}/raw').content == data, 'the raw upload is not what GET /file sends')
    expect('raw' in c.get(f'/fileset/{SCAN}/{FILESET}/files').json()['files'], 'the raw upload is not registered in the fileset')
    res = c.post(f'/files/{SCAN}', headers={**headers, 'X-File-Path': '../../escaped.ply'}, data=data)
    expect_status(res, 400, 'X-File-Path out of the scan')


@case('upload-archive')
def _(c):
    # A zip made with Python's zipfile from what GET /archive/real_plant_analyzed sends.
    src = c.get('/archive/real_plant_analyzed').content
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(src)) as zin, zipfile.ZipFile(out, 'w', zipfile.ZIP_DEFLATED) as zout:
        names = [n for n in zin.namelist() if not n.endswith('/')]
        for n in names:
            zout.writestr(n, zin.read(n))
    expect(len(names) > 0, 'the downloaded archive is empty')
    out.seek(0)
    res = c.post(f'/archive/{ARCHIVED}', headers=c.auth(), files={'zip_file': ('x.zip', out, 'application/zip')})
    expect_status(res, 200, f'POST /archive/{ARCHIVED}')
    body = res.json()
    expect_eq(body.get('message'), 'ZIP file processed successfully', 'message')
    expect(isinstance(body.get('files'), list) and len(body['files']) > 0, f'files: {short(body.get("files"))}')
    expect(ARCHIVED in c.get('/scans').json(), f'{ARCHIVED} not in /scans')
    info = c.get(f'/scan/{ARCHIVED}').json()
    expect_eq(info.get('error'), False, 'scanInfo error')
    expect_eq(sorted(c.get(f'/scan/{ARCHIVED}/filesets').json()['filesets']),
              sorted(c.get('/scan/real_plant_analyzed/filesets').json()['filesets']), 'filesets of the uploaded scan')
    expect(c.get(f'/files/{ARCHIVED}/images/00000_rgb.jpg').content == c.get('/files/real_plant_analyzed/images/00000_rgb.jpg').content, 'images/00000_rgb.jpg differs from the source scan')


@case('token-refresh')
def _(c):
    old = c.need('refresh_token', 'login')
    res = c.post('/token-refresh', json={'refresh_token': old})
    expect_status(res, 200, 'POST /token-refresh')
    body = res.json()
    expect_eq(body.get('message'), 'Token refreshed successfully', 'message')
    for key in ('access_token', 'refresh_token'):
        expect(isinstance(body.get(key), str) and body[key].count('.') == 2, f'{key} is not a JWT')
    # The new pair works; the used refresh token and the old session's access token do not.
    expect_status(c.post('/token-validation', headers={'Authorization': 'Bearer ' + body['access_token']}), 200, 'the new access token')
    res = c.post('/token-refresh', json={'refresh_token': old})
    expect_status(res, 401, 'the used refresh token again')
    expect_status(c.post('/token-validation', headers=c.auth()), 401, "the old session's access token")
    c.state['access_token'] = body['access_token']
    c.state['refresh_token'] = body['refresh_token']


@case('logout')
def _(c):
    headers = c.auth()
    res = c.post('/logout', headers=headers)
    expect_status(res, 200, 'POST /logout')
    expect_eq(res.json().get('message'), f'Logout successful from {ADMIN}', 'message')
    expect_status(c.post('/token-validation', headers=headers), 401, 'the access token after logout')
    expect_status(c.post(f'/scan/{SCAN}_after_logout', json={'metadata': {}}, headers=headers), 401, 'a write with it')
    expect_status(c.post('/token-refresh', json={'refresh_token': c.need('refresh_token', 'login')}), 401, "the session's refresh token after logout")


# ---------------------------------------------------------------------------------------------

def main(argv):
    keep = '--keep' in argv
    report = Report()
    tmp = tempfile.mkdtemp(prefix='romidb-pywrite-')
    db = os.path.join(tmp, 'server-db')
    server = None
    try:
        shutil.copytree(FIXTURE, db)
        key = secret_file(tmp)
        add_admin(db)
        server = Server(['--db', db, 'serve', '--port', '0', '--json', '--no-rate-limit', '--jwt-secret-file', key])
        report('serve --jwt-secret-file')
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
    print(f'python write: {report.passed} passed, {report.failed} failed', flush=True)
    return 1 if report.failed else 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
