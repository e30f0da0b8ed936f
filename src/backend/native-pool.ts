/**
 * Output buffers of the native kernels, recycled. A fresh typed array costs more than the op that fills it (a 2M
 * float multiply: 1.5 ms into a reused buffer, 4.8 ms into a new one: page faults, zeroing, GC), which is why
 * PyTorch keeps a caching allocator. A buffer is recycled only when it provably has no other reader:
 *   - it was allocated here (`take`) and is the whole ArrayBuffer;
 *   - its tensor's last reference was disposed (the backend's disposeData);
 *   - it never escaped: read by the user (readSync/read hand out the array itself on this backend) or passed to a
 *     cpu kernel that might keep a view of it (the cpu Slice returns a subarray) — `escape` forgets it for good.
 */
type Ctor = Float32ArrayConstructor | Int32ArrayConstructor | Uint8ArrayConstructor;
type Arr = Float32Array | Int32Array | Uint8Array;

const owned = new WeakSet<ArrayBuffer>();
const free = new Map<string, Arr[]>();
let pooledBytes = 0;
/** upper bound on idle pooled memory (beyond it buffers are left to the garbage collector) */
export const POOL_MAX_BYTES = 2 * 2 ** 30;
export const poolStats = { taken: 0, reused: 0, returned: 0 };

const key = (C: { readonly name: string }, n: number) => `${C.name}:${n}`;

/** an array of n elements (contents undefined unless `zero`) */
export function take<C extends Ctor>(C: C, n: number, zero = false): InstanceType<C> {
  poolStats.taken++;
  const list = free.get(key(C, n));
  const a = list?.pop() as InstanceType<C> | undefined;
  if (a) {
    pooledBytes -= a.byteLength;
    poolStats.reused++;
    owned.add(a.buffer as ArrayBuffer);
    if (zero) a.fill(0);
    return a;
  }
  const fresh = new C(n) as InstanceType<C>;
  if (n > 0) owned.add(fresh.buffer as ArrayBuffer);
  return fresh;
}

/** never recycle v's buffer (someone else may hold it or a view of it) */
export function escape(v: unknown): void {
  if (ArrayBuffer.isView(v)) owned.delete(v.buffer as ArrayBuffer);
}

/** v's tensor is gone: keep its buffer for the next `take` of the same type and size, if it is ours */
export function give(v: unknown): void {
  if (!(v instanceof Float32Array || v instanceof Int32Array || v instanceof Uint8Array)) return;
  const buf = v.buffer as ArrayBuffer;
  if (
    !owned.has(buf) ||
    v.byteOffset !== 0 ||
    v.byteLength !== buf.byteLength ||
    pooledBytes + v.byteLength > POOL_MAX_BYTES
  )
    return;
  owned.delete(buf); // re-added on the next take, so a double dispose cannot hand it out twice
  const k = key(v.constructor, v.length);
  let list = free.get(k);
  if (!list) free.set(k, (list = []));
  list.push(v);
  pooledBytes += v.byteLength;
  poolStats.returned++;
}
