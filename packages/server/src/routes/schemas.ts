/** The JSON Schema of scanInfo (scan-info.ts), for validation-free fast serialisation and the OpenAPI document. */

const flag = { type: 'boolean' } as const;
const any = {} as const;

export const scanInfoSchema = {
  type: 'object',
  additionalProperties: true,
  required: ['id', 'metadata', 'thumbnailUri', 'images', 'tasks_fileset', 'filesUri', 'error', 'workspace', 'camera'],
  properties: {
    id: { type: 'string' },
    metadata: {
      type: 'object',
      additionalProperties: true,
      properties: {
        date: { type: 'string' },
        species: any,
        plant: any,
        environment: any,
        nbPhotos: { type: 'integer' },
        files: {
          type: 'object',
          properties: { metadata: { type: ['string', 'null'] }, archive: { type: ['string', 'null'] } },
        },
      },
    },
    thumbnailUri: { type: 'string' },
    images: { type: 'array', items: { type: 'string' } },
    tasks_fileset: { type: 'object', additionalProperties: { type: 'string' } },
    filesUri: { type: 'object', additionalProperties: { type: 'string' } },
    isVirtual: flag,
    hasColmap: flag,
    hasPointCloud: flag,
    hasTriangleMesh: flag,
    hasCurveSkeleton: flag,
    hasTreeGraph: flag,
    hasAnglesAndInternodes: flag,
    hasAutomatedMeasures: flag,
    hasManualMeasures: flag,
    hasSegmentation2D: flag,
    hasPcdGroundTruth: flag,
    hasPointCloudEvaluation: flag,
    hasSegmentedPointCloud: flag,
    hasSegmentedPcdEvaluation: flag,
    error: flag,
    errorMessage: { type: 'string' },
    workspace: any,
    camera: {
      type: 'object',
      additionalProperties: true,
      properties: {
        model: any,
        poses: {
          type: 'array',
          items: {
            type: 'object',
            additionalProperties: true,
            properties: {
              id: { type: 'string' },
              tvec: any,
              rotmat: any,
              photoUri: { type: 'string' },
              thumbnailUri: { type: 'string' },
              isMatched: flag,
            },
          },
        },
      },
    },
  },
} as const;
