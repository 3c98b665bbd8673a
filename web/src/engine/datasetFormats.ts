// Dataset formats labelling and training tools read, for one image: YOLO segmentation (a labels
// .txt and data.yaml), LabelMe JSON and CVAT XML for images. Every object is one or more
// polygons through its boundary pixels' centres (centreOutlines), as sam2web.formats writes them
// in Python; parts of one object share a group id.

import { xmlEscape } from './exporters';

export interface LabelledOutlines {
  label: string;
  /** Flat [x0, y0, x1, y1, ...] polygons, pixel centres on integers. */
  polygons: number[][];
}

/** Class names in first-seen order: YOLO's class ids and CVAT's label list. */
export const classesOf = (objects: LabelledOutlines[]) => [...new Set(objects.map((o) => o.label))];

/** `classes`: the class names by id (default: the objects' labels in first-seen order). */
export function yoloLabels(objects: LabelledOutlines[], width: number, height: number, classes: string[] = classesOf(objects)): string {
  const clamp = (v: number, max: number) => Math.min(Math.max(v, 0), max);
  let text = '';
  for (const o of objects) {
    for (const p of o.polygons) {
      const coords: string[] = [];
      for (let i = 0; i < p.length; i += 2)
        coords.push((clamp(p[i], width) / width).toFixed(6), (clamp(p[i + 1], height) / height).toFixed(6));
      text += `${classes.indexOf(o.label)} ${coords.join(' ')}\n`;
    }
  }
  return text;
}

/** Class names as JSON strings: valid YAML double-quoted scalars whatever a name holds. */
export function dataYaml(classes: string[]): string {
  const names = classes.map((name, i) => `  ${i}: ${JSON.stringify(name)}\n`).join('');
  return (
    '# YOLO segmentation dataset written by sam2web: images/<name>, labels/<stem>.txt\n' +
    `path: .\ntrain: images\nval: images\nnc: ${classes.length}\nnames:\n${names}`
  );
}

export function labelmeDocument(objects: LabelledOutlines[], fileName: string, width: number, height: number) {
  const shapes = objects.flatMap((o, i) =>
    o.polygons.map((p) => ({
      label: o.label,
      points: Array.from({ length: p.length / 2 }, (_, k) => [p[2 * k], p[2 * k + 1]]),
      group_id: i + 1,
      description: '',
      shape_type: 'polygon',
      flags: {},
      mask: null,
    })),
  );
  return { version: '5.5.0', flags: {}, shapes, imagePath: fileName, imageData: null, imageHeight: height, imageWidth: width };
}

export function cvatImagesXml(objects: LabelledOutlines[], fileName: string, width: number, height: number): string {
  const labels = classesOf(objects)
    .map((l) => `        <label>\n          <name>${xmlEscape(l)}</name>\n          <type>polygon</type>\n        </label>\n`)
    .join('');
  const polygons = objects
    .flatMap((o, i) =>
      o.polygons.map((p) => {
        const points = Array.from({ length: p.length / 2 }, (_, k) => `${p[2 * k].toFixed(2)},${p[2 * k + 1].toFixed(2)}`).join(';');
        return `    <polygon label="${xmlEscape(o.label)}" source="semi-auto" occluded="0" points="${points}" z_order="0" group_id="${i + 1}" />\n`;
      }),
    )
    .join('');
  return (
    '<?xml version="1.0" encoding="utf-8"?>\n<annotations>\n  <version>1.1</version>\n  <meta>\n    <task>\n' +
    `      <name>sam2web</name>\n      <size>1</size>\n      <mode>annotation</mode>\n      <labels>\n${labels}      </labels>\n` +
    `    </task>\n  </meta>\n  <image id="0" name="${xmlEscape(fileName)}" width="${width}" height="${height}">\n${polygons}  </image>\n</annotations>\n`
  );
}

/**
 * CVAT for video 1.1 (sam2web.formats.cvat.CvatVideoTracks, byte for byte): one <track> per
 * object (ids in order), on each tracked frame the polygon of its largest part (flat pixel-centre
 * [x0, y0, ...]), `outside="1"` (with the last polygon seen) where it is absent; a track starts
 * on its first shape. `frames`: how many frames were tracked (the task's size).
 */
export function cvatVideoXml(
  shapes: Map<number, Map<number, number[] | null>>,
  frames: number,
  labelOf: (objId: number) => string = (id) => `object ${id}`,
): string {
  const ids = [...shapes.keys()].sort((a, b) => a - b);
  const labels = [...new Set(ids.map(labelOf))]
    .map((l) => `        <label>\n          <name>${xmlEscape(l)}</name>\n          <type>polygon</type>\n        </label>\n`)
    .join('');
  const points = (p: number[]) =>
    Array.from({ length: p.length / 2 }, (_, k) => `${p[2 * k].toFixed(2)},${p[2 * k + 1].toFixed(2)}`).join(';');
  let tracks = '';
  ids.forEach((objId, trackId) => {
    let body = '';
    let last: number[] | null = null;
    for (const frameIdx of [...shapes.get(objId)!.keys()].sort((a, b) => a - b)) {
      const polygon = shapes.get(objId)!.get(frameIdx) ?? null;
      if (polygon === null && last === null) continue; // not yet seen
      const shown: number[] = polygon ?? (last as number[]);
      body += `    <polygon frame="${frameIdx}" keyframe="1" occluded="0" z_order="0" outside="${polygon === null ? 1 : 0}" points="${points(shown)}" />\n`;
      last = shown;
    }
    const open = `  <track id="${trackId}" label="${xmlEscape(labelOf(objId))}" source="semi-auto"`;
    tracks += body ? `${open}>\n${body}  </track>\n` : `${open} />\n`;
  });
  return (
    '<?xml version="1.0" encoding="utf-8"?>\n<annotations>\n  <version>1.1</version>\n  <meta>\n    <task>\n' +
    `      <name>sam2web</name>\n      <size>${frames}</size>\n      <mode>interpolation</mode>\n` +
    (labels ? `      <labels>\n${labels}      </labels>\n` : '      <labels />\n') +
    `    </task>\n  </meta>\n${tracks}</annotations>\n`
  );
}
