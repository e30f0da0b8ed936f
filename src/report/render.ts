/**
 * Headless plot rendering: vega-lite spec -> SVG (vega 6, renderer 'none') -> PNG (@resvg/resvg-js).
 *
 * Text in the PNG needs a real font file: resvg with system fonts off drops all text silently, so the font is
 * loaded explicitly and rendering FAILS when no font file is found (install with `.ci/install-system.sh`,
 * Debian package fonts-dejavu-core). Override the search with env KDQAT_FONT=/path/to/font.ttf.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import * as vega from 'vega';
import * as vl from 'vega-lite';
import { Resvg } from '@resvg/resvg-js';
import { atomicWrite } from '../util/fsx.js';

/** A vega-lite spec as a plain object (the builders in charts-lines/-dist/-points.ts return these). */
export type VlSpec = Record<string, unknown>;

export const FONT_FAMILY = 'DejaVu Sans';
const FONT_DIRS = ['/usr/share/fonts/truetype/dejavu', '/usr/share/fonts/dejavu', '/usr/local/share/fonts/dejavu'];
const FONT_NAMES = ['DejaVuSans.ttf', 'DejaVuSans-Bold.ttf'];

/** Default plot size in CSS px (per facet panel / plot area) and PNG zoom factor. */
export const DEFAULT_WIDTH = 480;
export const DEFAULT_HEIGHT = 300;
export const DEFAULT_SCALE = 2;

/** Font files for resvg: $KDQAT_FONT if set, else DejaVu Sans (+ Bold) from the Debian dirs. Throws if none. */
export function findFontFiles(): string[] {
  const env = process.env.KDQAT_FONT;
  if (env) {
    if (!existsSync(env)) throw new Error(`render: KDQAT_FONT=${env} does not exist`);
    return [env];
  }
  for (const dir of FONT_DIRS) {
    const files = FONT_NAMES.map((n) => `${dir}/${n}`).filter((p) => existsSync(p));
    if (files.length > 0 && files[0].endsWith('DejaVuSans.ttf')) return files;
  }
  throw new Error(
    `render: no font file found (looked for ${FONT_NAMES[0]} in ${FONT_DIRS.join(', ')}); PNG text would be ` +
      `silently dropped. Install Debian package fonts-dejavu-core (run .ci/install-system.sh) or set KDQAT_FONT.`,
  );
}

/** Fill in defaults (width/height, font, white background) without overriding what the spec sets. */
function withDefaults(spec: VlSpec): VlSpec {
  const out: VlSpec = { ...spec };
  const composite = ['facet', 'hconcat', 'vconcat', 'concat', 'repeat'].some((k) => k in out);
  if (!composite) {
    if (out.width === undefined) out.width = DEFAULT_WIDTH;
    if (out.height === undefined) out.height = DEFAULT_HEIGHT;
  }
  if (out.background === undefined) out.background = 'white';
  const cfg = { ...((out.config as Record<string, unknown>) ?? {}) };
  if (cfg.font === undefined) cfg.font = FONT_FAMILY;
  if (!composite && cfg.view === undefined)
    cfg.view = { continuousWidth: DEFAULT_WIDTH, continuousHeight: DEFAULT_HEIGHT };
  out.config = cfg;
  return out;
}

/** Compile a vega-lite spec and render it to an SVG string (headless, no canvas). */
export async function specToSvg(spec: VlSpec): Promise<string> {
  let compiled: ReturnType<typeof vl.compile>['spec'];
  try {
    compiled = vl.compile(withDefaults(spec) as unknown as vl.TopLevelSpec).spec;
  } catch (e) {
    throw new Error(`render: vega-lite could not compile spec "${specTitle(spec)}": ${(e as Error).message}`);
  }
  const view = new vega.View(vega.parse(compiled), { renderer: 'none', logLevel: vega.Warn });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

/** Rasterise an SVG string to PNG bytes at `scale`x zoom with explicitly loaded fonts. */
export function svgToPng(svg: string, scale = DEFAULT_SCALE): Uint8Array {
  const fontFiles = findFontFiles();
  const r = new Resvg(svg, {
    fitTo: { mode: 'zoom', value: scale },
    background: 'white',
    font: {
      loadSystemFonts: false,
      fontFiles,
      defaultFontFamily: FONT_FAMILY,
      sansSerifFamily: FONT_FAMILY,
      serifFamily: FONT_FAMILY,
      monospaceFamily: FONT_FAMILY,
    },
  });
  return r.render().asPng();
}

/** Render a spec to `<outBase>.svg` and `<outBase>.png` (atomic writes). Returns the written paths. */
export async function renderPlot(
  spec: VlSpec,
  outBase: string,
  opts: { scale?: number } = {},
): Promise<{ svg: string; png: string; svgText: string }> {
  const svgText = await specToSvg(spec);
  const png = svgToPng(svgText, opts.scale ?? DEFAULT_SCALE);
  const svgPath = `${outBase}.svg`;
  const pngPath = `${outBase}.png`;
  atomicWrite(svgPath, svgText);
  atomicWrite(pngPath, png);
  return { svg: svgPath, png: pngPath, svgText };
}

function specTitle(spec: VlSpec): string {
  const t = spec.title;
  if (typeof t === 'string') return t;
  if (t && typeof t === 'object' && 'text' in t) return String((t as { text: unknown }).text);
  return '(untitled)';
}

/** Render every spec into `<dir>/<name>.{svg,png}`; returns name -> SVG text. */
export async function renderAll(specs: Record<string, VlSpec>, dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const [name, spec] of Object.entries(specs)) out[name] = (await renderPlot(spec, join(dir, name))).svgText;
  return out;
}
