/**
 * Zip extraction with fflate plus the checks fflate leaves out: the central directory is read here to get every
 * entry's CRC-32 and size, each extracted file is checked against them (a corrupt archive fails instead of
 * producing wrong data), and entry names that would escape the target directory are refused.
 * Entries are inflated one at a time so that memory holds the archive plus one file.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, normalize, sep } from 'node:path';
import { crc32 } from 'node:zlib';
import { unzipSync } from 'fflate';

export class ZipError extends Error {
  constructor(archive: string, msg: string) {
    super(`${archive}: ${msg}`);
    this.name = 'ZipError';
  }
}

export interface ZipEntry {
  name: string;
  crc: number;
  size: number;
  compressedSize: number;
}

/** Entries of the central directory (no ZIP64: archives up to 4 GiB, as the GLUE zips). */
export function listZip(buf: Uint8Array, archive = 'zip'): ZipEntry[] {
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  let eocd = -1;
  for (let i = buf.length - 22; i >= Math.max(0, buf.length - 22 - 65535); i--) {
    if (dv.getUint32(i, true) === 0x06054b50) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) throw new ZipError(archive, 'no end-of-central-directory record (truncated or not a zip file)');
  const count = dv.getUint16(eocd + 10, true);
  const cdSize = dv.getUint32(eocd + 12, true);
  let p = dv.getUint32(eocd + 16, true);
  if (p + cdSize > eocd) throw new ZipError(archive, 'central directory lies outside the file (truncated or corrupt)');
  const entries: ZipEntry[] = [];
  const dec = new TextDecoder();
  for (let k = 0; k < count; k++) {
    if (p + 46 > eocd || dv.getUint32(p, true) !== 0x02014b50)
      throw new ZipError(archive, `central directory entry ${k} is corrupt`);
    const nameLen = dv.getUint16(p + 28, true),
      extraLen = dv.getUint16(p + 30, true),
      commentLen = dv.getUint16(p + 32, true);
    entries.push({
      name: dec.decode(buf.subarray(p + 46, p + 46 + nameLen)),
      crc: dv.getUint32(p + 16, true) >>> 0,
      compressedSize: dv.getUint32(p + 20, true),
      size: dv.getUint32(p + 24, true),
    });
    p += 46 + nameLen + extraLen + commentLen;
  }
  return entries;
}

/** Extract every file entry of `buf` under `destDir`; returns the relative paths written. */
export function extractZip(buf: Uint8Array, destDir: string, archive = 'zip'): string[] {
  const entries = listZip(buf, archive);
  const written: string[] = [];
  for (const e of entries) {
    if (e.name.endsWith('/')) continue;
    const rel = normalize(e.name);
    if (rel.startsWith('..') || rel.startsWith(sep) || /^[a-zA-Z]:/.test(rel))
      throw new ZipError(archive, `entry "${e.name}" would be written outside the target directory`);
    let data: Uint8Array | undefined;
    try {
      data = unzipSync(buf, { filter: (f) => f.name === e.name })[e.name];
    } catch (err) {
      throw new ZipError(archive, `cannot inflate "${e.name}": ${(err as Error).message}`);
    }
    if (!data) throw new ZipError(archive, `entry "${e.name}" listed in the central directory but not found`);
    if (data.length !== e.size)
      throw new ZipError(archive, `"${e.name}" inflated to ${data.length} bytes, expected ${e.size}`);
    if (crc32(data) >>> 0 !== e.crc)
      throw new ZipError(archive, `"${e.name}" fails its CRC-32 check (corrupt archive)`);
    const out = join(destDir, rel);
    mkdirSync(dirname(out), { recursive: true });
    writeFileSync(out, data);
    written.push(rel);
  }
  return written;
}
