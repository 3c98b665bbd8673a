// Exports of the current image's masks, made in the worker: a binary mask or a cutout PNG of one
// object, COCO JSON (RLE), SVG outlines or a dataset format (YOLO zip, LabelMe, CVAT) of all.

import { classesOf, cvatImagesXml, dataYaml, labelmeDocument, yoloLabels } from './datasetFormats';
import { EngineError } from './errors';
import { centreOutlines, maskStats, rleCounts, rleToString, svgDocument, tracePolygons } from './exporters';
import { threshold } from './imageOps';
import type { ImageSession } from './imageSession';
import type { Api } from './protocol';
import { zipStore } from './zip';

export async function exportMasks(image: ImageSession, req: Api['export']['request']): Promise<Blob> {
  const { width, height, rgba } = image;
  const { kind, objects, fileName } = req;
  if (!objects.length) throw new EngineError('nothing to export: no object has a mask yet', 'state');
  const bitsOf = (o: (typeof objects)[number]) => threshold(image.logitsFor(o.key, o.lowRes), req.threshold);
  if (kind === 'mask' || kind === 'cutout') {
    const bits = bitsOf(objects[0]);
    const px = new Uint8ClampedArray(width * height * 4);
    for (let i = 0; i < bits.length; i++) {
      const p = i * 4;
      if (kind === 'mask') {
        const v = bits[i] ? 255 : 0;
        px[p] = px[p + 1] = px[p + 2] = v;
        px[p + 3] = 255;
      } else if (bits[i]) {
        px[p] = rgba[p];
        px[p + 1] = rgba[p + 1];
        px[p + 2] = rgba[p + 2];
        px[p + 3] = 255;
      }
    }
    const canvas = new OffscreenCanvas(width, height);
    canvas.getContext('2d')?.putImageData(new ImageData(px, width, height), 0, 0);
    return canvas.convertToBlob({ type: 'image/png' });
  }
  if (kind === 'coco') {
    const annotations = objects.map((o, i) => {
      const bits = bitsOf(o);
      const { area, bbox } = maskStats(bits, width, height);
      return {
        id: i + 1,
        image_id: 1,
        category_id: 1,
        iscrowd: 0,
        area,
        bbox,
        score: o.score,
        segmentation: { size: [height, width], counts: rleToString(rleCounts(bits, width, height)) },
        sam2web_name: o.name,
      };
    });
    const doc = {
      info: { description: 'sam2web masks', date_created: new Date().toISOString() },
      images: [{ id: 1, file_name: fileName, width, height }],
      categories: [{ id: 1, name: 'object' }],
      annotations,
    };
    return new Blob([JSON.stringify(doc)], { type: 'application/json' });
  }
  if (kind === 'svg') {
    const svg = svgDocument(
      width,
      height,
      objects.map((o) => ({ name: o.name, color: o.color, polygons: tracePolygons(bitsOf(o), width, height) })),
    );
    return new Blob([svg], { type: 'image/svg+xml' });
  }
  if (kind === 'yolo' || kind === 'labelme' || kind === 'cvat') {
    const outlined = objects.map((o) => ({ label: o.name, polygons: centreOutlines(bitsOf(o), width, height) }));
    if (kind === 'labelme') {
      const doc = labelmeDocument(outlined, fileName, width, height);
      return new Blob([JSON.stringify(doc, null, 2)], { type: 'application/json' });
    }
    if (kind === 'cvat') return new Blob([cvatImagesXml(outlined, fileName, width, height)], { type: 'application/xml' });
    const enc = new TextEncoder();
    const stem = fileName.replace(/^.*[\\/]/, '').replace(/\.[^.]+$/, '') || 'image';
    return zipStore([
      { name: 'data.yaml', data: enc.encode(dataYaml(classesOf(outlined))) },
      { name: `labels/${stem}.txt`, data: enc.encode(yoloLabels(outlined, width, height)) },
    ]);
  }
  throw new EngineError(`unknown export ${String(kind)}`, 'state');
}
