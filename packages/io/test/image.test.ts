import { readFileSync, readdirSync } from 'node:fs';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { decodeWithSharp } from '../src/image.js';
import { decodeImage, encodeImage, readImage, writeImage, type Image } from '../src/index.js';
import { BytesFile, FIXTURES, REAL, fixture, romiError, sameBytes } from './helpers.js';

function pattern(width: number, height: number, channels: 1 | 2 | 3 | 4, wide: boolean): Image {
  const n = width * height * channels;
  const data = wide ? new Uint16Array(n) : new Uint8Array(n);
  // Values that exercise every bit, and transparent pixels with colour under them.
  for (let i = 0; i < n; i++) data[i] = wide ? (i * 4099 + 7) & 0xffff : (i * 37 + (i >> 3)) & 0xff;
  if (channels === 2 || channels === 4) for (let i = channels - 1; i < n; i += channels * 3) data[i] = 0;
  return { data, width, height, channels };
}

describe('images: lossless round trips', () => {
  const cases: Array<[string, boolean]> = [
    ['png', false],
    ['png', true],
    ['tiff', false],
    ['tif', true],
    ['webp', false],
  ];
  for (const [ext, wide] of cases) {
    for (const channels of [1, 2, 3, 4] as const) {
      if (ext === 'webp' && channels < 3) continue;
      it(`${ext} ${wide ? 16 : 8}-bit, ${channels} channel(s)`, async () => {
        const img = pattern(13, 7, channels, wide);
        const back = await decodeImage(await encodeImage(img, ext));
        expect(back.width).toBe(13);
        expect(back.height).toBe(7);
        expect(back.channels).toBe(channels);
        expect(back.data).toBeInstanceOf(wide ? Uint16Array : Uint8Array);
        expect(back.data).toEqual(img.data);
      });
    }
  }
  it('encodes typed-array views (subarrays) from their offset', async () => {
    const big = new Uint16Array(100).map((_, i) => i * 600);
    const img: Image = { data: big.subarray(5, 17), width: 2, height: 2, channels: 3 };
    expect(Array.from((await decodeImage(await encodeImage(img))).data)).toEqual(Array.from(big.subarray(5, 17)));
    const b8 = new Uint8Array(50).map((_, i) => i);
    const img8: Image = { data: b8.subarray(10, 22), width: 2, height: 2, channels: 3 };
    expect(Array.from((await decodeImage(await encodeImage(img8, 'tiff'))).data)).toEqual(Array.from(b8.subarray(10, 22)));
  });
  it('webp stores grey as RGB (the format has no grey mode)', async () => {
    const img = pattern(5, 4, 1, false);
    const back = await decodeImage(await encodeImage(img, 'webp'));
    expect(back.channels).toBe(3);
    for (let i = 0; i < 20; i++) expect(back.data[3 * i]).toBe(img.data[i]);
  });
  it('a 2×2 grey PNG like romidata’s test image', async () => {
    const img: Image = { data: new Uint8Array([255, 0, 0, 255]), width: 2, height: 2, channels: 1 };
    const png = await encodeImage(img);
    const meta = await sharp(png).metadata();
    expect(meta.channels).toBe(1);
    expect(meta.depth).toBe('uchar');
    expect(await decodeImage(png)).toEqual(img);
  });
  it('writes 16-bit PNG that libvips reads as 16-bit', async () => {
    const png = await encodeImage(pattern(4, 4, 3, true), 'png');
    const meta = await sharp(png).metadata();
    expect(meta.depth).toBe('ushort');
    expect(meta.channels).toBe(3);
  });
});

describe('images: JPEG', () => {
  it('drops alpha from 4 and 2 channels, as the Python tools do', async () => {
    for (const [channels, expectChannels] of [
      [4, 3],
      [2, 1],
      [3, 3],
      [1, 1],
    ] as const) {
      const jpg = await encodeImage(pattern(16, 16, channels, false), 'jpg');
      const back = await decodeImage(jpg);
      expect(back.channels).toBe(expectChannels);
      expect((await sharp(jpg).metadata()).format).toBe('jpeg');
    }
  });
  it('keeps a smooth image close and honours quality', async () => {
    const w = 64;
    const data = new Uint8Array(w * w * 3);
    for (let y = 0; y < w; y++) for (let x = 0; x < w; x++) data.set([x * 4, y * 4, 128], (y * w + x) * 3);
    const img: Image = { data, width: w, height: w, channels: 3 };
    const q95 = await encodeImage(img, 'jpeg', { quality: 95 });
    const q20 = await encodeImage(img, 'jpeg', { quality: 20 });
    expect(q20.length).toBeLessThan(q95.length);
    const back = await decodeImage(q95);
    let maxDiff = 0;
    for (let i = 0; i < data.length; i++) maxDiff = Math.max(maxDiff, Math.abs(back.data[i] - data[i]));
    expect(maxDiff).toBeLessThan(12);
  });
  it('refuses 16-bit JPEG and WebP, and bad options', async () => {
    expect((await romiError(() => encodeImage(pattern(2, 2, 3, true), 'jpg'))).code).toBe('ROMI_NOT_SUPPORTED');
    expect((await romiError(() => encodeImage(pattern(2, 2, 3, true), 'webp'))).code).toBe('ROMI_NOT_SUPPORTED');
    expect((await romiError(() => encodeImage(pattern(2, 2, 3, false), 'jpg', { quality: 0 }))).code).toBe('ROMI_INVALID_ARGUMENT');
    expect((await romiError(() => encodeImage(pattern(2, 2, 3, false), 'gif'))).code).toBe('ROMI_NOT_SUPPORTED');
    expect((await romiError(() => encodeImage(pattern(2, 2, 3, false), 'bmp'))).code).toBe('ROMI_NOT_SUPPORTED');
  });
  it('lossy WebP with a quality', async () => {
    const img = pattern(32, 32, 3, false);
    const back = await decodeImage(await encodeImage(img, 'webp', { quality: 80 }));
    expect(back.channels).toBe(3);
    expect(back.width).toBe(32);
  });
});

describe('images: real files', () => {
  it('reads the 1440×1080 scanner JPEGs as RGB', async () => {
    for (const f of ['00000_rgb.jpg', '00001_rgb.jpg']) {
      const img = await readImage(REAL + f);
      expect([img.width, img.height, img.channels]).toEqual([1440, 1080, 3]);
      expect(img.data).toBeInstanceOf(Uint8Array);
      expect(img.data.length).toBe(1440 * 1080 * 3);
    }
  });
  it('reads the 896×896 RGBA render and the 8-bit grey mask', async () => {
    const rgba = await readImage(`${REAL}00000_rgb.png`);
    expect([rgba.width, rgba.height, rgba.channels]).toEqual([896, 896, 4]);
    const mask = await readImage(`${REAL}00000_leaf.png`);
    expect([mask.width, mask.height, mask.channels]).toEqual([896, 896, 1]);
    // the grey mask holds the same values libvips copies into R, G and B
    const ref = await sharp(`${REAL}00000_leaf.png`).raw().toBuffer();
    for (let i = 0; i < 896 * 896; i += 97) expect(mask.data[i]).toBe(ref[3 * i]);
    expect((mask.data as Uint8Array).reduce((a, b) => Math.max(a, b), 0)).toBe(255);
    expect((mask.data as Uint8Array).reduce((a, b) => Math.min(a, b), 255)).toBe(0);
  });
  it('matches libvips pixel for pixel on the real PNGs and re-encodes them losslessly', async () => {
    for (const f of ['00000_rgb.png', 'palette_arabi.png']) {
      const bytes = fixture(`real/${f}`);
      const img = await readImage(bytes);
      const ref = await sharp(bytes).raw().toBuffer({ resolveWithObject: true });
      expect(img.channels).toBe(ref.info.channels);
      expect(sameBytes(img.data, ref.data)).toBe(true);
      const back = await decodeImage(await encodeImage(img, 'png'));
      expect([back.width, back.height, back.channels]).toEqual([img.width, img.height, img.channels]);
      expect(sameBytes(back.data, img.data)).toBe(true);
    }
  });
  it('reads by content: a PNG named .jpg is still a PNG', async () => {
    const f = new BytesFile('mask');
    f.data = fixture('real/00000_leaf.png');
    f.filename = 'mask.jpg';
    const img = await readImage(f.asFile());
    expect(img.channels).toBe(1);
  });
});

describe('images: writers', () => {
  it('writeImage sets the extension, png by default', async () => {
    const f = new BytesFile('img');
    const img = pattern(3, 3, 3, false);
    await writeImage(f.asFile(), img);
    expect(f.filename).toBe('img.png');
    await writeImage(f.asFile(), img, '.JPG', { quality: 90 });
    expect(f.filename).toBe('img.jpg');
    expect((await sharp(f.data!).metadata()).format).toBe('jpeg');
    await writeImage(f.asFile(), img, 'tif');
    expect(f.filename).toBe('img.tif');
    expect(await readImage(f.asFile())).toEqual(img);
  });
  it('refuses inconsistent images before writing', async () => {
    const f = new BytesFile();
    const bad = [
      { data: new Uint8Array(5), width: 2, height: 2, channels: 1 },
      { data: new Uint8Array(4), width: 2, height: 2, channels: 5 },
      { data: new Float32Array(4), width: 2, height: 2, channels: 1 },
      { data: new Uint8Array(0), width: 0, height: 0, channels: 1 },
    ];
    for (const img of bad) {
      expect((await romiError(() => writeImage(f.asFile(), img as unknown as Image))).code).toBe('ROMI_INVALID_ARGUMENT');
    }
    expect(f.writes).toBe(0);
  });
});

describe('images: every PNG/JPEG colour type (Pillow-written fixtures)', () => {
  const dir = `${FIXTURES}images/`;
  const pil: Record<string, { shape: number[]; values: number[] }> = JSON.parse(readFileSync(`${dir}expected.json`, 'utf8'));
  const files = readdirSync(dir).filter((f) => !f.endsWith('.json'));
  for (const f of files) {
    it(`${f}: the header shortcut agrees with libvips' own metadata`, async () => {
      const bytes = fixture(`images/${f}`);
      const viaHeader = await decodeImage(bytes);
      // allPages skips the shortcut and asks libvips for the metadata
      const viaMeta = await decodeWithSharp(bytes, f, true);
      expect(viaHeader.channels).toBe(viaMeta.channels);
      expect(viaHeader.data.constructor).toBe(viaMeta.data.constructor);
      expect(sameBytes(viaHeader.data, viaMeta.data)).toBe(true);
    });
  }
  for (const [f, exp] of Object.entries(pil)) {
    it(`${f}: the same pixels as Pillow`, async () => {
      const img = await readImage(`${dir}${f}`);
      expect([img.height, img.width, img.channels]).toEqual([exp.shape[0], exp.shape[1], exp.shape[2] ?? 1]);
      expect(Array.from(img.data)).toEqual(exp.values);
    });
  }
  it('grey JPEG stays grey, CMYK JPEG becomes RGB, transparency in grey and RGB PNGs becomes alpha', async () => {
    expect((await readImage(`${dir}grey.jpg`)).channels).toBe(1);
    expect((await readImage(`${dir}cmyk.jpg`)).channels).toBe(3);
    expect((await readImage(`${dir}grey_trns.png`)).channels).toBe(2);
    expect((await readImage(`${dir}rgb_trns.png`)).channels).toBe(4);
    const bits = await readImage(`${dir}grey_1bit.png`);
    expect(new Set(bits.data)).toEqual(new Set([0, 255]));
  });
});
