// @romi/io: codecs for the files of a plant scan. Readers take a database File, a local path
// (or file: URL) or bytes; writers take a File and set its extension. The encode*/decode*
// functions work on bytes for everything else (S3 objects, HTTP bodies, tests).
export { IoCorruptError, IoNotSupportedError, IoTooLargeError } from './errors.js';
export type { Source, ReadOptions, ArrayReadOptions, WriteOptions } from './source.js';
export { DEFAULT_MAX_BYTES } from './limits.js';
export type { DecodeOptions } from './limits.js';
export { DTYPES, checkNDArray, isDType, ndarray, shapeSize } from './ndarray.js';
export type { DType, NDArray, TypedArray } from './ndarray.js';

export { readImage, writeImage, decodeImage, encodeImage, sniffImage, checkImage } from './image.js';
export type { Image, ImageFormat, ImageEncodeOptions, ImageWriteOptions } from './image.js';

export { readNpy, writeNpy, decodeNpy, encodeNpy } from './npy.js';
export { readNpz, writeNpz, decodeNpz, encodeNpz } from './npz.js';
export type { NpzWriteOptions } from './npz.js';

export {
  readPointCloud,
  writePointCloud,
  readTriangleMesh,
  writeTriangleMesh,
  readPly,
  decodePointCloud,
  encodePointCloud,
  decodeTriangleMesh,
  encodeTriangleMesh,
  DEFAULT_PLY_COMMENT,
} from './geometry.js';
export type { PointCloud, TriangleMesh, PlyWriteOptions } from './geometry.js';
export { decodePly, encodePly, parsePlyHeader } from './ply.js';

// plantdb's webcache: image previews (Pillow's thumbnail, as JPEG) and voxel-downsampled clouds (Open3D's).
export { resizeImage, imageSize, thumbnailSize, WEBCACHE_IMAGE_SIZES, WEBCACHE_PREVIEW_VOXEL_SIZE } from './thumbnail.js';
export type { ResizeOptions, ResizedImage, ImageSize } from './thumbnail.js';
export { voxelDownsample } from './downsample.js';
export type {
  PlyData,
  PlyElement,
  PlyElementData,
  PlyColumn,
  PlyListColumn,
  PlyFormat,
  PlyHeader,
  PlyList,
  PlyProperty,
  PlyType,
} from './ply.js';

export { readVolume, writeVolume, decodeVolume, encodeVolume } from './volume.js';
export type { VolumeWriteOptions } from './volume.js';
export { decodeTiffStack, encodeTiffStack } from './tiff.js';
export type { TiffEncodeOptions } from './tiff.js';

export { readJSON, writeJSON, parseJSON, stringifyJSON, readTOML, writeTOML, parseTOML, stringifyTOML } from './text.js';
export type { JSONWriteOptions } from './text.js';
export { readCSV, writeCSV, parseCSV, stringifyCSV } from './csv.js';
export type { CSVOptions, CSVWriteOptions } from './csv.js';
