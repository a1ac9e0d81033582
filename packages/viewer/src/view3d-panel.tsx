/**
 * The 3D view, a lazy chunk (three.js is only ever loaded from here): the point cloud (the
 * server's preview first, the original on demand), the mesh on demand, the skeleton as lines,
 * the camera poses as small frustums (a click shows that photo), OrbitControls.
 */
import { useEffect, useRef, useState } from 'preact/hooks';
import * as THREE from 'three';
import { OrbitControls } from 'three/examples/jsm/controls/OrbitControls.js';
import { apiUrl, enc, getJSON, type Pose, type ScanInfo } from './api';
import { loadPly } from './load-ply';
import type { PlyData } from './ply';

const BACKGROUND = 0x20242a;

interface Scene3D {
  renderer: THREE.WebGLRenderer;
  scene: THREE.Scene;
  camera: THREE.PerspectiveCamera;
  controls: OrbitControls;
  render(): void;
  dispose(): void;
}

function makeScene(canvas: HTMLCanvasElement): Scene3D {
  // preserveDrawingBuffer: the picture can be read back (tests, "save image").
  const renderer = new THREE.WebGLRenderer({ canvas, antialias: true, preserveDrawingBuffer: true });
  renderer.setPixelRatio(Math.min(devicePixelRatio, 2));
  const scene = new THREE.Scene();
  scene.background = new THREE.Color(BACKGROUND);
  scene.add(new THREE.AmbientLight(0xffffff, 0.6));
  const sun = new THREE.DirectionalLight(0xffffff, 1.2);
  sun.position.set(1, -1, 2);
  scene.add(sun);
  const camera = new THREE.PerspectiveCamera(45, 1, 0.1, 100000);
  camera.up.set(0, 0, 1);
  const controls = new OrbitControls(camera, canvas);
  const render = () => {
    renderer.render(scene, camera);
    // Where each camera pose is drawn (CSS pixels in the canvas): for tests and tools.
    const poses = scene.getObjectByName('poses');
    if (poses) {
      const v = new THREE.Vector3();
      const at = poses.children.filter((o) => o.userData.pose).map((o) => {
        v.copy(o.position).project(camera);
        return { id: (o.userData.pose as Pose).id, x: Math.round(((v.x + 1) / 2) * canvas.clientWidth), y: Math.round(((1 - v.y) / 2) * canvas.clientHeight) };
      });
      canvas.dataset.poses = JSON.stringify(at);
    }
  };
  controls.addEventListener('change', render);
  const resize = () => {
    const w = canvas.clientWidth || 640;
    const h = canvas.clientHeight || 480;
    renderer.setSize(w, h, false);
    camera.aspect = w / h;
    camera.updateProjectionMatrix();
    render();
  };
  const ro = new ResizeObserver(resize);
  ro.observe(canvas);
  resize();
  return {
    renderer,
    scene,
    camera,
    controls,
    render,
    dispose() {
      ro.disconnect();
      controls.dispose();
      scene.traverse((o) => {
        const m = o as THREE.Mesh;
        m.geometry?.dispose();
        const mat = m.material as THREE.Material | THREE.Material[] | undefined;
        if (Array.isArray(mat)) mat.forEach((x) => x.dispose());
        else mat?.dispose();
      });
      renderer.dispose();
    },
  };
}

function geometryOf(d: PlyData): THREE.BufferGeometry {
  const g = new THREE.BufferGeometry();
  g.setAttribute('position', new THREE.BufferAttribute(d.positions, 3));
  if (d.normals) g.setAttribute('normal', new THREE.BufferAttribute(d.normals, 3));
  if (d.colors) g.setAttribute('color', new THREE.BufferAttribute(d.colors, 3));
  if (d.indices) g.setIndex(new THREE.BufferAttribute(d.indices, 1));
  g.computeBoundingBox();
  g.computeBoundingSphere();
  return g;
}

/** Points the camera at a box, from the side (z is up in ROMI scans). */
function frame(s: Scene3D, box: THREE.Box3) {
  const center = box.getCenter(new THREE.Vector3());
  const radius = box.getSize(new THREE.Vector3()).length() / 2 || 1;
  const dist = radius / Math.sin(THREE.MathUtils.degToRad(s.camera.fov / 2));
  s.camera.position.copy(center).add(new THREE.Vector3(1, -1, 0.6).normalize().multiplyScalar(dist));
  s.camera.near = dist / 100;
  s.camera.far = dist * 100;
  s.camera.updateProjectionMatrix();
  s.controls.target.copy(center);
  s.controls.update();
  s.render();
}

/** COLMAP poses (world → camera: x_c = R x_w + t) as frustums, and spheres to click. */
function posesObject(poses: Pose[], model: NonNullable<ScanInfo['camera']>['model'], size: number) {
  const group = new THREE.Group();
  const f = model?.params?.[0] ?? 1000;
  const w = model?.width ?? 1440;
  const h = model?.height ?? 1080;
  const corners = [
    [-w / 2 / f, -h / 2 / f],
    [w / 2 / f, -h / 2 / f],
    [w / 2 / f, h / 2 / f],
    [-w / 2 / f, h / 2 / f],
  ];
  const pts: number[] = [];
  const sphereGeometry = new THREE.SphereGeometry(size * 0.25, 12, 8);
  const sphereMaterial = new THREE.MeshBasicMaterial({ color: 0xffb000 });
  for (const pose of poses) {
    const R = new THREE.Matrix3().set(...(pose.rotmat.flat() as [number, number, number, number, number, number, number, number, number]));
    const Rt = R.clone().transpose();
    const t = new THREE.Vector3(...pose.tvec);
    const center = t.clone().applyMatrix3(Rt).negate();
    const world = (x: number, y: number, z: number) => new THREE.Vector3(x, y, z).applyMatrix3(Rt).add(center);
    const c = corners.map(([x, y]) => world(x! * size, y! * size, size));
    for (let i = 0; i < 4; i++) {
      pts.push(...center.toArray(), ...c[i]!.toArray());
      pts.push(...c[i]!.toArray(), ...c[(i + 1) % 4]!.toArray());
    }
    const sphere = new THREE.Mesh(sphereGeometry, sphereMaterial);
    sphere.position.copy(center);
    sphere.userData.pose = pose;
    group.add(sphere);
  }
  const lines = new THREE.BufferGeometry();
  lines.setAttribute('position', new THREE.Float32BufferAttribute(pts, 3));
  group.add(new THREE.LineSegments(lines, new THREE.LineBasicMaterial({ color: 0xffb000 })));
  return group;
}

/** A performance mark set once per page, when the preview point cloud is first drawn. */
const FIRST_CLOUD_FRAME = 'romidb:first-cloud-frame';

type Status = { state: 'loading' | 'ready' | 'error'; text: string; points: number };

export function View3DPanel({ scan }: { scan: ScanInfo }) {
  const canvas = useRef<HTMLCanvasElement>(null);
  const s3 = useRef<Scene3D | undefined>(undefined);
  const cloud = useRef<THREE.Points | undefined>(undefined);
  const mesh = useRef<THREE.Mesh | undefined>(undefined);
  const [status, setStatus] = useState<Status>({ state: 'loading', text: 'Loading…', points: 0 });
  const [photo, setPhoto] = useState<Pose | undefined>();
  const [full, setFull] = useState(false);
  const [showMesh, setShowMesh] = useState(false);
  const [meshState, setMeshState] = useState('');

  const pcFs = scan.hasPointCloud ? scan.tasks_fileset.PointCloud : undefined;
  const meshFs = scan.hasTriangleMesh ? scan.tasks_fileset.TriangleMesh : undefined;
  const poses = scan.camera?.poses ?? [];

  useEffect(() => {
    const s = makeScene(canvas.current!);
    s3.current = s;
    let alive = true;
    const bounds = new THREE.Box3();
    const extend = (o: THREE.Object3D) => {
      bounds.expandByObject(o);
      frame(s, bounds);
    };
    const ws = scan.workspace;
    if (ws?.x && ws.y && ws.z) bounds.set(new THREE.Vector3(ws.x[0], ws.y[0], ws.z[0]), new THREE.Vector3(ws.x[1], ws.y[1], ws.z[1]));

    // Clicking (not dragging) a camera shows its photo.
    const down = { x: 0, y: 0 };
    const onDown = (e: PointerEvent) => Object.assign(down, { x: e.clientX, y: e.clientY });
    const onUp = (e: PointerEvent) => {
      if (Math.hypot(e.clientX - down.x, e.clientY - down.y) > 4) return;
      const rect = canvas.current!.getBoundingClientRect();
      const ray = new THREE.Raycaster();
      ray.setFromCamera(new THREE.Vector2(((e.clientX - rect.left) / rect.width) * 2 - 1, -((e.clientY - rect.top) / rect.height) * 2 + 1), s.camera);
      const hit = ray.intersectObjects(s.scene.getObjectByName('poses')?.children ?? [], false).find((h) => h.object.userData.pose);
      if (hit) setPhoto(hit.object.userData.pose as Pose);
    };
    canvas.current!.addEventListener('pointerdown', onDown);
    canvas.current!.addEventListener('pointerup', onUp);

    if (pcFs) {
      loadPly(apiUrl(`/pointcloud/${enc(scan.id)}/${enc(pcFs)}/PointCloud?size=preview`)).then(
        (d) => {
          if (!alive) return;
          const g = geometryOf(d);
          const points = new THREE.Points(g, new THREE.PointsMaterial({ size: 3, sizeAttenuation: false, vertexColors: !!d.colors, color: d.colors ? 0xffffff : 0x7ddc6f }));
          cloud.current = points;
          s.scene.add(points);
          bounds.makeEmpty();
          extend(points);
          // The first frame drawn with the point cloud (extend() rendered it): for bench/viewer.ts (W9b).
          if (!performance.getEntriesByName(FIRST_CLOUD_FRAME).length) performance.mark(FIRST_CLOUD_FRAME);
          setStatus({ state: 'ready', text: `${d.vertexCount.toLocaleString('en')} points (preview)`, points: d.vertexCount });
        },
        (err: Error) => alive && setStatus({ state: 'error', text: `Point cloud: ${err.message}`, points: 0 }),
      );
    } else setStatus({ state: 'ready', text: 'No point cloud', points: 0 });

    if (scan.hasCurveSkeleton) {
      getJSON<{ points: number[][]; lines: number[][] }>(`/skeleton/${enc(scan.id)}`).then(
        (sk) => {
          if (!alive) return;
          const pts: number[] = [];
          for (const [a, b] of sk.lines) pts.push(...sk.points[a!]!, ...sk.points[b!]!);
          const g = new THREE.BufferGeometry();
          g.setAttribute('position', new THREE.Float32BufferAttribute(pts, 3));
          const lines = new THREE.LineSegments(g, new THREE.LineBasicMaterial({ color: 0xff4060 }));
          lines.name = 'skeleton';
          s.scene.add(lines);
          if (!pcFs) extend(lines);
          s.render();
        },
        () => undefined,
      );
    }
    if (poses.length) {
      const size = bounds.isEmpty() ? 20 : bounds.getSize(new THREE.Vector3()).length() / 12;
      const group = posesObject(poses, scan.camera?.model, size);
      group.name = 'poses';
      s.scene.add(group);
      s.render();
    }
    if (!bounds.isEmpty()) frame(s, bounds);
    return () => {
      alive = false;
      s.dispose();
    };
  }, [scan.id]);

  const loadFull = () => {
    const s = s3.current;
    if (!s || !pcFs || full) return;
    setFull(true);
    setStatus((st) => ({ ...st, state: 'loading', text: 'Loading the full point cloud…' }));
    loadPly(apiUrl(`/pointcloud/${enc(scan.id)}/${enc(pcFs)}/PointCloud?size=orig`)).then(
      (d) => {
        if (cloud.current) {
          cloud.current.geometry.dispose();
          cloud.current.geometry = geometryOf(d);
        }
        s.render();
        setStatus({ state: 'ready', text: `${d.vertexCount.toLocaleString('en')} points (full)`, points: d.vertexCount });
      },
      (err: Error) => setStatus({ state: 'error', text: `Full point cloud: ${err.message}`, points: 0 }),
    );
  };

  const toggleMesh = (on: boolean) => {
    setShowMesh(on);
    const s = s3.current;
    if (!s || !meshFs) return;
    if (mesh.current) {
      mesh.current.visible = on;
      s.render();
      return;
    }
    if (!on) return;
    setMeshState('loading the mesh…');
    loadPly(apiUrl(`/mesh/${enc(scan.id)}/${enc(meshFs)}/TriangleMesh`)).then(
      (d) => {
        const g = geometryOf(d);
        if (!d.normals) g.computeVertexNormals();
        const m = new THREE.Mesh(g, new THREE.MeshLambertMaterial({ vertexColors: !!d.colors, color: d.colors ? 0xffffff : 0x9acd80, side: THREE.DoubleSide }));
        mesh.current = m;
        s.scene.add(m);
        s.render();
        setMeshState(`${d.faceCount.toLocaleString('en')} triangles`);
      },
      (err: Error) => setMeshState(`mesh: ${err.message}`),
    );
  };

  return (
    <div class="view3d-wrap">
      <div class="view3d-bar">
        <span class="view3d-status" role="status" data-state={status.state} data-points={status.points}>
          {status.text}
        </span>
        {pcFs && (
          <button type="button" onClick={loadFull} disabled={full}>
            Full point cloud
          </button>
        )}
        {meshFs && (
          <label>
            <input type="checkbox" checked={showMesh} onChange={(e) => toggleMesh(e.currentTarget.checked)} /> Mesh {meshState && `(${meshState})`}
          </label>
        )}
        {poses.length > 0 && (
          <label>
            Camera{' '}
            <select value={photo?.id ?? ''} onChange={(e) => setPhoto(poses.find((p) => p.id === e.currentTarget.value))}>
              <option value="">(none)</option>
              {poses.map((p) => (
                <option key={p.id} value={p.id}>
                  {p.id}
                </option>
              ))}
            </select>
          </label>
        )}
        {poses.length > 0 && <span class="hint">{poses.length} camera poses: click one to see its photo</span>}
      </div>
      <div class="view3d-main">
        <canvas class="view3d" ref={canvas} data-background={BACKGROUND} aria-label={`3D view of ${scan.id}`} role="img" />
        {photo && (
          <figure class="pose-photo">
            <img src={apiUrl(`/image/${enc(scan.id)}/images/${enc(photo.id)}?size=large`)} alt={`Photo ${photo.id}`} />
            <figcaption>
              {photo.id}{' '}
              <button type="button" onClick={() => setPhoto(undefined)}>
                Close
              </button>
            </figcaption>
          </figure>
        )}
      </div>
    </div>
  );
}
